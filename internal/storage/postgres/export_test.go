package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
)

// BulkFamiliesForTest inserts fs with one COPY (storagetest.BulkFamilies):
// the janitor tests need 100,000 families fast. Tests only.
func (s *Store) BulkFamiliesForTest(ctx context.Context, fs []storage.Family) error {
	rows := make([][]any, len(fs))
	for i, f := range fs {
		rows[i] = []any{f.ID, f.UserID, ts(f.CreatedAt), ts(f.ExpiresAt), f.CurrentJTI, f.CurrentKID,
			f.Generation, f.PreviousJTI, ts(f.RotatedAt), ts(f.RevokedAt), f.RevokeReason, f.UserAgent, f.IP}
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"refresh_families"},
		[]string{"id", "user_id", "created_at", "expires_at", "current_jti", "current_kid", "generation",
			"previous_jti", "rotated_at", "revoked_at", "revoke_reason", "user_agent", "ip"},
		pgx.CopyFromRows(rows))
	return err
}

// HOTUpdatesForTest returns how many updates refresh_families has had and
// how many of them were HOT (heap-only: no index touched). It first makes
// every idle pooled connection flush its pending statistics. Tests only.
func (s *Store) HOTUpdatesForTest(ctx context.Context) (updates, hot int64, err error) {
	for _, c := range s.pool.AcquireAllIdle(ctx) {
		_, err = c.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		c.Release()
		if err != nil {
			return 0, 0, err
		}
	}
	err = s.pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
		WHERE relid = 'refresh_families'::regclass`).Scan(&updates, &hot)
	return updates, hot, err
}

// MigrationCountForTest is how many migrations are embedded (the numbers
// have gaps: each issue has its own range). Tests only.
func MigrationCountForTest() int {
	entries, _ := migrations.ReadDir("migrations")
	return len(entries)
}

// AnalyzeUsersForTest refreshes the planner's statistics of users after a
// bulk load (autovacuum would, a little later). Tests only.
func (s *Store) AnalyzeUsersForTest(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "ANALYZE users")
	return err
}
