package storage

import (
	"context"
	"time"
)

// Client types (RFC 6749 §2.1).
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"
)

// Client is a registered OAuth 2.0 client. Its secret is never stored:
// SecretHash is a hash chosen by internal/clients (opaque here), and a
// rotated-out secret keeps working until PreviousSecretExpiresAt.
type Client struct {
	ID   string
	Name string
	// Type is ClientConfidential or ClientPublic.
	Type                   string
	GrantTypes             []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Scopes                 []string
	// Audiences are the aud values the client's access tokens may carry;
	// the first is the default.
	Audiences []string
	// AccessTTL and RefreshTTL override the global lifetimes; zero: global.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	FirstParty bool
	Enabled    bool
	// SecretHash is empty for public clients.
	SecretHash         string
	PreviousSecretHash string
	// PreviousSecretExpiresAt is when PreviousSecretHash stops working;
	// zero when there is none.
	PreviousSecretExpiresAt time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

// SecretRotation replaces a client's secret, keeping the old one for a
// while, in ONE conditional update.
type SecretRotation struct {
	ClientID string
	NewHash  string
	// PreviousExpiresAt is when the replaced secret stops working; zero or
	// not after At: at once.
	PreviousExpiresAt time.Time
	At                time.Time
}

// Clients stores the OAuth 2.0 client registry.
type Clients interface {
	// CreateClient inserts c. ErrConflict if the id is taken.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns the client, or ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns up to limit clients with id > afterID, by id.
	ListClients(ctx context.Context, afterID string, limit int) ([]Client, error)
	// UpdateClient rewrites every field of the stored client with c.ID
	// except the secrets and CreatedAt. ErrNotFound if there is none.
	UpdateClient(ctx context.Context, c Client) error
	// RotateClientSecret makes the current secret the previous one (valid
	// until r.PreviousExpiresAt) and r.NewHash the current one.
	// ErrNotFound if there is no such client.
	RotateClientSecret(ctx context.Context, r SecretRotation) error
	// DeleteClient removes the client. ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string) error
}

// RevokedToken is an access token withdrawn before its expiry (RFC 7009).
type RevokedToken struct {
	JTI      string
	ClientID string
	// ExpiresAt is the token's exp: after it the entry can go.
	ExpiresAt time.Time
	RevokedAt time.Time
}

// RevokedTokens is the deny-list of access-token jtis.
type RevokedTokens interface {
	// RevokeToken adds t; adding a jti already listed is not an error and
	// keeps the first entry.
	RevokeToken(ctx context.Context, t RevokedToken) error
	// IsTokenRevoked reports whether jti is listed.
	IsTokenRevoked(ctx context.Context, jti string) (bool, error)
	// DeleteExpiredRevokedTokens deletes at most limit entries whose token
	// expired at or before now; returns how many.
	DeleteExpiredRevokedTokens(ctx context.Context, now time.Time, limit int) (int64, error)
}
