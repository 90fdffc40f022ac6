package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlstore"
)

var _ storage.UserImports = (*Store)(nil)

// userImport stages with COPY into a temporary table dropped at commit; the
// rest is sqlstore's SQL.
type userImport struct {
	tx      pgx.Tx
	indexed bool
}

// BeginUserImport opens the import's transaction and its staging table.
func (s *Store) BeginUserImport(ctx context.Context) (storage.UserImport, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin user import: %w", err)
	}
	_, err = tx.Exec(ctx, `CREATE TEMP TABLE user_import (
		id BIGINT NOT NULL, email TEXT NOT NULL, email_key TEXT NOT NULL, name TEXT NOT NULL,
		password_hash TEXT NOT NULL, is_active BOOLEAN NOT NULL, is_staff BOOLEAN NOT NULL,
		is_superuser BOOLEAN NOT NULL, is_admin BOOLEAN NOT NULL, date_joined TIMESTAMPTZ NOT NULL,
		last_login TIMESTAMPTZ NULL, password_changed_at TIMESTAMPTZ NOT NULL) ON COMMIT DROP`)
	if err != nil {
		tx.Rollback(ctx)
		return nil, fmt.Errorf("begin user import: staging table: %w", err)
	}
	return &userImport{tx: tx}, nil
}

var userImportCopyColumns = []string{"id", "email", "email_key", "name", "password_hash", "is_active", "is_staff",
	"is_superuser", "is_admin", "date_joined", "last_login", "password_changed_at"}

// Stage copies users in with COPY: one round trip per batch.
func (im *userImport) Stage(ctx context.Context, users []storage.User) error {
	for _, u := range users {
		if err := checkText(u.Email, u.Name, u.PasswordHash); err != nil {
			return fmt.Errorf("stage user %d: %w", u.ID, err)
		}
	}
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{"user_import"}, userImportCopyColumns,
		pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			u := users[i]
			return []any{u.ID, u.Email, storage.EmailKey(u.Email), u.Name, u.PasswordHash,
				u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin,
				u.DateJoined, ts(u.LastLogin), u.PasswordChangedAt}, nil
		}))
	if err != nil {
		return fmt.Errorf("stage users: %w", translate(err))
	}
	return nil
}

// Clashes locks users against writers (readers go on), indexes and
// analyzes the staging table (temporary tables are never auto-analyzed,
// and a million-row join needs the statistics), and runs the clash query.
func (im *userImport) Clashes(ctx context.Context) ([]storage.ImportClash, error) {
	if !im.indexed {
		qs := append(append([]string{`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`}, sqlstore.UserImportIndexes...), `ANALYZE user_import`)
		for _, q := range qs {
			if _, err := im.tx.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("user import clashes: %w", err)
			}
		}
		im.indexed = true
	}
	rows, err := im.tx.Query(ctx, sqlstore.UserImportClashes)
	if err != nil {
		return nil, fmt.Errorf("user import clashes: %w", err)
	}
	defer rows.Close()
	var out []storage.ImportClash
	for rows.Next() {
		var c storage.ImportClash
		var kind string
		if err := rows.Scan(&kind, &c.ID, &c.Email, tsz{&c.LastLogin}, &c.ExistingID, &c.ExistingEmail); err != nil {
			return nil, fmt.Errorf("user import clashes: %w", err)
		}
		c.Kind = storage.ClashKind(kind)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user import clashes: %w", err)
	}
	return out, nil
}

// Drop removes staged users.
func (im *userImport) Drop(ctx context.Context, ids []int64) error {
	for _, q := range sqlstore.UserImportDrop(ids) {
		if _, err := im.tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("drop staged users: %w", err)
		}
	}
	return nil
}

// Apply inserts and (with update) updates, or only counts.
func (im *userImport) Apply(ctx context.Context, update, dryRun bool) (storage.ImportResult, error) {
	var r storage.ImportResult
	if !im.indexed {
		if _, err := im.Clashes(ctx); err != nil {
			return r, err
		}
	}
	if err := im.tx.QueryRow(ctx, sqlstore.UserImportExisting).Scan(&r.Existing); err != nil {
		return r, fmt.Errorf("apply user import: %w", err)
	}
	if dryRun || !update {
		if err := im.tx.QueryRow(ctx, sqlstore.UserImportChanged).Scan(&r.Changed); err != nil {
			return r, fmt.Errorf("apply user import: %w", err)
		}
	} else {
		tag, err := im.tx.Exec(ctx, sqlstore.UserImportUpdate)
		if err != nil {
			return r, fmt.Errorf("apply user import: update: %w", translate(err))
		}
		r.Changed = tag.RowsAffected()
	}
	if dryRun {
		err := im.tx.QueryRow(ctx, sqlstore.UserImportNew).Scan(&r.Inserted)
		if err != nil {
			return r, fmt.Errorf("apply user import: %w", err)
		}
		return r, nil
	}
	tag, err := im.tx.Exec(ctx, sqlstore.UserImportInsert)
	if err != nil {
		return r, fmt.Errorf("apply user import: insert: %w", translate(err))
	}
	r.Inserted = tag.RowsAffected()
	return r, nil
}

// Commit moves the identity sequence past the highest id, then commits.
// setval is not transactional: a failed commit leaves only a gap in ids.
func (im *userImport) Commit(ctx context.Context) error {
	var seq string
	if err := im.tx.QueryRow(ctx, `SELECT pg_get_serial_sequence('users', 'id')`).Scan(&seq); err != nil {
		return fmt.Errorf("commit user import: id sequence: %w", err)
	}
	var last int64
	var called bool
	if err := im.tx.QueryRow(ctx, `SELECT last_value, is_called FROM `+seq).Scan(&last, &called); err != nil {
		return fmt.Errorf("commit user import: id sequence: %w", err)
	}
	if !called {
		last-- // nextval returns last_value itself
	}
	if _, err := im.tx.Exec(ctx, `SELECT setval($1, max(id)) FROM users HAVING max(id) > $2`, seq, last); err != nil {
		return fmt.Errorf("commit user import: id sequence: %w", err)
	}
	if err := im.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit user import: %w", translate(err))
	}
	return nil
}

// Rollback discards the import.
func (im *userImport) Rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := im.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("roll back user import: %w", err)
	}
	return nil
}
