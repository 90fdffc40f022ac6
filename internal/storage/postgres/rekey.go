package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

// RekeyEmails reads a page of (id, email, email_key) and updates the keys
// that differ from storage.EmailKey(email), one statement each; a key
// another user holds is a conflict, left as it was.
func (s *Store) RekeyEmails(ctx context.Context, afterID int64, limit int) (storage.RekeyPage, error) {
	page := storage.RekeyPage{Next: afterID}
	type row struct {
		id         int64
		email, key string
	}
	var stale []row
	rows, err := s.pool.Query(ctx, `SELECT id, email, email_key FROM users WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
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
		_, err := s.pool.Exec(ctx, `UPDATE users SET email_key = $1 WHERE id = $2`, r.key, r.id)
		switch err := translate(err); {
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
