package users

import (
	"fmt"
	"runtime"
	"syscall"
)

// hashThreadNice is how much lower than the process's own a hashing
// thread's scheduling priority is: nice +10 weighs about a tenth of nice 0
// in CFS, so request threads get the cores first during a login flood.
const hashThreadNice = 10

// LowPriorityHashing reports whether hashing workers run on threads of
// lowered priority (Linux only). Serve raises GOMAXPROCS by the workers
// only then.
const LowPriorityHashing = true

// pinHashThread locks the calling goroutine to its thread, for good (it
// never unlocks: the thread ends with the goroutine and never runs another
// at the lowered priority), and lowers that thread's priority. A thread's
// nice value is its own on Linux (setpriority on a thread id); new
// runtime threads are not cloned from a locked thread, so they keep the
// process's.
func pinHashThread() error {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	// The raw syscall answers 20 - nice.
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("getpriority: %w", err)
	}
	nice := min(20-raw+hashThreadNice, 19)
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
		return fmt.Errorf("setpriority %d: %w", nice, err)
	}
	return nil
}
