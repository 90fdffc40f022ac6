package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/idp/idp/internal/storage"
)

// Tables implements the shared tables over database/sql. Backends embed
// it, so its methods are theirs.
type Tables struct {
	r, w *sql.DB
	d    Dialect
}

var (
	_ storage.Clients       = (*Tables)(nil)
	_ storage.RevokedTokens = (*Tables)(nil)
)

// New returns the shared tables over read (may be the same as write) and
// write pools.
func New(read, write *sql.DB, d Dialect) *Tables {
	return &Tables{r: read, w: write, d: d}
}

func (t *Tables) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := t.w.ExecContext(ctx, t.d.rebind(q), args...)
	return res, t.d.Translate(err)
}

func (t *Tables) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.r.QueryRowContext(ctx, t.d.rebind(q), args...)
}

func (t *Tables) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := t.r.QueryContext(ctx, t.d.rebind(q), args...)
	return rows, t.d.Translate(err)
}

// scanErr translates an error from Scan (sql.ErrNoRows → ErrNotFound).
func (t *Tables) scanErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return t.d.Translate(err)
}

// affected reports ErrNotFound when a statement touched nothing.
func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
