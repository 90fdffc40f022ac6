package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// keysChannel is the LISTEN/NOTIFY channel of signing-key changes.
const keysChannel = "idp_signing_keys"

// notifyKeyChange tells every listening instance that the key set changed.
// Best effort, after the commit: a database without NOTIFY (some
// Postgres-compatible ones) or a failed call leaves the periodic check of
// each instance (keys.check_interval) to pick the change up.
func (s *Store) notifyKeyChange(ctx context.Context) {
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, keysChannel); err != nil {
		s.log.Warn("notify signing key change; other instances will see it at their next check", "err", err)
	}
}

// WatchKeyChanges calls changed after each signing-key change committed on
// this database by any instance or `idp keys` command, until ctx ends. It
// listens on a connection of its own (not one of the pool's). When that
// connection is lost it reconnects with backoff and calls changed once more,
// since a change may have been missed meanwhile. It returns when ctx ends.
func (s *Store) WatchKeyChanges(ctx context.Context, changed func()) {
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		start := time.Now()
		err := s.listenKeys(ctx, changed, !first)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("signing key change listener lost; reconnecting", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond // it had been working: start over
		} else {
			backoff = min(2*backoff, 10*time.Second)
		}
	}
}

func (s *Store) listenKeys(ctx context.Context, changed func(), missed bool) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+keysChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if missed {
		changed()
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		changed()
	}
}
