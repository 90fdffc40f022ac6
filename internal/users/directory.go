package users

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// Search returns up to q.Limit users matching q, in the order
// storage.UserQuery describes (by id; by email key when q.Q is set).
func (s *Service) Search(ctx context.Context, q storage.UserQuery) ([]storage.ListedUser, error) {
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
	// Actor is the admin making the change (0: an operator at the CLI),
	// named in the audit event.
	Actor int64
	// IP and UserAgent of the admin's request, for the audit event.
	IP, UserAgent string
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
	old, err := s.store.GetUser(ctx, id)
	if err != nil {
		return storage.User{}, fmt.Errorf("update user: %w", err)
	}
	u, err := d.UpdateUser(ctx, id, sc)
	if err != nil {
		return storage.User{}, fmt.Errorf("update user: %w", err)
	}
	if what := Diff(old, u); what != "" && s.audit != nil {
		e := storage.AuditEvent{At: s.now(), Type: "user.updated", UserID: id, ActorID: ch.Actor, TargetType: "user",
			TargetID: strconv.FormatInt(id, 10), Detail: what, IP: ch.IP, UserAgent: ch.UserAgent}
		if err := s.audit.RecordAudit(ctx, e); err != nil {
			s.log.ErrorContext(ctx, "record audit event", "event", e.Type, "err", err)
		}
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

// Diff names what changed between two versions of a user (never the
// password hash).
func Diff(old, cur storage.User) string {
	var parts []string
	str := func(name, o, n string) {
		if o != n {
			parts = append(parts, fmt.Sprintf("%s: %q -> %q", name, o, n))
		}
	}
	flag := func(name string, o, n bool) {
		if o != n {
			parts = append(parts, fmt.Sprintf("%s: %t -> %t", name, o, n))
		}
	}
	str("name", old.Name, cur.Name)
	str("email", old.Email, cur.Email)
	flag("is_active", old.IsActive, cur.IsActive)
	flag("is_staff", old.IsStaff, cur.IsStaff)
	flag("is_superuser", old.IsSuperuser, cur.IsSuperuser)
	return strings.Join(parts, "; ")
}
