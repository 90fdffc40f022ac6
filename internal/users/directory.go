package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

// The admin surfaces' account operations: search, partial updates and a
// delete that keeps an active superuser. They need a store that is also a
// storage.UserDirectory (both backends are).

// ErrNoDirectory: the store cannot search or update users.
var ErrNoDirectory = errors.New("users: the store has no user directory")

func (s *Service) directory() (storage.UserDirectory, error) {
	d, ok := s.store.(storage.UserDirectory)
	if !ok {
		return nil, ErrNoDirectory
	}
	return d, nil
}

// Search returns up to q.Limit users matching q, by id.
func (s *Service) Search(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	d, err := s.directory()
	if err != nil {
		return nil, err
	}
	us, err := d.SearchUsers(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return us, nil
}

// Change is an admin's partial update of an account; nil fields stay.
type Change struct {
	Name, Email                    *string
	IsActive, IsStaff, IsSuperuser *bool
}

// Update validates ch (name and email as on registration: a
// *ValidationError), normalises the email and applies it in one
// conditional statement: storage.ErrConflict (wrapped) if the email is
// taken, storage.ErrLastSuperuser if no active superuser would be left.
// Deactivating ends the user's sessions.
func (s *Service) Update(ctx context.Context, id int64, ch Change) (storage.User, error) {
	d, err := s.directory()
	if err != nil {
		return storage.User{}, err
	}
	ve := &ValidationError{}
	var sc storage.UserChange
	if ch.Name != nil {
		name := Strip(*ch.Name)
		for _, m := range checkName(name, true) {
			ve.Add(FieldName, m)
		}
		sc.Name = &name
	}
	if ch.Email != nil {
		email := Strip(*ch.Email)
		for _, m := range checkEmail(email) {
			ve.Add(FieldEmail, m)
		}
		email = NormalizeEmail(email)
		sc.Email = &email
	}
	if !ve.Empty() {
		return storage.User{}, ve
	}
	sc.IsActive, sc.IsStaff, sc.IsSuperuser = ch.IsActive, ch.IsStaff, ch.IsSuperuser
	u, err := d.UpdateUser(ctx, id, sc)
	if err != nil {
		return storage.User{}, fmt.Errorf("update user: %w", err)
	}
	if ch.IsActive != nil && !*ch.IsActive {
		if err := s.revokeSessions(ctx, id, s.now(), "user_deactivated"); err != nil {
			return u, err
		}
	}
	return u, nil
}

// DeleteKeepingSuperuser is Delete refusing (storage.ErrLastSuperuser) to
// remove the last active superuser.
func (s *Service) DeleteKeepingSuperuser(ctx context.Context, id int64) error {
	d, err := s.directory()
	if err != nil {
		return err
	}
	if err := d.DeleteUserKeepingSuperuser(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.event(ctx, s.now(), "user.deleted", id, "its sessions deleted with it")
	return nil
}
