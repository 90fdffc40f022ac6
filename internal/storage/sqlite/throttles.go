package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage"
)

const throttleColumns = `key, window_start, failures, blocked_until`

func scanThrottle(row scanner) (storage.Throttle, error) {
	var t storage.Throttle
	err := row.Scan(&t.Key, microTime{&t.WindowStart}, &t.Failures, microTime{&t.BlockedUntil})
	return t, err
}

// GetThrottles reads the keys' rows in one query, ordered by key. Keys that
// cannot be stored have none.
func (s *Store) GetThrottles(ctx context.Context, keys []string) ([]storage.Throttle, error) {
	args := make([]any, 0, len(keys))
	for _, k := range keys {
		if validText(k) {
			args = append(args, k)
		}
	}
	throttles := []storage.Throttle{}
	if len(args) == 0 {
		return throttles, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	rows, err := s.r.QueryContext(ctx, `SELECT `+throttleColumns+` FROM login_throttles
		WHERE key IN (`+marks+`) ORDER BY key`, args...)
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

// AddFailure is one INSERT … ON CONFLICT DO UPDATE … RETURNING on the write
// connection. The SET expressions all see the row as it was, so the window
// test and the count agree.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (storage.Throttle, error) {
	if err := checkText(key); err != nil {
		return storage.Throttle{}, fmt.Errorf("count login failure: %w", err)
	}
	t, err := scanThrottle(s.w.QueryRowContext(ctx, `INSERT INTO login_throttles AS t (key, window_start, failures)
		VALUES (?1, ?2, 1)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN t.window_start <= ?3 THEN excluded.window_start ELSE t.window_start END,
			failures = CASE WHEN t.window_start <= ?3 THEN 1 ELSE t.failures + 1 END
		RETURNING `+throttleColumns, key, now.UnixMicro(), now.Add(-window).UnixMicro()))
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
	// SQLite's two-argument MAX is NULL if either is: a NULL blocked_until
	// takes until as is.
	_, err := s.w.ExecContext(ctx, `INSERT INTO login_throttles AS t (key, window_start, failures, blocked_until)
		VALUES (?, 0, 0, ?)
		ON CONFLICT (key) DO UPDATE SET
			blocked_until = MAX(COALESCE(t.blocked_until, excluded.blocked_until), excluded.blocked_until)`,
		key, until.UnixMicro())
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
	if _, err := s.w.ExecContext(ctx, `DELETE FROM login_throttles WHERE key = ?`, key); err != nil {
		return fmt.Errorf("reset login throttle: %w", err)
	}
	return nil
}

// UndoFailure takes back one counted failure of key (never below zero).
func (s *Store) UndoFailure(ctx context.Context, key string) error {
	if !validText(key) {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE login_throttles SET failures = failures - 1 WHERE key = ? AND failures > 0`, key); err != nil {
		return fmt.Errorf("undo login failure: %w", err)
	}
	return nil
}

// DeleteStaleThrottles is one DELETE of at most limit rows found through
// login_throttles_window_idx.
func (s *Store) DeleteStaleThrottles(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM login_throttles WHERE rowid IN (
			SELECT rowid FROM login_throttles
			WHERE window_start < ?1 AND (blocked_until IS NULL OR blocked_until <= ?1)
			LIMIT ?2)`, cutoff.UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete stale login throttles: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete stale login throttles: %w", err)
	}
	return n, nil
}
