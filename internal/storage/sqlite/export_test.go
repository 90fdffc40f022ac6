package sqlite

import (
	"context"
	"strings"

	"github.com/idp/idp/internal/storage"
)

// bulkRows is how many families one INSERT of BulkFamiliesForTest writes
// (13 parameters each, well under SQLite's 32,766).
const bulkRows = 500

// BulkFamiliesForTest inserts fs in one transaction of multi-row INSERTs
// (storagetest.BulkFamilies): the janitor tests need 100,000 families
// fast. Tests only.
func (s *Store) BulkFamiliesForTest(ctx context.Context, fs []storage.Family) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for len(fs) > 0 {
		chunk := fs[:min(bulkRows, len(fs))]
		fs = fs[len(chunk):]
		args := make([]any, 0, 13*len(chunk))
		for _, f := range chunk {
			args = append(args, f.ID, f.UserID, micros(f.CreatedAt), micros(f.ExpiresAt),
				f.CurrentJTI, f.CurrentKID, f.Generation, f.PreviousJTI, micros(f.RotatedAt),
				micros(f.RevokedAt), f.RevokeReason, f.UserAgent, f.IP)
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", ")
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (`+familyColumns+`) VALUES `+values, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
