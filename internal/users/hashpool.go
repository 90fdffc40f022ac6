package users

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/idp/idp/internal/users/argon2"
)

// hashPool runs password hashes on at most size worker goroutines, each
// locked to its own OS thread for its whole life and, on Linux, lowered in
// scheduling priority (hashThreadNice): with GOMAXPROCS raised by the
// number of workers at serve start, request goroutines always find a P, and
// the kernel gives the cores to them before the hashing threads, which
// soak up the CPU left idle (nice 0 against nice 10 is about 10:1 in CFS
// weight). Jobs wait in a queue by priority: a freed worker takes a login
// before any registration or password change, so a registration flood
// cannot make a legitimate login wait for more than the hashes already
// running.
//
// Each worker hashes in its own argon2 memory (argon2.Memory, up to
// retainKiB: the configured hash's), allocated at its first job and kept
// until it ends, so the hashes' memory is exactly workers × retainKiB
// instead of a fresh array per hash for the garbage collector.
//
// Workers start when jobs arrive and end after idleTimeout without one
// (their thread ends with them: a locked goroutine that returns takes its
// thread down, so a niced thread never runs other goroutines), so a
// Service needs no Close and an idle process keeps no extra threads.
type hashPool struct {
	size        int
	retainKiB   uint32
	idleTimeout time.Duration
	log         *slog.Logger
	// pin prepares a new worker's thread; nil in tests that do not care.
	pin func() error

	mu      sync.Mutex
	queue   [2]list.List // of *hashJob, by priority
	idle    []chan struct{}
	workers int // running, busy or idle
	started int // workers ever started (tests)
}

// Priorities of a hash job.
const (
	prioLogin = 0 // password checks at login, and the rehash after one
	prioOther = 1 // registrations, password changes
)

// hashWorkerIdle is how long an idle hashing worker waits for a job before
// it (and its thread) ends.
const hashWorkerIdle = time.Minute

var (
	// errPoolBusy: no worker took the job within the wait.
	errPoolBusy = errors.New("users: no hashing worker free in time")
	// errHashPanicked: the job panicked (on the worker, which survives).
	errHashPanicked = errors.New("users: password hash panicked")
)

// hashJob is one hash or verification. fn runs on a worker, in its
// argon2 memory.
type hashJob struct {
	fn   func(*argon2.Memory)
	prio int
	// elem is the job's place in the queue; nil once a worker took it
	// or its submitter gave up. Guarded by the pool's mu.
	elem     *list.Element
	queuedAt time.Time
	// waited and err are written by the worker before done is closed.
	waited time.Duration
	err    error
	done   chan struct{}
}

func newHashPool(size int, retainKiB uint32, log *slog.Logger) *hashPool {
	return &hashPool{size: size, retainKiB: retainKiB, idleTimeout: hashWorkerIdle, log: log, pin: pinHashThread}
}

// do runs fn on a worker at prio and returns how long it waited for one.
// It gives up, fn not run, when ctx ends (ctx.Err()) or no worker took the
// job within maxWait (errPoolBusy; maxWait ≤ 0: no bound). Once a worker
// took it, do waits for fn to finish whatever ctx does: a hash is bounded
// work, and its caller gets its result. A panic in fn is returned as
// errHashPanicked; the worker goes on.
func (p *hashPool) do(ctx context.Context, prio int, maxWait time.Duration, fn func(*argon2.Memory)) (time.Duration, error) {
	return p.wait(ctx, p.submit(prio, fn), maxWait)
}

// submit queues fn at prio and wakes or starts a worker for it.
func (p *hashPool) submit(prio int, fn func(*argon2.Memory)) *hashJob {
	j := &hashJob{fn: fn, prio: prio, queuedAt: time.Now(), done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	j.elem = p.queue[prio].PushBack(j)
	if n := len(p.idle); n > 0 {
		wake := p.idle[n-1]
		p.idle = p.idle[:n-1]
		wake <- struct{}{} // buffered, and only sent to while listed idle
	} else if p.workers < p.size {
		p.workers++
		p.started++
		go p.work()
	}
	return j
}

// wait waits for j as do describes.
func (p *hashPool) wait(ctx context.Context, j *hashJob, maxWait time.Duration) (time.Duration, error) {
	var busy <-chan time.Time
	if maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		busy = t.C
	}
	var err error
	select {
	case <-j.done:
		return j.waited, j.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-busy:
		err = errPoolBusy
	}
	p.mu.Lock()
	if j.elem != nil {
		p.queue[j.prio].Remove(j.elem)
		j.elem = nil
		p.mu.Unlock()
		return time.Since(j.queuedAt), err
	}
	p.mu.Unlock()
	// A worker took it just as the wait ended: it runs to its end.
	<-j.done
	return j.waited, j.err
}

// queued is how many jobs wait for a worker.
func (p *hashPool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queue[prioLogin].Len() + p.queue[prioOther].Len()
}

// work is one worker: it takes jobs, logins first, until none comes for
// idleTimeout.
func (p *hashPool) work() {
	if p.pin != nil {
		if err := p.pin(); err != nil {
			p.log.Warn("password hashing thread keeps its priority", "err", err)
		}
	}
	mem := argon2.NewMemory(p.retainKiB)
	wake := make(chan struct{}, 1)
	idle := time.NewTimer(p.idleTimeout)
	idle.Stop()
	for {
		p.mu.Lock()
		j := p.next()
		if j == nil {
			p.idle = append(p.idle, wake)
			p.mu.Unlock()
			idle.Reset(p.idleTimeout)
			select {
			case <-wake:
				idle.Stop()
				continue
			case <-idle.C:
			}
			p.mu.Lock()
			if p.unlistIdle(wake) {
				p.workers--
				p.mu.Unlock()
				return
			}
			// Woken just as the timer fired: the token is in wake.
			p.mu.Unlock()
			<-wake
			continue
		}
		p.mu.Unlock()
		p.run(j, mem)
	}
}

// next takes the first job of the highest priority waiting, with mu held.
func (p *hashPool) next() *hashJob {
	for prio := range p.queue {
		if e := p.queue[prio].Front(); e != nil {
			j := p.queue[prio].Remove(e).(*hashJob)
			j.elem = nil
			j.waited = time.Since(j.queuedAt)
			return j
		}
	}
	return nil
}

// unlistIdle removes wake from the idle workers, with mu held, reporting
// whether it was there (not already handed a job).
func (p *hashPool) unlistIdle(wake chan struct{}) bool {
	for i, w := range p.idle {
		if w == wake {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return true
		}
	}
	return false
}

// run runs j's function, turning a panic into j's error: the worker and
// its slot survive it, and the submitter is answered.
func (p *hashPool) run(j *hashJob, mem *argon2.Memory) {
	defer close(j.done)
	defer func() {
		if v := recover(); v != nil {
			j.err = fmt.Errorf("%w: %v", errHashPanicked, v)
			p.log.Error("password hash panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	j.fn(mem)
}
