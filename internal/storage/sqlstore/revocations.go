package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

var (
	_ storage.Revocations    = (*Tables)(nil)
	_ storage.AuditRetention = (*Tables)(nil)
	_ storage.EmailKeys      = (*Tables)(nil)
)

// RevokedFamiliesSince reads refresh_families_revoked_idx.
func (t *Tables) RevokedFamiliesSince(ctx context.Context, since time.Time, limit int) ([]storage.RevokedFamily, error) {
	out := []storage.RevokedFamily{}
	if limit <= 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT id, revoked_at FROM refresh_families
		WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at LIMIT ?`, t.d.Time(since), limit)
	if err != nil {
		return nil, fmt.Errorf("list revoked families: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f storage.RevokedFamily
		if err := rows.Scan(&f.ID, t.d.ScanTime(&f.RevokedAt)); err != nil {
			return nil, fmt.Errorf("list revoked families: %w", t.d.Translate(err))
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked families: %w", t.d.Translate(err))
	}
	return out, nil
}

// DeleteAuditBefore is one DELETE of at most limit rows found through
// audit_events_at_idx.
func (t *Tables) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)`, t.d.Time(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old audit events: %w", err)
	}
	return n, nil
}

// RekeyEmails reads a page of (id, email, email_key) and updates the keys
// that differ from storage.EmailKey(email), one statement each; a key
// another user holds is a conflict, left as it was.
func (t *Tables) RekeyEmails(ctx context.Context, afterID int64, limit int) (storage.RekeyPage, error) {
	page := storage.RekeyPage{Next: afterID}
	type row struct {
		id         int64
		email, key string
	}
	var stale []row
	rows, err := t.query(ctx, `SELECT id, email, email_key FROM users WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return page, fmt.Errorf("rekey emails: %w", err)
	}
	n := 0
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.email, &r.key); err != nil {
			rows.Close()
			return page, fmt.Errorf("rekey emails: %w", err)
		}
		n++
		page.Next = r.id
		if k := storage.EmailKey(r.email); k != r.key {
			r.key = k
			stale = append(stale, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("rekey emails: %w", err)
	}
	page.Done = n < limit
	for _, r := range stale {
		_, err := t.exec(ctx, `UPDATE users SET email_key = ? WHERE id = ?`, r.key, r.id)
		switch {
		case errors.Is(err, storage.ErrConflict):
			page.Conflicts = append(page.Conflicts, r.id)
		case err != nil:
			return page, fmt.Errorf("rekey emails: %w", err)
		default:
			page.Updated++
		}
	}
	return page, nil
}
