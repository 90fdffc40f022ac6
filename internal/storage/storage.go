// Package storage defines idp's records, the sentinel errors every backend
// returns, and one small interface per entity. It imports nothing of idp's.
// The backends (storage/postgres, storage/sqlite) implement it and translate
// their driver errors into the sentinels below; storage/storagetest holds
// the one conformance suite both must pass.
package storage

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: no row matched (including a conditional update whose
	// condition no longer holds).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a uniqueness constraint refused the write.
	ErrConflict = errors.New("storage: conflict")
)

// Store is everything idp keeps, as one value for wiring. Code that needs
// one entity should accept the narrow interface instead.
type Store interface {
	Users
	SigningKeys
	Families
	Throttles
	Audit
	Clients
	RevokedTokens
	UserDirectory
	AuditLog
	BrowserSessions
	Revocations
	AuditRetention
	EmailKeys
	AuthorizationRequests
	AuthorizationCodes
	Consents
	GrantLinks
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Unavailable reports whether err (returned by this store) is a fault
	// of the database — unreachable, read-only, disk full — rather than of
	// the request: answer 503 with Retry-After, not 500.
	Unavailable(err error) bool
	// Backend names the implementation ("postgres" or "sqlite").
	Backend() string
	Close() error
}

// User is an account. Email is the identity: unique case-insensitively
// (see EmailKey), stored as normalised at registration.
type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string
	IsActive     bool
	IsStaff      bool
	IsSuperuser  bool
	IsAdmin      bool
	DateJoined   time.Time
	// LastLogin is the zero time until the first login.
	LastLogin time.Time
	// PasswordChangedAt is when the password was last set by its owner or an
	// admin (not by a transparent rehash). Sessions older than it are void.
	PasswordChangedAt time.Time
}

// Users stores accounts.
type Users interface {
	// CreateUser inserts u (its ID is ignored) and returns it with the
	// assigned ID. ErrConflict if the email is taken, in any case.
	CreateUser(ctx context.Context, u User) (User, error)
	// GetUser returns the user with that id, or ErrNotFound.
	GetUser(ctx context.Context, id int64) (User, error)
	// GetUserByEmail looks the email up case-insensitively, or ErrNotFound.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns up to limit users with id > afterID, by id.
	ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error)
	// SetLastLogin records a successful login. ErrNotFound if no such user.
	SetLastLogin(ctx context.Context, id int64, at time.Time) error
	// SetPasswordHash replaces the stored hash. changedAt is recorded as
	// PasswordChangedAt unless it is the zero time (a transparent rehash on
	// login). ErrNotFound if no such user.
	SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error
	// SwapPasswordHash replaces the hash only while it is still oldHash (one
	// conditional update; PasswordChangedAt unchanged): a transparent rehash
	// on login can never undo a concurrent password change. ErrNotFound if
	// the user is gone or the hash has changed.
	SwapPasswordHash(ctx context.Context, id int64, oldHash, newHash string) error
	// SetUserActive activates or deactivates. ErrNotFound if no such user.
	SetUserActive(ctx context.Context, id int64, active bool) error
	// DeleteUser removes the user and, by cascade, its refresh families.
	// ErrNotFound if no such user.
	DeleteUser(ctx context.Context, id int64) error
}

// KeyState is a signing key's place in its lifecycle.
type KeyState string

const (
	// KeyNext is published in the JWKS but does not sign yet.
	KeyNext KeyState = "next"
	// KeyActive signs; exactly one per algorithm.
	KeyActive KeyState = "active"
	// KeyRetired is published and verifies, no longer signs.
	KeyRetired KeyState = "retired"
	// KeyRevoked is withdrawn: not published, its tokens rejected.
	KeyRevoked KeyState = "revoked"
)

// SigningKey is one asymmetric key. The private key is stored sealed
// (encrypted under a key-encryption key); storage never sees it in clear.
type SigningKey struct {
	KID   string
	Alg   string // JWA name: "RS256", "EdDSA", …
	State KeyState
	// PrivateKey is the sealed private key (opaque to storage).
	PrivateKey []byte
	// PublicJWK is the public key as a JWK JSON document.
	PublicJWK []byte
	CreatedAt time.Time
	// ActivatesAt is when the key may become (or became) active.
	ActivatesAt time.Time
	// RetiredAt is when it stopped signing; zero while next or active.
	RetiredAt time.Time
	// ExpiresAt is when it leaves the JWKS; zero if not scheduled.
	ExpiresAt    time.Time
	RevokedAt    time.Time
	RevokeReason string
}

// KeyChanges is what a key-set update writes, in one transaction.
type KeyChanges struct {
	// Insert adds new keys.
	Insert []SigningKey
	// Update rewrites existing keys (matched by KID) entirely.
	Update []SigningKey
	// Delete removes keys by KID.
	Delete []string
}

// Empty reports whether there is nothing to write.
func (c KeyChanges) Empty() bool {
	return len(c.Insert) == 0 && len(c.Update) == 0 && len(c.Delete) == 0
}

// SigningKeys stores the signing key set.
type SigningKeys interface {
	// ListSigningKeys returns every stored key, ordered by CreatedAt then KID.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys holds an exclusive lock on the key set (a row lock on
	// Postgres, the write lock on SQLite) while it reads the current keys,
	// passes them to decide, and writes the changes decide returns — all in
	// one transaction. decide must re-check whatever made the caller want to
	// change the keys: another instance may have done it already, in which
	// case decide returns empty changes and nothing is written. An error from
	// decide rolls back and is returned unchanged.
	UpdateSigningKeys(ctx context.Context, decide func(current []SigningKey) (KeyChanges, error)) error
}

// Family is one login session: the chain of refresh tokens issued from one
// login. Exactly one token of the chain (CurrentJTI) is live at a time.
type Family struct {
	ID     string
	UserID int64
	// CreatedAt is the login time.
	CreatedAt time.Time
	// ExpiresAt is the absolute end of the session, whatever refreshes happen.
	ExpiresAt time.Time
	// CurrentJTI is the jti of the only refresh token that may be used.
	CurrentJTI string
	// CurrentKID is the signing key of the current refresh token.
	CurrentKID string
	// Generation counts rotations: 0 for the token issued at login.
	Generation int64
	// PreviousJTI is the jti CurrentJTI replaced ("" at generation 0).
	PreviousJTI string
	// RotatedAt is when CurrentJTI was issued (CreatedAt at generation 0).
	RotatedAt    time.Time
	RevokedAt    time.Time // zero while live
	RevokeReason string
	UserAgent    string
	IP           string
}

// Rotation is a conditional replacement of a family's current token.
type Rotation struct {
	FamilyID string
	// OldJTI must be the family's current jti for the rotation to happen.
	OldJTI string
	NewJTI string
	NewKID string
	// At is the rotation time; the family must not be expired at At.
	At time.Time
}

// Families stores refresh-token families.
type Families interface {
	// CreateFamily inserts f. ErrConflict if the id exists.
	CreateFamily(ctx context.Context, f Family) error
	// GetFamily returns the family, or ErrNotFound.
	GetFamily(ctx context.Context, id string) (Family, error)
	// RotateFamily is ONE conditional update: if the family exists, is not
	// revoked, has not reached ExpiresAt and its current jti is r.OldJTI, the
	// current jti becomes r.NewJTI (previous ← old, generation+1, rotated at
	// r.At) and the updated family is returned. Otherwise nothing changes and
	// ErrNotFound is returned; the caller reads the family to learn why.
	RotateFamily(ctx context.Context, r Rotation) (Family, error)
	// RevokeFamily marks a live family revoked. It reports whether this call
	// revoked it (false if it was already revoked). ErrNotFound if no such
	// family.
	RevokeFamily(ctx context.Context, id string, at time.Time, reason string) (bool, error)
	// RevokeUserFamilies revokes every live family of the user and returns
	// how many it revoked.
	RevokeUserFamilies(ctx context.Context, userID int64, at time.Time, reason string) (int64, error)
	// RevokeFamiliesByKID revokes every live family whose current refresh
	// token the key kid signed (the key was revoked) and returns how many.
	RevokeFamiliesByKID(ctx context.Context, kid string, at time.Time, reason string) (int64, error)
	// ListLiveFamilies returns the user's families that can still refresh
	// at f.Now: not revoked, ExpiresAt after f.Now, RotatedAt after
	// f.IdleCutoff. Newest first.
	ListLiveFamilies(ctx context.Context, userID int64, f LiveFamilies) ([]Family, error)
	// DeleteDeadFamilies deletes at most limit families that can never be
	// used again: unrevoked ones whose absolute (ExpiresAt <= c.Now) or idle
	// (RotatedAt <= c.IdleCutoff) lifetime has passed, and revoked ones
	// revoked at or before c.RevokedCutoff. It returns how many it deleted;
	// fewer than limit means none are left. Each call is one short
	// statement, so a large backlog never locks the table for long.
	DeleteDeadFamilies(ctx context.Context, c FamilyCleanup, limit int) (int64, error)
}

// LiveFamilies selects the families that can still refresh.
type LiveFamilies struct {
	Now        time.Time
	IdleCutoff time.Time // now - refresh-token lifetime
}

// FamilyCleanup says which families are dead.
type FamilyCleanup struct {
	Now           time.Time
	IdleCutoff    time.Time // now - refresh-token lifetime
	RevokedCutoff time.Time // now - retention of revoked families
}

// Throttle is the failure count of one key (an account, a client IP, or
// both) in its current window.
type Throttle struct {
	Key         string
	WindowStart time.Time
	Failures    int64
	// BlockedUntil is when attempts are allowed again; zero if not blocked.
	BlockedUntil time.Time
}

// Throttles counts failed logins, shared by every instance.
type Throttles interface {
	// GetThrottles returns the stored state of the keys that have one.
	GetThrottles(ctx context.Context, keys []string) ([]Throttle, error)
	// AddFailure counts one failure of key at now in ONE atomic upsert: a
	// window that started at or before now - window restarts at now with a
	// count of 1, otherwise the count grows by 1. It returns the new state
	// (BlockedUntil unchanged).
	AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (Throttle, error)
	// BlockThrottle sets key's BlockedUntil (never moving it earlier).
	BlockThrottle(ctx context.Context, key string, until time.Time) error
	// ResetThrottle forgets key (after a successful login).
	ResetThrottle(ctx context.Context, key string) error
	// UndoFailure takes back one failure AddFailure counted for key, for
	// an attempt that was never judged (the server was too busy to check
	// the password): one conditional update, never below zero; a missing
	// key is nothing to undo.
	UndoFailure(ctx context.Context, key string) error
	// DeleteStaleThrottles deletes at most limit keys whose window started
	// before cutoff and whose block has ended by cutoff; returns how many.
	DeleteStaleThrottles(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// AuditEvent is one security-relevant event.
type AuditEvent struct {
	ID        int64 // assigned by the store
	At        time.Time
	Type      string // e.g. "login.succeeded", "refresh.reuse_detected"
	UserID    int64  // 0 if none
	FamilyID  string
	KID       string
	IP        string
	UserAgent string
	// Detail is free text without secrets.
	Detail string
	// ActorID is the admin who made the change (0: the system or the user
	// themselves).
	ActorID int64
	// TargetType and TargetID name what an admin change was made to
	// ("user", "session", "key", "client"); empty for other events.
	TargetType, TargetID string
}

// Audit stores audit events.
type Audit interface {
	// RecordAudit appends an event.
	RecordAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns up to limit events with id > afterID, by id.
	ListAudit(ctx context.Context, afterID int64, limit int) ([]AuditEvent, error)
}

// RevokedFamily is a family's id and when it was revoked.
type RevokedFamily struct {
	ID        string
	RevokedAt time.Time
}

// Revocations lists recent session revocations, so that every instance
// can refuse the access tokens of sessions revoked anywhere.
type Revocations interface {
	// RevokedFamiliesSince returns at most limit families revoked at or
	// after since, by revocation time (oldest first).
	RevokedFamiliesSince(ctx context.Context, since time.Time, limit int) ([]RevokedFamily, error)
}

// AuditRetention deletes old audit events.
type AuditRetention interface {
	// DeleteAuditBefore deletes at most limit events older than cutoff and
	// returns how many; fewer than limit means none are left. One short
	// statement per call.
	DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// RekeyPage is one page of RekeyEmails.
type RekeyPage struct {
	// Next is the afterID of the next page; Done when none is left.
	Next int64
	Done bool
	// Updated rows now carry EmailKey(email).
	Updated int
	// Conflicts are users whose new key is another user's: left as they
	// were, for an operator to resolve.
	Conflicts []int64
}

// EmailKeys re-derives stored email keys after EmailKey changed.
type EmailKeys interface {
	// RekeyEmails reads up to limit users with id > afterID and updates the
	// email_key of those whose key is not EmailKey(email).
	RekeyEmails(ctx context.Context, afterID int64, limit int) (RekeyPage, error)
}
