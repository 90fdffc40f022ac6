package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Refused attempts are aggregated: a flood of attempts against a block
// writes one audit event (login.throttled, with the count) and one log
// line per block and instance, instead of one per attempt, so refused
// requests cannot fill the disk. The request log keeps its line per
// request. An entry is written when its block has ended (FlushRefusals,
// run by the server every few seconds and at shutdown), or at once when
// the table of open entries is full.

// maxOpenRefusals bounds the blocks tracked at once per instance.
const maxOpenRefusals = 10000

type refusalKey struct {
	key   string    // the blocking throttle key
	until time.Time // the block's end: a new block is a new entry
}

type refusal struct {
	first Attempt
	at    time.Time // first refusal
	count int64
}

type refusals struct {
	mu   sync.Mutex
	open map[refusalKey]*refusal
}

func newRefusals() *refusals { return &refusals{open: map[refusalKey]*refusal{}} }

func (r *refusals) add(ctx context.Context, g *Guard, a Attempt, key string, now time.Time, wait time.Duration) {
	k := refusalKey{key: key, until: now.Add(wait).Truncate(time.Second)}
	r.mu.Lock()
	if e := r.open[k]; e != nil {
		e.count++
		r.mu.Unlock()
		return
	}
	var evicted []refusalEntry
	if len(r.open) >= maxOpenRefusals {
		evicted = r.takeLocked(func(refusalKey) bool { return true })
	}
	r.open[k] = &refusal{first: a, at: now, count: 1}
	r.mu.Unlock()
	g.writeRefusals(ctx, evicted)
}

type refusalEntry struct {
	refusalKey
	*refusal
}

// takeLocked removes and returns the entries that match.
func (r *refusals) takeLocked(match func(refusalKey) bool) []refusalEntry {
	var out []refusalEntry
	for k, e := range r.open {
		if match(k) {
			out = append(out, refusalEntry{k, e})
			delete(r.open, k)
		}
	}
	return out
}

// FlushRefusals writes the aggregated refusals of blocks that have ended
// (all of them if final, at shutdown).
func (g *Guard) FlushRefusals(ctx context.Context, final bool) {
	now := g.now()
	g.refused.mu.Lock()
	done := g.refused.takeLocked(func(k refusalKey) bool { return final || !k.until.After(now) })
	g.refused.mu.Unlock()
	g.writeRefusals(ctx, done)
}

// RunRefusals flushes every interval until ctx ends, then once more.
func (g *Guard) RunRefusals(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.FlushRefusals(context.WithoutCancel(ctx), true)
			return
		case <-t.C:
			g.FlushRefusals(ctx, false)
		}
	}
}

func (g *Guard) writeRefusals(ctx context.Context, entries []refusalEntry) {
	for _, e := range entries {
		noun := "attempts"
		if e.count == 1 {
			noun = "attempt"
		}
		g.recordAt(ctx, e.first, e.at, "login.throttled", 0, fmt.Sprintf("%d %s refused while the %s was blocked (until %s)",
			e.count, noun, scope(e.key), e.until.UTC().Format(time.RFC3339)))
	}
}
