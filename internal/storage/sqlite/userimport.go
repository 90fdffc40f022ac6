package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlstore"
)

var _ storage.UserImports = (*Store)(nil)

// userImport holds the writer's (IMMEDIATE) transaction, so no other write
// happens until it ends; the staging table is a TEMP table of that
// connection, dropped before commit. AUTOINCREMENT's sqlite_sequence
// follows explicit ids by itself, so Commit has no sequence to move.
type userImport struct {
	tx      *sql.Tx
	stmt    *sql.Stmt
	indexed bool
}

// BeginUserImport opens the import's transaction and its staging table.
func (s *Store) BeginUserImport(ctx context.Context) (storage.UserImport, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin user import: %w", err)
	}
	for _, q := range []string{`DROP TABLE IF EXISTS temp.user_import`, `CREATE TEMP TABLE user_import (
		id INTEGER NOT NULL, email TEXT NOT NULL, email_key TEXT NOT NULL, name TEXT NOT NULL,
		password_hash TEXT NOT NULL, is_active INTEGER NOT NULL, is_staff INTEGER NOT NULL,
		is_superuser INTEGER NOT NULL, is_admin INTEGER NOT NULL, date_joined INTEGER NOT NULL,
		last_login INTEGER NULL, password_changed_at INTEGER NOT NULL)`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("begin user import: staging table: %w", err)
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO user_import (`+sqlstore.UserImportColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("begin user import: %w", err)
	}
	return &userImport{tx: tx, stmt: stmt}, nil
}

// Stage inserts users into the staging table (in-process: no round trips).
func (im *userImport) Stage(ctx context.Context, users []storage.User) error {
	for _, u := range users {
		if err := checkText(u.Email, u.Name, u.PasswordHash); err != nil {
			return fmt.Errorf("stage user %d: %w", u.ID, err)
		}
		_, err := im.stmt.ExecContext(ctx, u.ID, u.Email, storage.EmailKey(u.Email), u.Name, u.PasswordHash,
			u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin,
			micros(u.DateJoined), micros(u.LastLogin), micros(u.PasswordChangedAt))
		if err != nil {
			return fmt.Errorf("stage user %d: %w", u.ID, translate(err))
		}
	}
	return nil
}

// Clashes indexes the staging table and runs the clash query.
func (im *userImport) Clashes(ctx context.Context) ([]storage.ImportClash, error) {
	if !im.indexed {
		for _, q := range sqlstore.UserImportIndexes {
			if _, err := im.tx.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("user import clashes: %w", err)
			}
		}
		im.indexed = true
	}
	rows, err := im.tx.QueryContext(ctx, sqlstore.UserImportClashes)
	if err != nil {
		return nil, fmt.Errorf("user import clashes: %w", err)
	}
	defer rows.Close()
	var out []storage.ImportClash
	for rows.Next() {
		var c storage.ImportClash
		var kind string
		if err := rows.Scan(&kind, &c.ID, &c.Email, microTime{&c.LastLogin}, &c.ExistingID, &c.ExistingEmail); err != nil {
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
		if _, err := im.tx.ExecContext(ctx, q); err != nil {
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
	if err := im.tx.QueryRowContext(ctx, sqlstore.UserImportExisting).Scan(&r.Existing); err != nil {
		return r, fmt.Errorf("apply user import: %w", err)
	}
	if dryRun || !update {
		if err := im.tx.QueryRowContext(ctx, sqlstore.UserImportChanged).Scan(&r.Changed); err != nil {
			return r, fmt.Errorf("apply user import: %w", err)
		}
	} else {
		res, err := im.tx.ExecContext(ctx, sqlstore.UserImportUpdate)
		if err != nil {
			return r, fmt.Errorf("apply user import: update: %w", translate(err))
		}
		r.Changed, _ = res.RowsAffected()
	}
	if dryRun {
		if err := im.tx.QueryRowContext(ctx, sqlstore.UserImportNew).Scan(&r.Inserted); err != nil {
			return r, fmt.Errorf("apply user import: %w", err)
		}
		return r, nil
	}
	res, err := im.tx.ExecContext(ctx, sqlstore.UserImportInsert)
	if err != nil {
		return r, fmt.Errorf("apply user import: insert: %w", translate(err))
	}
	r.Inserted, _ = res.RowsAffected()
	return r, nil
}

// Commit drops the staging table and commits.
func (im *userImport) Commit(ctx context.Context) error {
	im.stmt.Close()
	if _, err := im.tx.ExecContext(ctx, `DROP TABLE temp.user_import`); err != nil {
		return fmt.Errorf("commit user import: %w", err)
	}
	if err := im.tx.Commit(); err != nil {
		return fmt.Errorf("commit user import: %w", translate(err))
	}
	return nil
}

// Rollback discards the import (the staging table with it).
func (im *userImport) Rollback(context.Context) error {
	im.stmt.Close()
	if err := im.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back user import: %w", err)
	}
	return nil
}
