package storage

import (
	"context"
	"time"
)

// BrowserSession is the server-side state of a browser session cookie
// (internal/websession): the single sign-on session of the hosted login,
// whose ID is the OIDC `sid`. The cookie carries ID and a secret; only a
// hash of the secret is stored.
type BrowserSession struct {
	ID         string
	SecretHash string
	// UserID is 0 for an anonymous session (a visitor who has not logged in
	// yet: it binds the login form's CSRF token).
	UserID int64
	// AuthTime is when the user last authenticated (zero if anonymous).
	AuthTime   time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	// IdleExpiresAt slides with use; ExpiresAt is the absolute end.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
	EndedAt       time.Time // zero while live
	UserAgent     string
	IP            string
}

// BrowserSessions stores browser sessions.
type BrowserSessions interface {
	// CreateBrowserSession inserts s. ErrConflict if the id exists.
	CreateBrowserSession(ctx context.Context, s BrowserSession) error
	// GetBrowserSession returns the session (live or not), or ErrNotFound.
	GetBrowserSession(ctx context.Context, id string) (BrowserSession, error)
	// TouchBrowserSession records use at `at`, moving IdleExpiresAt to
	// idleExpires (never past ExpiresAt), in ONE conditional update: only a
	// live session (not ended, neither expiry reached at `at`) is touched,
	// otherwise ErrNotFound.
	TouchBrowserSession(ctx context.Context, id string, at, idleExpires time.Time) error
	// EndBrowserSession ends a live session; reports whether this call ended
	// it. ErrNotFound if there is no such session.
	EndBrowserSession(ctx context.Context, id string, at time.Time) (bool, error)
	// EndUserBrowserSessions ends every live session of the user; returns
	// how many.
	EndUserBrowserSessions(ctx context.Context, userID int64, at time.Time) (int64, error)
	// DeleteDeadBrowserSessions deletes up to limit sessions ended or
	// expired (either expiry) at or before cutoff; returns how many.
	DeleteDeadBrowserSessions(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}
