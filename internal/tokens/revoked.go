package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/idp/idp/internal/storage"
)

// RevokedSessions is the session check of idp's own endpoints: an access
// token is refused there once its session (refresh family) is revoked —
// by logout, session deletion, logout-all, reuse or forgery detection, a
// password change or deactivation, on this instance, another one or the
// CLI.
//
// It is a set of the sessions revoked within the last access-token
// lifetime (older revocations cannot have live access tokens: none is
// minted for a revoked session), so it stays small. Revocations made
// through Families are added at once; the others are read from the store
// every poll interval (Run), so a revocation anywhere takes effect
// everywhere within one interval. If the set has not been refreshed for
// Stale (the store unreachable), the check reads the session's row
// instead: it never answers from a set older than that.
type RevokedSessions struct {
	store    storage.Revocations
	families storage.Families
	poll     time.Duration
	horizon  time.Duration
	stale    time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu       sync.RWMutex
	ids      map[string]time.Time // session id → revoked at
	syncedAt time.Time            // start of the last successful read
	since    time.Time            // lower bound of the next read
}

// RevokedOptions configure a RevokedSessions.
type RevokedOptions struct {
	Store    storage.Revocations
	Families storage.Families // for the check when the set is stale
	// Poll is how often Run reads revocations (default 2 s).
	Poll time.Duration
	// Horizon is how long a revocation matters: the access-token lifetime
	// plus leeway (default 6 min).
	Horizon time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// overlap is how far before the previous read each read reaches back:
// revocations stamped by another instance's slightly slow clock, or
// committed after a later one was read, are still seen.
const overlap = time.Minute

// revokedPage bounds one read.
const revokedPage = 10000

// NewRevokedSessions builds the set; call Sync once before serving.
func NewRevokedSessions(opts RevokedOptions) (*RevokedSessions, error) {
	if opts.Store == nil || opts.Families == nil {
		return nil, errors.New("tokens: revoked sessions: Store and Families are required")
	}
	r := &RevokedSessions{
		store: opts.Store, families: opts.Families,
		poll: orDefault(opts.Poll, 2*time.Second), horizon: orDefault(opts.Horizon, 6*time.Minute),
		now: opts.Now, log: opts.Logger, ids: map[string]time.Time{},
	}
	r.stale = max(2*r.poll+time.Second, 5*time.Second)
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.since = r.now().Add(-r.horizon - overlap)
	return r, nil
}

// Sync reads the revocations since the last read (with overlap) and
// forgets those past the horizon.
func (r *RevokedSessions) Sync(ctx context.Context) error {
	start := r.now()
	r.mu.RLock()
	since := r.since
	r.mu.RUnlock()
	var found []storage.RevokedFamily
	for {
		page, err := r.store.RevokedFamiliesSince(ctx, since, revokedPage)
		if err != nil {
			return fmt.Errorf("read revoked sessions: %w", err)
		}
		found = append(found, page...)
		if len(page) < revokedPage || !page[len(page)-1].RevokedAt.After(since) {
			break
		}
		since = page[len(page)-1].RevokedAt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range found {
		r.ids[f.ID] = f.RevokedAt
	}
	cutoff := start.Add(-r.horizon - overlap)
	for id, at := range r.ids {
		if at.Before(cutoff) {
			delete(r.ids, id)
		}
	}
	r.syncedAt = start
	r.since = start.Add(-overlap)
	return nil
}

// Run syncs every poll interval until ctx ends; failures are logged (the
// check falls back to the store while the set is stale).
func (r *RevokedSessions) Run(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("session revocation check", "err", err)
			}
		}
	}
}

// add records a revocation made here.
func (r *RevokedSessions) add(id string, at time.Time) {
	r.mu.Lock()
	r.ids[id] = at
	r.mu.Unlock()
}

// Live reports whether the session may still be used: nil, or
// ErrTokenInvalid ("session revoked") — or a storage error when the set
// is stale and the store cannot answer.
func (r *RevokedSessions) Live(ctx context.Context, sid string) error {
	if sid == "" {
		return invalid("no sid")
	}
	r.mu.RLock()
	_, revoked := r.ids[sid]
	fresh := r.now().Sub(r.syncedAt) <= r.stale
	r.mu.RUnlock()
	if revoked {
		return invalid("session revoked")
	}
	if fresh {
		return nil
	}
	f, err := r.families.GetFamily(ctx, sid)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Deleted, not revoked: its user was deleted (the caller's user
		// check answers that) or it died long ago (its access tokens
		// expired with it). The same answer as from a fresh set.
		return nil
	case err != nil:
		return fmt.Errorf("check session: %w", err)
	case !f.RevokedAt.IsZero():
		return invalid("session revoked")
	}
	return nil
}

// Families wraps a store's families so that revocations made through it
// reach the set at once: one session by id, a user's or a key's sessions
// by reading the revocations right away.
func (r *RevokedSessions) Families(f storage.Families) storage.Families {
	return &notifyingFamilies{Families: f, r: r}
}

type notifyingFamilies struct {
	storage.Families
	r *RevokedSessions
}

func (n *notifyingFamilies) RevokeFamily(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	ok, err := n.Families.RevokeFamily(ctx, id, at, reason)
	if err == nil {
		n.r.add(id, at)
	}
	return ok, err
}

func (n *notifyingFamilies) RevokeUserFamilies(ctx context.Context, userID int64, at time.Time, reason string) (int64, error) {
	c, err := n.Families.RevokeUserFamilies(ctx, userID, at, reason)
	if err == nil && c > 0 {
		n.sync(ctx)
	}
	return c, err
}

func (n *notifyingFamilies) RevokeFamiliesByKID(ctx context.Context, kid string, at time.Time, reason string) (int64, error) {
	c, err := n.Families.RevokeFamiliesByKID(ctx, kid, at, reason)
	if err == nil && c > 0 {
		n.sync(ctx)
	}
	return c, err
}

func (n *notifyingFamilies) sync(ctx context.Context) {
	if err := n.r.Sync(ctx); err != nil {
		n.r.log.WarnContext(ctx, "session revocation check", "err", err)
	}
}
