package storage

import (
	"context"
	"time"
)

// AuthorizationRequest is a pending /oauth2/authorize request waiting for
// the hosted login or consent page (internal/authorize owns Data's shape).
type AuthorizationRequest struct {
	ID        string
	ClientID  string
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthorizationRequests stores pending authorization requests.
type AuthorizationRequests interface {
	// CreateAuthorizationRequest inserts r. ErrConflict if the id exists.
	CreateAuthorizationRequest(ctx context.Context, r AuthorizationRequest) error
	// GetAuthorizationRequest returns the request, or ErrNotFound.
	GetAuthorizationRequest(ctx context.Context, id string) (AuthorizationRequest, error)
	// UpdateAuthorizationRequest rewrites Data. ErrNotFound if none.
	UpdateAuthorizationRequest(ctx context.Context, id string, data []byte) error
	// DeleteAuthorizationRequest removes it; reports whether it existed.
	DeleteAuthorizationRequest(ctx context.Context, id string) (bool, error)
	// DeleteExpiredAuthorizationRequests deletes up to limit requests
	// expired at or before now; returns how many.
	DeleteExpiredAuthorizationRequests(ctx context.Context, now time.Time, limit int) (int64, error)
}

// AuthorizationCode is an issued authorization code; only a hash of the
// code is stored. Data (internal/authorize's shape) holds what it binds.
type AuthorizationCode struct {
	Hash      string
	ClientID  string
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// RedeemedAt is zero until the first redemption.
	RedeemedAt time.Time
	// FamilyID and AccessJTI are what the redemption issued ("" if none yet).
	FamilyID        string
	AccessJTI       string
	AccessExpiresAt time.Time
}

// AuthorizationCodes stores authorization codes.
type AuthorizationCodes interface {
	// CreateAuthorizationCode inserts c. ErrConflict if the hash exists.
	CreateAuthorizationCode(ctx context.Context, c AuthorizationCode) error
	// RedeemAuthorizationCode is ONE conditional update: a code not yet
	// redeemed and not expired at `at` is marked redeemed and returned;
	// otherwise nothing changes and ErrNotFound is returned (the caller
	// reads the code to learn whether it is a replay).
	RedeemAuthorizationCode(ctx context.Context, hash string, at time.Time) (AuthorizationCode, error)
	// GetAuthorizationCode returns the code, or ErrNotFound.
	GetAuthorizationCode(ctx context.Context, hash string) (AuthorizationCode, error)
	// SetAuthorizationCodeIssued records what the redemption issued.
	SetAuthorizationCodeIssued(ctx context.Context, hash, familyID, accessJTI string, accessExpiresAt time.Time) error
	// DeleteExpiredAuthorizationCodes deletes up to limit codes expired at
	// or before cutoff; returns how many.
	DeleteExpiredAuthorizationCodes(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// Consent is a user's remembered consent to a client's scopes.
type Consent struct {
	UserID    int64
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Consents stores consents, one per (user, client).
type Consents interface {
	// PutConsent inserts or replaces the consent of (UserID, ClientID).
	PutConsent(ctx context.Context, c Consent) error
	// GetConsent returns the consent, or ErrNotFound.
	GetConsent(ctx context.Context, userID int64, clientID string) (Consent, error)
	// ListConsents returns the user's consents by client id.
	ListConsents(ctx context.Context, userID int64) ([]Consent, error)
	// WithdrawConsent deletes the consent of (userID, clientID) and revokes
	// (at, reason) every unrevoked refresh family of the user linked to
	// that client (GrantLinks), in ONE transaction: both or neither. It
	// returns how many families it revoked; ErrNotFound, changing nothing,
	// if there is no such consent.
	WithdrawConsent(ctx context.Context, userID int64, clientID string, at time.Time, reason string) (int64, error)
}

// GrantLink ties a refresh family issued by an authorization code to the
// browser session (OIDC sid) and client it was issued under: logout ends
// the families of a session, a withdrawn consent those of a client.
type GrantLink struct {
	FamilyID         string
	BrowserSessionID string
	ClientID         string
	UserID           int64
	AuthTime         time.Time
	CreatedAt        time.Time
}

// GrantLinks stores grant links.
type GrantLinks interface {
	// CreateGrantLink inserts l. ErrConflict if the family has one.
	CreateGrantLink(ctx context.Context, l GrantLink) error
	// GetGrantLink returns the family's link, or ErrNotFound.
	GetGrantLink(ctx context.Context, familyID string) (GrantLink, error)
	// ListGrantLinksBySession returns the links of a browser session.
	ListGrantLinksBySession(ctx context.Context, browserSessionID string) ([]GrantLink, error)
	// ListGrantLinksByClient returns the links of (user, client).
	ListGrantLinksByClient(ctx context.Context, userID int64, clientID string) ([]GrantLink, error)
	// MoveGrantLinks re-links every link of browser session from to to
	// (the same user signed in again: a new sid); returns how many.
	MoveGrantLinks(ctx context.Context, from, to string) (int64, error)
	// DeleteGrantLinksBefore deletes up to limit links created at or before
	// cutoff (older than any family can live); returns how many.
	DeleteGrantLinksBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}
