package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/idp/idp/internal/storage"
)

var _ storage.UserDirectory = (*Tables)(nil)

const userColumns = `id, email, name, password_hash, is_active, is_staff, is_superuser, is_admin,
	date_joined, last_login, password_changed_at`

func (t *Tables) scanUser(row interface{ Scan(...any) error }) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.IsActive, &u.IsStaff, &u.IsSuperuser, &u.IsAdmin,
		t.d.ScanTime(&u.DateJoined), t.d.ScanTime(&u.LastLogin), t.d.ScanTime(&u.PasswordChangedAt))
	return u, err
}

// PrefixEnd is the least string greater than every string starting with
// p in code-point (= UTF-8 byte) order, or "" if there is none: the
// exclusive upper bound of an index range scan for the prefix p.
func PrefixEnd(p string) string {
	rs := []rune(p)
	for len(rs) > 0 {
		last := rs[len(rs)-1] + 1
		if last == 0xD800 {
			last = 0xE000
		}
		if last <= utf8.MaxRune {
			rs[len(rs)-1] = last
			return string(rs)
		}
		rs = rs[:len(rs)-1]
	}
	return ""
}

// likeEscaper makes % and _ (and the escape character) literal in LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// searchWindow is how many users, in id order, a search first scans
// before it turns to the indexes (see SearchUsers).
const searchWindow = 2000

// SearchUsers returns up to q.Limit users matching q, by id. Without q it
// is one keyset scan of the primary key. With q — an email prefix (a
// byte-wise range on email_key, which an index serves) or a name
// substring (a trigram index, Dialect.NameContains) — no single plan is
// good for both common and rare matches, and planners misjudge substring
// selectivity; so it takes two steps, each one bounded statement:
//  1. the next searchWindow users in id order, filtered: a common q fills
//     the page here;
//  2. if not, the matches after that window through the indexes (ORDER BY
//     id + 0 keeps the planner off the primary-key walk): q is rare, so
//     they are few.
func (t *Tables) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	out := []storage.User{}
	if q.Limit <= 0 {
		return out, nil
	}
	var filter []string
	var fargs []any
	if q.IsActive != nil {
		filter, fargs = append(filter, "is_active = ?"), append(fargs, *q.IsActive)
	}
	if q.IsStaff != nil {
		filter, fargs = append(filter, "is_staff = ?"), append(fargs, *q.IsStaff)
	}
	if q.Q == "" {
		return t.searchUsers(ctx, `SELECT `+userColumns+` FROM users WHERE `+strings.Join(append([]string{"id > ?"}, filter...), " AND ")+
			` ORDER BY id LIMIT ?`, append(append([]any{q.AfterID}, fargs...), q.Limit)...)
	}
	if !ValidText(q.Q) {
		return out, nil
	}
	key := storage.EmailKey(q.Q)
	match := "email_key" + t.d.Bytewise + " >= ?"
	margs := []any{key}
	if end := PrefixEnd(key); end != "" {
		match += " AND email_key" + t.d.Bytewise + " < ?"
		margs = append(margs, end)
	}
	name := `lower(name) LIKE ? ESCAPE '\'`
	pattern := "%" + likeEscaper.Replace(strings.ToLower(q.Q)) + "%"
	if t.d.NameContains != "" && utf8.RuneCountInString(q.Q) >= 3 && !strings.ContainsAny(q.Q, `%_\`) {
		name, pattern = t.d.NameContains, "%"+strings.ToLower(q.Q)+"%"
	}
	match = "((" + match + ") OR " + name + ")"
	margs = append(margs, pattern)
	cond := strings.Join(append(filter, match), " AND ")
	cargs := append(append([]any{}, fargs...), margs...)

	// 1. the window, in id order.
	out, err := t.searchUsers(ctx, `SELECT `+userColumns+` FROM (SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?) w
		WHERE `+cond+` ORDER BY id LIMIT ?`, append(append([]any{q.AfterID, searchWindow}, cargs...), q.Limit)...)
	if err != nil || len(out) == q.Limit {
		return out, err
	}
	var end sql.NullInt64
	if err := t.queryRow(ctx, `SELECT max(id) FROM (SELECT id FROM users WHERE id > ? ORDER BY id LIMIT ?) w`,
		q.AfterID, searchWindow).Scan(&end); err != nil {
		return nil, fmt.Errorf("search users: %w", t.scanErr(err))
	}
	if !end.Valid {
		return out, nil
	}
	// 2. after the window, through the indexes.
	more, err := t.searchUsers(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? AND `+cond+` ORDER BY id + 0 LIMIT ?`,
		append(append([]any{end.Int64}, cargs...), q.Limit-len(out))...)
	return append(out, more...), err
}

func (t *Tables) searchUsers(ctx context.Context, query string, args ...any) ([]storage.User, error) {
	out := []storage.User{}
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := t.scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return out, nil
}

// keepsSuperuser is the condition under which a user row may change or
// go: it is not an active superuser, or stays one (the two placeholders:
// the new is_active and is_superuser, NULL for unchanged), or another
// active superuser exists.
const keepsSuperuser = `(NOT (is_active AND is_superuser)
	OR (COALESCE(?, is_active) AND COALESCE(?, is_superuser))
	OR EXISTS (SELECT 1 FROM users o WHERE o.id <> ? AND o.is_active AND o.is_superuser))`

func nullBool(p *bool) sql.NullBool {
	if p == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *p, Valid: true}
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// UpdateUser applies ch in one conditional UPDATE … RETURNING.
func (t *Tables) UpdateUser(ctx context.Context, id int64, ch storage.UserChange) (storage.User, error) {
	var key sql.NullString
	if ch.Email != nil {
		if !ValidText(*ch.Email) {
			return storage.User{}, fmt.Errorf("update user: %w", ErrInvalidText)
		}
		key = sql.NullString{String: storage.EmailKey(*ch.Email), Valid: true}
	}
	if ch.Name != nil && !ValidText(*ch.Name) {
		return storage.User{}, fmt.Errorf("update user: %w", ErrInvalidText)
	}
	active, super := nullBool(ch.IsActive), nullBool(ch.IsSuperuser)
	demotes := ch.IsActive != nil && !*ch.IsActive || ch.IsSuperuser != nil && !*ch.IsSuperuser
	var u storage.User
	err := t.keepingSuperuser(ctx, demotes, func(tx querier) error {
		var err error
		u, err = t.scanUser(tx.QueryRowContext(ctx, t.d.rebind(`UPDATE users SET email = COALESCE(?, email),
			email_key = COALESCE(?, email_key), name = COALESCE(?, name), is_active = COALESCE(?, is_active),
			is_staff = COALESCE(?, is_staff), is_superuser = COALESCE(?, is_superuser)
			WHERE id = ? AND `+keepsSuperuser+` RETURNING `+userColumns),
			nullString(ch.Email), key, nullString(ch.Name), active, nullBool(ch.IsStaff), super,
			id, active, super, id))
		if errors.Is(err, sql.ErrNoRows) {
			return t.whyUnchanged(ctx, tx, id)
		}
		return t.d.Translate(err)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// keepingSuperuser runs fn, a conditional statement that may take away an
// active superuser, so that two of them at once cannot both pass the
// "another active superuser exists" condition (write skew): inside one
// transaction that first locks the active superusers' rows (Dialect.LockRows;
// SQLite's single writer serialises anyway). When demotes is false fn
// runs on the pool.
func (t *Tables) keepingSuperuser(ctx context.Context, demotes bool, fn func(querier) error) error {
	if !demotes {
		return fn(t.w)
	}
	tx, err := t.w.BeginTx(ctx, nil)
	if err != nil {
		return t.d.Translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE is_active AND is_superuser ORDER BY id`+t.d.LockRows)
	if err != nil {
		return t.d.Translate(err)
	}
	for rows.Next() { // the rows are read only to be locked
	}
	if err := rows.Close(); err != nil {
		return t.d.Translate(err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return t.d.Translate(tx.Commit())
}

// DeleteUserKeepingSuperuser deletes the user (its families by cascade)
// unless it is the last active superuser.
func (t *Tables) DeleteUserKeepingSuperuser(ctx context.Context, id int64) error {
	no := false
	err := t.keepingSuperuser(ctx, true, func(tx querier) error {
		res, err := tx.ExecContext(ctx, t.d.rebind(`DELETE FROM users WHERE id = ? AND `+keepsSuperuser), id, no, no, id)
		if err != nil {
			return t.d.Translate(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return t.whyUnchanged(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// whyUnchanged tells, after a conditional statement touched nothing,
// whether the user is missing or the superuser condition refused.
func (t *Tables) whyUnchanged(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, t.d.rebind(`SELECT 1 FROM users WHERE id = ?`), id).Scan(&one)
	if err != nil {
		return t.scanErr(err)
	}
	return storage.ErrLastSuperuser
}
