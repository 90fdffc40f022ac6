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

// SearchUsers returns up to q.Limit users matching q, by id: one
// statement. The email prefix is a byte-wise range on email_key (an index
// serves it); the name match is a substring of lower(name).
func (t *Tables) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	out := []storage.User{}
	if q.Limit <= 0 {
		return out, nil
	}
	where := []string{"id > ?"}
	args := []any{q.AfterID}
	if q.IsActive != nil {
		where, args = append(where, "is_active = ?"), append(args, *q.IsActive)
	}
	if q.IsStaff != nil {
		where, args = append(where, "is_staff = ?"), append(args, *q.IsStaff)
	}
	if q.Q != "" {
		if !ValidText(q.Q) {
			return out, nil
		}
		key := storage.EmailKey(q.Q)
		email := "email_key" + t.d.Bytewise + " >= ?"
		args = append(args, key)
		if end := PrefixEnd(key); end != "" {
			email += " AND email_key" + t.d.Bytewise + " < ?"
			args = append(args, end)
		}
		where = append(where, "(("+email+`) OR lower(name) LIKE ? ESCAPE '\')`)
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(q.Q))+"%")
	}
	rows, err := t.query(ctx, `SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT ?`, append(args, q.Limit)...)
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
	row := t.w.QueryRowContext(ctx, t.d.rebind(`UPDATE users SET email = COALESCE(?, email),
		email_key = COALESCE(?, email_key), name = COALESCE(?, name), is_active = COALESCE(?, is_active),
		is_staff = COALESCE(?, is_staff), is_superuser = COALESCE(?, is_superuser)
		WHERE id = ? AND `+keepsSuperuser+` RETURNING `+userColumns),
		nullString(ch.Email), key, nullString(ch.Name), active, nullBool(ch.IsStaff), super,
		id, active, super, id)
	u, err := t.scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.User{}, fmt.Errorf("update user %d: %w", id, t.whyUnchanged(ctx, id))
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("update user %d: %w", id, t.d.Translate(err))
	}
	return u, nil
}

// DeleteUserKeepingSuperuser deletes the user (its families by cascade)
// unless it is the last active superuser.
func (t *Tables) DeleteUserKeepingSuperuser(ctx context.Context, id int64) error {
	no := false
	res, err := t.exec(ctx, `DELETE FROM users WHERE id = ? AND `+keepsSuperuser, id, no, no, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("delete user %d: %w", id, t.whyUnchanged(ctx, id))
	}
	return nil
}

// whyUnchanged tells, after a conditional statement touched nothing,
// whether the user is missing or the superuser condition refused.
func (t *Tables) whyUnchanged(ctx context.Context, id int64) error {
	var one int
	err := t.w.QueryRowContext(ctx, t.d.rebind(`SELECT 1 FROM users WHERE id = ?`), id).Scan(&one)
	if err != nil {
		return t.scanErr(err)
	}
	return storage.ErrLastSuperuser
}
