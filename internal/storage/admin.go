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

// UserQuery selects users for an admin list. Without Q the list is in id
// order; with Q it is in the order of the stored email keys (byte-wise),
// so that the email-prefix match is one range of an index read in order
// and a page costs the same however many users match, wherever they are.
type UserQuery struct {
	// Q matches an email prefix or a name substring, case-insensitively;
	// % and _ are literal. Empty: every user.
	Q string
	// IsActive and IsStaff filter when set.
	IsActive, IsStaff *bool
	// After is the keyset cursor: the Position of the last user of the
	// previous page (the zero value: from the start). Without Q only its
	// ID counts, with Q only its EmailKey: only users after it are listed,
	// so a page is stable under inserts.
	After UserPosition
	Limit int
}

// UserPosition is where a user stands in the admin lists: its id (lists
// without Q) and its email key as stored (searches by Q).
type UserPosition struct {
	ID       int64
	EmailKey string
}

// ListedUser is a user in an admin list with its position there.
type ListedUser struct {
	User
	Position UserPosition
}

// UserChange is a partial update of a user; nil fields stay as they are.
// Email must be normalised already.
type UserChange struct {
	Email, Name                    *string
	IsActive, IsStaff, IsSuperuser *bool
}

// UserDirectory is what the admin surfaces need of accounts beyond Users.
type UserDirectory interface {
	// SearchUsers returns up to q.Limit users matching q, in the order
	// UserQuery describes.
	SearchUsers(ctx context.Context, q UserQuery) ([]ListedUser, error)
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
