package storage

import (
	"context"
	"errors"
	"time"
)

// The admin surfaces' reads and writes: user search with keyset
// pagination, profile and flag changes that keep an active superuser, and
// audit listing with filters.

// ErrLastSuperuser: the change would leave no active superuser.
var ErrLastSuperuser = errors.New("storage: no active superuser would be left")

// UserQuery selects users for an admin list, by id ascending.
type UserQuery struct {
	// Q matches an email prefix or a name substring, case-insensitively;
	// % and _ are literal. Empty: every user.
	Q string
	// IsActive and IsStaff filter when set.
	IsActive, IsStaff *bool
	// AfterID is the keyset cursor: only users with a greater id.
	AfterID int64
	Limit   int
}

// UserChange is a partial update of a user; nil fields stay as they are.
// Email must be normalised already.
type UserChange struct {
	Email, Name                    *string
	IsActive, IsStaff, IsSuperuser *bool
}

// UserDirectory is what the admin surfaces need of accounts beyond Users.
type UserDirectory interface {
	// SearchUsers returns up to q.Limit users matching q, by id.
	SearchUsers(ctx context.Context, q UserQuery) ([]User, error)
	// UpdateUser applies ch in ONE conditional statement and returns the
	// user as stored. ErrNotFound if no such user, ErrConflict if the email
	// is taken (case-insensitively), ErrLastSuperuser if the user is an
	// active superuser, ch would make them not one, and no other is left.
	UpdateUser(ctx context.Context, id int64, ch UserChange) (User, error)
	// DeleteUserKeepingSuperuser is DeleteUser refusing (ErrLastSuperuser)
	// to delete the last active superuser.
	DeleteUserKeepingSuperuser(ctx context.Context, id int64) error
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	// UserID: events whose subject or actor is this user (0: any).
	UserID int64
	Type   string // exact type; "" any
	// Since and Until bound At (inclusive, exclusive) when not zero.
	Since, Until time.Time
	// BeforeID is the keyset cursor: only events with a smaller id (0: none).
	BeforeID int64
	Limit    int
}

// AuditRecord is an event with the emails of its actor and user, read
// in the same query (empty when the account is gone or there is none).
type AuditRecord struct {
	AuditEvent
	ActorEmail, UserEmail string
}

// AuditLog lists audit events for the admin surfaces.
type AuditLog interface {
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}
