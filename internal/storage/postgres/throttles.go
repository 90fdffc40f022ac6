package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
)

const throttleColumns = `key, window_start, failures, blocked_until`

func scanThrottle(row pgx.Row) (storage.Throttle, error) {
	var t storage.Throttle
	err := row.Scan(&t.Key, tsz{&t.WindowStart}, &t.Failures, tsz{&t.BlockedUntil})
	return t, err
}

// GetThrottles reads the keys' rows in one query, ordered by key. Keys that
// cannot be stored have none.
func (s *Store) GetThrottles(ctx context.Context, keys []string) ([]storage.Throttle, error) {
	valid := make([]string, 0, len(keys))
	for _, k := range keys {
		if validText(k) {
			valid = append(valid, k)
		}
	}
	throttles := []storage.Throttle{}
	if len(valid) == 0 {
		return throttles, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+throttleColumns+` FROM login_throttles
		WHERE key = ANY ($1) ORDER BY key`, valid)
	if err != nil {
		return nil, fmt.Errorf("get login throttles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanThrottle(rows)
		if err != nil {
			return nil, fmt.Errorf("get login throttles: %w", err)
		}
		throttles = append(throttles, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get login throttles: %w", err)
	}
	return throttles, nil
}

// AddFailure is one INSERT … ON CONFLICT DO UPDATE: concurrent failures of
// one key serialise on its row and each is counted. The SET expressions all
// see the row as it was, so the window test and the count agree.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (storage.Throttle, error) {
	if err := checkText(key); err != nil {
		return storage.Throttle{}, fmt.Errorf("count login failure: %w", err)
	}
	t, err := scanThrottle(s.pool.QueryRow(ctx, `INSERT INTO login_throttles AS t (key, window_start, failures)
		VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN t.window_start <= $3 THEN excluded.window_start ELSE t.window_start END,
			failures = CASE WHEN t.window_start <= $3 THEN 1 ELSE t.failures + 1 END
		RETURNING `+throttleColumns, key, now, now.Add(-window)))
	if err != nil {
		return storage.Throttle{}, fmt.Errorf("count login failure: %w", translate(err))
	}
	return t, nil
}

// BlockThrottle raises blocked_until to until (a zero until changes
// nothing). A missing key is created with no failures and a window long
// over (the Unix epoch), so that the block holds and the next AddFailure
// starts a fresh window.
func (s *Store) BlockThrottle(ctx context.Context, key string, until time.Time) error {
	if err := checkText(key); err != nil {
		return fmt.Errorf("block login throttle: %w", err)
	}
	if until.IsZero() {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO login_throttles AS t (key, window_start, failures, blocked_until)
		VALUES ($1, $2, 0, $3)
		ON CONFLICT (key) DO UPDATE SET blocked_until = GREATEST(t.blocked_until, excluded.blocked_until)`,
		key, time.Unix(0, 0), until)
	if err != nil {
		return fmt.Errorf("block login throttle: %w", translate(err))
	}
	return nil
}

// ResetThrottle deletes the key's row, if any (a key that cannot be stored
// has none).
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	if !validText(key) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_throttles WHERE key = $1`, key); err != nil {
		return fmt.Errorf("reset login throttle: %w", err)
	}
	return nil
}

// UndoFailure takes back one counted failure of key (never below zero).
func (s *Store) UndoFailure(ctx context.Context, key string) error {
	if !validText(key) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE login_throttles SET failures = failures - 1 WHERE key = $1 AND failures > 0`, key); err != nil {
		return fmt.Errorf("undo login failure: %w", err)
	}
	return nil
}

// staleThrottles is DeleteStaleThrottles' criterion ($1 cutoff).
const staleThrottles = `window_start < $1 AND (blocked_until IS NULL OR blocked_until <= $1)`

// DeleteStaleThrottles is one DELETE of at most limit rows found through
// login_throttles_window_idx; like DeleteDeadFamilies it re-checks the
// criterion on the rows it deletes, so a key counting a new failure
// meanwhile is kept.
func (s *Store) DeleteStaleThrottles(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_throttles
		WHERE key = ANY (ARRAY(SELECT key FROM login_throttles WHERE `+staleThrottles+`
			ORDER BY window_start LIMIT $2))
		AND `+staleThrottles, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete stale login throttles: %w", err)
	}
	return tag.RowsAffected(), nil
}
