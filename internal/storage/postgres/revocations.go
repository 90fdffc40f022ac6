package postgres

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
	rows, err := s.pool.Query(ctx, `SELECT id, revoked_at FROM refresh_families
		WHERE revoked_at IS NOT NULL AND revoked_at >= $1 ORDER BY revoked_at LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list revoked families: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var f storage.RevokedFamily
		if err := rows.Scan(&f.ID, &f.RevokedAt); err != nil {
			return nil, fmt.Errorf("list revoked families: %w", err)
		}
		f.RevokedAt = f.RevokedAt.UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked families: %w", translate(err))
	}
	return out, nil
}

// DeleteAuditBefore is one DELETE of at most limit rows found through
// audit_events_at_idx.
func (s *Store) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
