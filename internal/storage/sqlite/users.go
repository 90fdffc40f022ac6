package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

const userColumns = `id, email, name, password_hash, is_active, is_staff, is_superuser, is_admin,
	date_joined, last_login, password_changed_at`

func scanUser(row scanner) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.IsActive, &u.IsStaff, &u.IsSuperuser, &u.IsAdmin,
		microTime{&u.DateJoined}, microTime{&u.LastLogin}, microTime{&u.PasswordChangedAt})
	return u, err
}

// CreateUser inserts u and returns it as stored, with its new ID.
func (s *Store) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := checkText(u.Email, u.Name, u.PasswordHash); err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	row := s.w.QueryRowContext(ctx, `INSERT INTO users (email, email_key, name, password_hash,
		is_active, is_staff, is_superuser, is_admin, date_joined, last_login, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+userColumns,
		u.Email, storage.EmailKey(u.Email), u.Name, u.PasswordHash,
		u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin,
		micros(u.DateJoined), micros(u.LastLogin), micros(u.PasswordChangedAt))
	created, err := scanUser(row)
	if err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", translate(err))
	}
	return created, nil
}

// GetUser returns the user with that id.
func (s *Store) GetUser(ctx context.Context, id int64) (storage.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return storage.User{}, fmt.Errorf("get user %d: %w", id, translate(err))
	}
	return u, nil
}

// GetUserByEmail looks the user up by storage.EmailKey(email).
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	if !validText(email) {
		return storage.User{}, fmt.Errorf("get user by email: %w", storage.ErrNotFound)
	}
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`,
		storage.EmailKey(email)))
	if err != nil {
		return storage.User{}, fmt.Errorf("get user by email: %w", translate(err))
	}
	return u, nil
}

// ListUsers returns up to limit users with id > afterID, by id.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]storage.User, error) {
	users := []storage.User{}
	if limit <= 0 {
		return users, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`,
		afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// SetLastLogin records a successful login.
func (s *Store) SetLastLogin(ctx context.Context, id int64, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET last_login = ? WHERE id = ?`, micros(at), id)
	if err == nil {
		err = rowsAffected(res)
	}
	if err != nil {
		return fmt.Errorf("set last login of user %d: %w", id, translate(err))
	}
	return nil
}

// SetPasswordHash replaces the hash, and PasswordChangedAt unless changedAt
// is zero.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error {
	if err := checkText(hash); err != nil {
		return fmt.Errorf("set password of user %d: %w", id, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = ?,
		password_changed_at = COALESCE(?, password_changed_at) WHERE id = ?`, hash, micros(changedAt), id)
	if err == nil {
		err = rowsAffected(res)
	}
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", id, translate(err))
	}
	return nil
}

// SwapPasswordHash replaces the hash only while it is still oldHash.
func (s *Store) SwapPasswordHash(ctx context.Context, id int64, oldHash, newHash string) error {
	if err := checkText(newHash); err != nil {
		return fmt.Errorf("rehash password of user %d: %w", id, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, newHash, id, oldHash)
	if err == nil {
		err = rowsAffected(res)
	}
	if err != nil {
		return fmt.Errorf("rehash password of user %d: %w", id, translate(err))
	}
	return nil
}

// SetUserActive activates or deactivates the user.
func (s *Store) SetUserActive(ctx context.Context, id int64, active bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET is_active = ? WHERE id = ?`, active, id)
	if err == nil {
		err = rowsAffected(res)
	}
	if err != nil {
		return fmt.Errorf("set active of user %d: %w", id, translate(err))
	}
	return nil
}

// DeleteUser removes the user; its families go by ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err == nil {
		err = rowsAffected(res)
	}
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, translate(err))
	}
	return nil
}
