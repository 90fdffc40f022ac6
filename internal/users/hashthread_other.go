//go:build !linux

package users

// LowPriorityHashing reports whether hashing workers run on threads of
// lowered priority: not on this system (there is no per-thread nice
// value to set), so workers are plain goroutines and serve leaves
// GOMAXPROCS alone.
const LowPriorityHashing = false

// pinHashThread does nothing here: without a lower priority, locking the
// thread would only cost a thread handoff per job.
func pinHashThread() error { return nil }
