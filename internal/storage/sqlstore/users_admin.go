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

// searchWindow is how many users, in email-key order, the name half of a
// search first reads before it turns to the name index (see searchNames).
const searchWindow = 2000

// listedColumns are userColumns and the list position's email key.
const listedColumns = userColumns + `, email_key`

// SearchUsers returns up to q.Limit users matching q. Without q it is one
// keyset scan of the primary key. With q the list is in email-key order
// (storage.UserQuery) and is the merge of two halves, each bounded:
//   - the email prefix: one range of the byte-wise email_key index, read
//     in order from the cursor, so it stops after q.Limit rows however
//     many users match and wherever they are;
//   - the name substring: searchNames.
func (t *Tables) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.ListedUser, error) {
	if q.Limit <= 0 {
		return []storage.ListedUser{}, nil
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
		return t.listUsers(ctx, `SELECT `+listedColumns+` FROM users WHERE `+strings.Join(append([]string{"id > ?"}, filter...), " AND ")+
			` ORDER BY id LIMIT ?`, append(append([]any{q.After.ID}, fargs...), q.Limit)...)
	}
	if !ValidText(q.Q) {
		return []storage.ListedUser{}, nil
	}
	byKey := "email_key" + t.d.Bytewise
	after := q.After.EmailKey

	// The email prefix: [key, end) after the cursor (Go compares strings
	// byte-wise, as the index does).
	var emails []storage.ListedUser
	key := storage.EmailKey(q.Q)
	if end := PrefixEnd(key); end == "" || after < end {
		cond, args := byKey+" >= ?", []any{key}
		if after >= key {
			cond, args = byKey+" > ?", []any{after}
		}
		if end != "" {
			cond, args = cond+" AND "+byKey+" < ?", append(args, end)
		}
		var err error
		emails, err = t.listUsers(ctx, `SELECT `+listedColumns+` FROM users WHERE `+strings.Join(append([]string{cond}, filter...), " AND ")+
			` ORDER BY `+byKey+` LIMIT ?`, append(append(args, fargs...), q.Limit)...)
		if err != nil {
			return nil, err
		}
	}
	names, err := t.searchNames(ctx, q, filter, fargs)
	if err != nil {
		return nil, err
	}
	return mergeByKey(emails, names, q.Limit), nil
}

// searchNames returns, in email-key order after the cursor, up to q.Limit
// users whose name contains q. A substring index (Dialect.NameContains)
// finds rare matches at once but must fetch and sort every one of them,
// while reading users in key order finds common ones at once but crosses
// the whole table for rare ones — and planners misjudge substring
// selectivity. So it takes two steps, each one bounded statement:
//  1. the next searchWindow users in key order, each checked (NameLike,
//     no index: an index condition here would first collect every match
//     in the table): a common q fills the page here;
//  2. if not, the later matches through the index, ordered by an
//     expression of email_key that keeps the planner off the key-order
//     walk: q matched fewer than q.Limit in searchWindow users, so it is
//     rare and its matches few.
//
// A q under three characters, which no trigram index serves, is one walk
// in key order.
func (t *Tables) searchNames(ctx context.Context, q storage.UserQuery, filter []string, fargs []any) ([]storage.ListedUser, error) {
	byKey := "email_key" + t.d.Bytewise
	cond := strings.Join(append(filter, NameLike), " AND ")
	cargs := append(append([]any{}, fargs...), LikeContains(q.Q))
	if utf8.RuneCountInString(q.Q) < 3 {
		return t.listUsers(ctx, `SELECT `+listedColumns+` FROM users WHERE `+byKey+` > ? AND `+cond+` ORDER BY `+byKey+` LIMIT ?`,
			append(append([]any{q.After.EmailKey}, cargs...), q.Limit)...)
	}
	// 1. the window, in key order.
	out, err := t.listUsers(ctx, `SELECT `+listedColumns+` FROM (SELECT * FROM users WHERE `+byKey+` > ? ORDER BY `+byKey+` LIMIT ?) w
		WHERE `+cond+` ORDER BY `+byKey+` LIMIT ?`, append(append([]any{q.After.EmailKey, searchWindow}, cargs...), q.Limit)...)
	if err != nil || len(out) == q.Limit {
		return out, err
	}
	// 2. after the window's matches (there are none between the last of
	// them and the window's end), through the index; NameLike decides,
	// the index only narrows.
	from := q.After.EmailKey
	if len(out) > 0 {
		from = out[len(out)-1].Position.EmailKey
	}
	where, args := byKey+" > ?", []any{from}
	if t.d.NameContains != "" {
		where, args = where+" AND "+t.d.NameContains, append(args, t.d.NameArg(q.Q))
	}
	more, err := t.listUsers(ctx, `SELECT `+listedColumns+` FROM users WHERE `+where+` AND `+cond+
		` ORDER BY (email_key || '')`+t.d.Bytewise+` LIMIT ?`, append(append(args, cargs...), q.Limit-len(out))...)
	return append(out, more...), err
}

// NameLike is the condition, with one placeholder for LikeContains(q),
// that a user's name contains q, case-insensitively (lower: Unicode on
// PostgreSQL, ASCII on SQLite), % and _ literal.
const NameLike = `lower(name) LIKE ? ESCAPE '\'`

// LikeContains is the LIKE pattern (for NameLike) of a string containing
// q, lower-cased, its % and _ literal.
func LikeContains(q string) string { return "%" + likeEscaper.Replace(strings.ToLower(q)) + "%" }

// mergeByKey merges two lists in email-key order into one of at most n,
// a user in both once.
func mergeByKey(a, b []storage.ListedUser, n int) []storage.ListedUser {
	out := make([]storage.ListedUser, 0, min(n, len(a)+len(b)))
	for len(out) < n && (len(a) > 0 || len(b) > 0) {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].Position.EmailKey < b[0].Position.EmailKey:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0].Position.EmailKey < a[0].Position.EmailKey:
			out, b = append(out, b[0]), b[1:]
		default: // the same user
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

func (t *Tables) listUsers(ctx context.Context, query string, args ...any) ([]storage.ListedUser, error) {
	out := []storage.ListedUser{}
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u storage.ListedUser
		err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.IsActive, &u.IsStaff, &u.IsSuperuser, &u.IsAdmin,
			t.d.ScanTime(&u.DateJoined), t.d.ScanTime(&u.LastLogin), t.d.ScanTime(&u.PasswordChangedAt), &u.Position.EmailKey)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		u.Position.ID = u.ID
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
