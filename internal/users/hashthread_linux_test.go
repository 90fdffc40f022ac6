package users

import (
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/internal/users/argon2"
)

// threadNice is the nice value of the calling thread.
func threadNice() (int, error) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - raw, err
}

// TestHashThreadNice: a hash runs on a thread hashThreadNice below the
// process's priority, and the process's other threads keep theirs.
func TestHashThreadNice(t *testing.T) {
	p := newHashPool(1, 64, slog.New(slog.DiscardHandler))
	p.idleTimeout = time.Nanosecond // its thread ends soon after the test
	before, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	var inHash int
	var inHashErr error
	if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) { inHash, inHashErr = threadNice() }); err != nil || inHashErr != nil {
		t.Fatal(err, inHashErr)
	}
	if want := min(before+hashThreadNice, 19); inHash != want {
		t.Errorf("hashing thread nice %d, want %d", inHash, want)
	}
	if after, _ := threadNice(); after != before {
		t.Errorf("a request thread's nice went %d → %d", before, after)
	}
}
