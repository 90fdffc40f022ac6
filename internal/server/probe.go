package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/idp/idp/internal/storage"
)

// writeProbe makes /readyz reflect write failures (an SQLite file turned
// read-only, a full disk, a Postgres standby) that Ping cannot see: at most
// every probeEvery it writes one row, and readiness follows the last
// result, so a failure (and a recovery) shows within probeEvery plus the
// probing interval of the orchestrator (10 s with the default 5 s).
type writeProbe struct {
	mu     sync.Mutex
	at     time.Time
	err    error
	failed bool
}

const probeEvery = 5 * time.Second

// probeKey is a login-throttle row that blocks nothing: no attempt's key
// starts with "h:". Its block, an hour ahead, keeps it from the cleanup
// between probes; it is the same row for every instance.
const probeKey = "h:write-probe"

func (p *writeProbe) check(ctx context.Context, now time.Time, log *slog.Logger, store storage.Store) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && now.Sub(p.at) < probeEvery && now.After(p.at.Add(-time.Second)) {
		return p.err
	}
	p.at = now
	err := store.BlockThrottle(ctx, probeKey, now.Add(time.Hour))
	if err != nil {
		p.err = fmt.Errorf("database writes fail: %w", err)
		if !p.failed {
			log.Error("readiness: database writes fail", "err", err)
		}
		p.failed = true
		return p.err
	}
	if p.failed {
		log.Info("readiness: database writes work again")
	}
	p.err, p.failed = nil, false
	return nil
}
