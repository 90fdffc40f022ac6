package storage

import (
	"context"
	"time"
)

// UserImports loads accounts from another system — `idp users import`
// from the Django app — keeping their ids. Both backends implement it
// (it is not part of Store, so that fakes of Store need not).
type UserImports interface {
	// BeginUserImport opens one import transaction.
	BeginUserImport(ctx context.Context) (UserImport, error)
}

// UserImport is one import, all in one transaction. Users are first
// staged (into a temporary table of the transaction, in batches, so that
// memory stays bounded), then checked against each other and the stored
// accounts (Clashes), the clashing ones dropped, and the rest applied.
// Nothing is visible to others before Commit; Rollback, or an error from
// any method followed by Rollback, leaves the store as it was. The id
// sequence is moved past the highest id by Commit, so later
// registrations never collide with imported ids.
type UserImport interface {
	// Stage adds users with their IDs as given (no checks yet; EmailKey is
	// computed from Email).
	Stage(ctx context.Context, users []User) error
	// Clashes returns every staged user that cannot be applied as it is,
	// by kind then id, after locking the users table against concurrent
	// writers (Postgres) so that the answer holds until Commit.
	Clashes(ctx context.Context) ([]ImportClash, error)
	// Drop removes staged users by id (the losers of a clash).
	Drop(ctx context.Context, ids []int64) error
	// Apply writes the staged users: ids not yet stored are inserted; ids
	// stored under the same email key are updated if they differ and
	// update is set (see ImportResult.Changed), else left as they are.
	// Clashing users must have been dropped (ErrConflict otherwise). With
	// dryRun it only counts.
	Apply(ctx context.Context, update, dryRun bool) (ImportResult, error)
	Commit(ctx context.Context) error
	// Rollback discards the import; safe to call after Commit (no-op).
	Rollback(ctx context.Context) error
}

// ClashKind says why a staged user cannot be applied.
type ClashKind string

const (
	// ClashDuplicateID: the id was staged more than once.
	ClashDuplicateID ClashKind = "duplicate_id"
	// ClashEmail: several staged users share an email key.
	ClashEmail ClashKind = "email_conflict"
	// ClashIDTaken: a stored user has this id under another email key.
	ClashIDTaken ClashKind = "id_taken"
	// ClashEmailTaken: a stored user with another id has this email key.
	ClashEmailTaken ClashKind = "email_taken"
)

// ImportClash is one staged user in a clash.
type ImportClash struct {
	Kind      ClashKind
	ID        int64
	Email     string
	LastLogin time.Time
	// Existing is the stored user in the way (id_taken, email_taken).
	ExistingID    int64
	ExistingEmail string
}

// ImportResult counts what Apply wrote (or, dry, would write).
type ImportResult struct {
	Inserted int64
	// Existing: staged ids already stored (same email key).
	Existing int64
	// Changed: existing users whose stored values differ from the staged
	// ones: other email spelling, name, flags or date_joined; a newer
	// last_login; or another password hash — unless the stored hash is
	// already idp's own argon2id (the user has logged in to idp or set a
	// password there), which an import never overwrites. Updated when
	// update is set, counted only otherwise.
	Changed int64
}
