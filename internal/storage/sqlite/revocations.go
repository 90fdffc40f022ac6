package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

var (
	_ storage.Revocations    = (*Store)(nil)
	_ storage.AuditRetention = (*Store)(nil)
)

// RevokedFamiliesSince reads refresh_families_revoked_idx.
func (s *Store) RevokedFamiliesSince(ctx context.Context, since time.Time, limit int) ([]storage.RevokedFamily, error) {
	out := []storage.RevokedFamily{}
	if limit <= 0 {
		return out, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, revoked_at FROM refresh_families
		WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at LIMIT ?`, since.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("list revoked families: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f storage.RevokedFamily
		if err := rows.Scan(&f.ID, microTime{&f.RevokedAt}); err != nil {
			return nil, fmt.Errorf("list revoked families: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked families: %w", err)
	}
	return out, nil
}

// DeleteAuditBefore is one DELETE of at most limit rows found through
// audit_events_at_idx.
func (s *Store) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)`, cutoff.UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", err)
	}
	return n, nil
}
