package users

import (
	"context"
	"testing"
	"time"
)

// TestHashSlotsLoginsFirst (item 3): with every slot taken and
// registrations already waiting, a freed slot goes to a login that arrived
// later; a waiter whose context ends leaves the queue; every slot returns.
func TestHashSlotsLoginsFirst(t *testing.T) {
	h := newHashSlots(1)
	ctx := context.Background()
	if err := h.acquire(ctx, prioOther); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 4)
	waitQueued := func(prio, n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			h.mu.Lock()
			l := h.waiting[prio].Len()
			h.mu.Unlock()
			if l == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %d never reached %d", prio, n)
			}
			time.Sleep(time.Millisecond) // polling a queue length, not ordering
		}
	}
	for _, name := range []string{"register-1", "register-2"} {
		go func() {
			if err := h.acquire(ctx, prioOther); err == nil {
				order <- name
			}
		}()
	}
	waitQueued(prioOther, 2)
	if h.tryAcquire(prioLogin) {
		t.Fatal("a slot was free")
	}
	go func() {
		if err := h.acquire(ctx, prioLogin); err == nil {
			order <- "login"
		}
	}()
	waitQueued(prioLogin, 1)
	// A cancelled registration leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- h.acquire(cctx, prioOther) }()
	waitQueued(prioOther, 3)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled acquire succeeded")
	}
	h.release()
	if got := <-order; got != "login" {
		t.Fatalf("first served %q, want the login", got)
	}
	h.release()
	h.release()
	<-order
	<-order
	h.release()
	if h.free != 1 {
		t.Fatalf("free = %d after all released, want 1", h.free)
	}
}
