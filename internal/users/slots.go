package users

import (
	"container/list"
	"context"
	"sync"
)

// hashSlots bounds the password hashes computed at once, and gives a
// freed slot to a waiting login before any other waiter (registration, a
// password change): a registration flood queues behind logins and cannot
// make a legitimate login wait for more than the hashes already running.
type hashSlots struct {
	mu      sync.Mutex
	free    int
	waiting [2]list.List // of chan struct{}, by priority
}

// Priorities of a hashing slot request.
const (
	prioLogin = 0 // password checks at login, and the rehash after one
	prioOther = 1 // registrations, password changes
)

func newHashSlots(n int) *hashSlots { return &hashSlots{free: n} }

// acquire takes a slot, waiting until ctx ends. A login takes a free slot
// at once; anything else only if no login is waiting.
func (h *hashSlots) acquire(ctx context.Context, prio int) error {
	h.mu.Lock()
	if h.free > 0 && (prio == prioLogin || h.waiting[prioLogin].Len() == 0) {
		h.free--
		h.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	e := h.waiting[prio].PushBack(ch)
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	select {
	case <-ch:
		// Handed a slot just as ctx ended: pass it on.
		h.mu.Unlock()
		h.release()
	default:
		h.waiting[prio].Remove(e)
		h.mu.Unlock()
	}
	return ctx.Err()
}

// tryAcquire takes a slot only if one is free for prio now.
func (h *hashSlots) tryAcquire(prio int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.free > 0 && (prio == prioLogin || h.waiting[prioLogin].Len() == 0) {
		h.free--
		return true
	}
	return false
}

// release frees a slot: to the first waiting login, else the first other
// waiter, else the pool.
func (h *hashSlots) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.waiting {
		if e := h.waiting[p].Front(); e != nil {
			h.waiting[p].Remove(e)
			close(e.Value.(chan struct{}))
			return
		}
	}
	h.free++
}
