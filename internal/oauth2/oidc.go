package oauth2

import (
	"context"
	"time"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// What the OpenID Connect parts of the surface (authorize, the
// authorization_code grant, userinfo) need of the core.

// Flow is the authorization code flow's state (*authorize.Service).
type Flow interface {
	Park(ctx context.Context, r authorize.Request) (string, authorize.Request, error)
	Pending(ctx context.Context, id string) (authorize.Request, error)
	Finish(ctx context.Context, id string) error
	IssueCode(ctx context.Context, c authorize.Code) (string, error)
	Redeem(ctx context.Context, code string) (authorize.Code, error)
	Issued(ctx context.Context, code, familyID, accessJTI string, accessExpiresAt time.Time) error
	Consented(ctx context.Context, userID int64, clientID string, scopes []string) (bool, error)
	Link(ctx context.Context, l storage.GrantLink) error
	LinkOf(ctx context.Context, familyID string) (storage.GrantLink, error)
}

// Accounts reads users (*users.Service).
type Accounts interface {
	Get(ctx context.Context, id int64) (storage.User, error)
}

// IDTokens signs ID tokens (*tokens.Service).
type IDTokens interface {
	SignIDToken(t tokens.IDToken) (string, error)
}

// OIDC configures the OpenID Connect endpoints; nil Flow: not mounted.
type OIDC struct {
	Flow     Flow
	Accounts Accounts
	IDTokens IDTokens
	// Sessions is the SSO browser session (*websession.Manager).
	Sessions Sessions
	// LoginPath and ConsentPath are the hosted pages (internal/login),
	// reached by redirect with ?req=<pending request id>.
	LoginPath   string
	ConsentPath string
	// EndSessionPath is the RP-initiated logout endpoint (internal/login).
	EndSessionPath string
	IDTokenTTL     time.Duration
}
