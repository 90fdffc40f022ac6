package users

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/idp/idp/internal/users/argon2"
)

// newTestPool is a pool of size workers with no thread pinning.
func newTestPool(size int) *hashPool {
	p := newHashPool(size, 64, slog.New(slog.DiscardHandler))
	p.pin = nil
	return p
}

// holdWorkers occupies n workers of p with jobs that run until the
// returned function is called; it returns once all n are running.
func holdWorkers(t *testing.T, p *hashPool, n int) (release func()) {
	t.Helper()
	unblock := make(chan struct{})
	for range n {
		running := make(chan struct{})
		p.submit(prioLogin, func(*argon2.Memory) { close(running); <-unblock })
		select {
		case <-running:
		case <-time.After(10 * time.Second):
			t.Fatal("a holding job never started")
		}
	}
	released := false
	release = func() {
		if !released {
			released = true
			close(unblock)
		}
	}
	t.Cleanup(release)
	return release
}

// waitJob waits for j without bound (the test's deadline is the bound).
func waitJob(t *testing.T, p *hashPool, j *hashJob) error {
	t.Helper()
	_, err := p.wait(t.Context(), j, 0)
	return err
}

func TestHashPool(t *testing.T) {
	// With the only worker busy and registrations queued, the login queued
	// after them runs first; the rest in arrival order; a job whose
	// context ends while queued leaves the queue without running.
	t.Run("logins-first", func(t *testing.T) {
		p := newTestPool(1)
		release := holdWorkers(t, p, 1)
		var order []string // written by the one worker, read after done
		job := func(name string) func(*argon2.Memory) { return func(*argon2.Memory) { order = append(order, name) } }
		reg1 := p.submit(prioOther, job("register-1"))
		reg2 := p.submit(prioOther, job("register-2"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := p.do(ctx, prioOther, 0, job("register-cancelled")); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled job: err %v, want context.Canceled", err)
		}
		login := p.submit(prioLogin, job("login"))
		if got := p.queued(); got != 3 {
			t.Fatalf("queued = %d, want 3 (the cancelled job left)", got)
		}
		release()
		for _, j := range []*hashJob{login, reg1, reg2} {
			if err := waitJob(t, p, j); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"login", "register-1", "register-2"}
		if len(order) != len(want) || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
			t.Fatalf("order %v, want %v", order, want)
		}
		if p.started != 1 {
			t.Errorf("%d workers started, want 1", p.started)
		}
	})

	// No worker free within maxWait: errPoolBusy, the job never runs and
	// leaves the queue.
	t.Run("busy", func(t *testing.T) {
		p := newTestPool(1)
		release := holdWorkers(t, p, 1)
		ran := false
		if _, err := p.do(t.Context(), prioLogin, time.Nanosecond, func(*argon2.Memory) { ran = true }); !errors.Is(err, errPoolBusy) {
			t.Fatalf("err %v, want errPoolBusy", err)
		}
		if p.queued() != 0 {
			t.Fatal("the busy job stayed queued")
		}
		release()
		if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) {}); err != nil {
			t.Fatal(err)
		}
		if ran {
			t.Fatal("the busy job ran")
		}
	})

	// A job a worker took is waited for even if the context ends while it
	// runs: the caller gets its result.
	t.Run("started-job-outlives-context", func(t *testing.T) {
		p := newTestPool(1)
		ctx, cancel := context.WithCancel(t.Context())
		finished := false
		_, err := p.do(ctx, prioLogin, 0, func(*argon2.Memory) { cancel(); finished = true })
		if err != nil || !finished {
			t.Fatalf("err %v, finished %v: want the job's end", err, finished)
		}
	})

	// At most size workers run; the rest queue.
	t.Run("bounded", func(t *testing.T) {
		p := newTestPool(2)
		release := holdWorkers(t, p, 2)
		j := p.submit(prioLogin, func(*argon2.Memory) {})
		p.mu.Lock()
		workers := p.workers
		p.mu.Unlock()
		if workers != 2 || p.queued() != 1 {
			t.Fatalf("%d workers, %d queued; want 2 and 1", workers, p.queued())
		}
		release()
		if err := waitJob(t, p, j); err != nil {
			t.Fatal(err)
		}
	})

	// A panicking hash is its caller's error; the worker survives it and
	// runs the next job, and no slot is lost.
	t.Run("panic", func(t *testing.T) {
		p := newTestPool(1)
		if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) { panic("boom") }); !errors.Is(err, errHashPanicked) {
			t.Fatalf("err %v, want errHashPanicked", err)
		}
		ran := false
		if _, err := p.do(t.Context(), prioLogin, time.Minute, func(*argon2.Memory) { ran = true }); err != nil || !ran {
			t.Fatalf("after a panic: err %v, ran %v", err, ran)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.started != 1 || p.workers != 1 {
			t.Fatalf("started %d, running %d workers; want the one worker to survive", p.started, p.workers)
		}
	})

	// A worker hashes in the same memory every time; two workers at once
	// in two.
	t.Run("memory-per-worker", func(t *testing.T) {
		p := newTestPool(2)
		var first, again *argon2.Memory
		if _, err := p.do(t.Context(), prioLogin, 0, func(m *argon2.Memory) { first = m }); err != nil {
			t.Fatal(err)
		}
		if _, err := p.do(t.Context(), prioLogin, 0, func(m *argon2.Memory) { again = m }); err != nil {
			t.Fatal(err)
		}
		if first == nil || first != again || p.started != 1 {
			t.Fatalf("memories %p, %p from %d workers: want one, reused", first, again, p.started)
		}
		unblock := make(chan struct{})
		mems := make(chan *argon2.Memory, 2)
		for range 2 {
			p.submit(prioLogin, func(m *argon2.Memory) { mems <- m; <-unblock })
		}
		a, b := <-mems, <-mems
		close(unblock)
		if a == b {
			t.Fatal("two concurrent hashes shared a memory")
		}
	})

	// A worker that fails to lower its priority still hashes.
	t.Run("pin-fails", func(t *testing.T) {
		p := newTestPool(1)
		p.pin = func() error { return errors.New("not permitted") }
		ran := false
		if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) { ran = true }); err != nil || !ran {
			t.Fatalf("err %v, ran %v", err, ran)
		}
	})

	// An idle worker ends; the next job starts a new one.
	t.Run("idle-workers-end", func(t *testing.T) {
		p := newTestPool(1)
		p.idleTimeout = time.Nanosecond
		if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) {}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
			p.mu.Lock()
			n := p.workers
			p.mu.Unlock()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the idle worker never ended")
			}
		}
		if _, err := p.do(t.Context(), prioLogin, 0, func(*argon2.Memory) {}); err != nil {
			t.Fatal(err)
		}
		if p.started != 2 {
			t.Fatalf("started %d workers, want 2", p.started)
		}
	})
}

// TestServiceHashBusy: with every worker busy past MaxHashWait a login is
// ErrBusy; a context that ends first gives its own error.
func TestServiceHashBusy(t *testing.T) {
	s, _ := newTestService(t, nil, func(o *Options) { o.MaxConcurrentHashes = 1; o.MaxHashWait = time.Nanosecond })
	s.hashing.pin = nil
	holdWorkers(t, s.hashing, 1)
	if _, err := s.Authenticate(t.Context(), "nobody@example.com", "s3cret-pass"); !errors.Is(err, ErrBusy) {
		t.Fatalf("err %v, want ErrBusy", err)
	}
	if _, err := s.Register(t.Context(), alice()); !errors.Is(err, ErrBusy) {
		t.Fatalf("register: err %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s.hashWait = time.Hour
	if _, err := s.Authenticate(ctx, "nobody@example.com", "s3cret-pass"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
