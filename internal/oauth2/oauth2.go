package oauth2

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
	"github.com/idp/idp/internal/tokens"
)

// Clients is what the surface needs of the client registry
// (*clients.Registry).
type Clients interface {
	Authenticate(ctx context.Context, id, secret string, hasSecret bool) (storage.Client, error)
	Scopes(c storage.Client, requested []string, withUser bool, within []string) ([]string, error)
	KnownScopes() []string
	// Lookup returns a client by id (storage.ErrNotFound: none).
	Lookup(ctx context.Context, id string) (storage.Client, error)
}

// Tokens is what the surface needs of the token engine (*tokens.Service).
type Tokens interface {
	IssueClient(ctx context.Context, g tokens.Grant) (tokens.GrantTokens, error)
	LoginGrant(ctx context.Context, u storage.User, g tokens.Grant, withRefresh bool, c tokens.Client) (tokens.GrantTokens, error)
	RefreshGrant(ctx context.Context, refresh string, g tokens.Grant, c tokens.Client) (tokens.GrantTokens, error)
	Introspect(ctx context.Context, token string) (tokens.Introspection, error)
	RevokeGrant(ctx context.Context, token, clientID string, c tokens.Client) error
}

// Guard throttles failed client authentications (*throttle.Guard): the
// client id stands where a login's email does, so failures count per
// client, per IP and per (client, IP) with the login.* limits.
type Guard interface {
	Admit(ctx context.Context, a throttle.Attempt) (time.Duration, error)
	Failed(ctx context.Context, a throttle.Attempt) error
}

// Options configure the surface.
type Options struct {
	Clients Clients
	Tokens  Tokens
	// Passwords serves the password grant; nil: the grant is not offered.
	Passwords PasswordLogin
	// Guard may be nil (no throttling: tests).
	Guard Guard
	// Issuer is the iss of idp's tokens; endpoint URLs start with it.
	Issuer string
	// MaxBodyBytes bounds request bodies; default 64 KiB.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// OIDC adds the authorization endpoint, the authorization_code grant
	// and userinfo; zero: not offered.
	OIDC OIDC
	// Now defaults to time.Now.
	Now func() time.Time
}

type surface struct {
	clients   Clients
	tokens    Tokens
	passwords PasswordLogin
	guard     Guard
	issuer    string
	maxBody   int64
	grants    map[string]grantHandler
	metadata  []byte
	log       *slog.Logger
	oidc      OIDC
	now       func() time.Time
}

// Mount adds the OAuth 2.0 endpoints to e.
func Mount(e *echo.Echo, opts Options) {
	s := newSurface(opts)
	s.metadata = s.metadataDocument(opts.Issuer)
	e.Any("/oauth2/token", s.handle(s.token))
	e.Any("/oauth2/introspect", s.handle(s.introspect))
	e.Any("/oauth2/revoke", s.handle(s.revoke))
	e.GET(metadataPath(opts.Issuer), s.serveMetadata)
	if s.oidc.Flow != nil {
		e.Match([]string{http.MethodGet, http.MethodPost}, "/oauth2/authorize", s.authorize)
		e.GET("/oauth2/authorize/resume", s.resume)
		e.Any("/oauth2/userinfo", s.userinfo)
	}
}

// MetadataFields are the fields the surface adds to a metadata document
// (see Metadata), for server to merge into the OpenID discovery document.
func MetadataFields(opts Options) map[string]any { return newSurface(opts).Metadata() }

func newSurface(opts Options) *surface {
	s := &surface{
		clients: opts.Clients, tokens: opts.Tokens, passwords: opts.Passwords, guard: opts.Guard,
		issuer: strings.TrimSuffix(opts.Issuer, "/"), maxBody: opts.MaxBodyBytes, log: opts.Logger,
		oidc: opts.OIDC, now: opts.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = 64 << 10
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.grants = map[string]grantHandler{
		"client_credentials": s.clientCredentials,
		"refresh_token":      s.refreshToken,
	}
	if s.passwords != nil {
		s.grants["password"] = s.password
	}
	if s.oidc.Flow != nil {
		s.grants["authorization_code"] = s.authorizationCode
	}
	return s
}

// handle renders the *Error an endpoint returns and logs its cause; the
// one place errors of this surface are written.
func (s *surface) handle(h func(c echo.Context) *Error) echo.HandlerFunc {
	return func(c echo.Context) error {
		e := h(c)
		if e == nil {
			return nil
		}
		if e.Status >= 500 {
			s.log.ErrorContext(c.Request().Context(), "oauth2 request failed", "path", c.Path(), "err", e.Cause)
		} else if e.Cause != nil {
			s.log.DebugContext(c.Request().Context(), "oauth2 request refused", "path", c.Path(), "error", e.Code, "reason", e.Cause.Error())
		}
		return render(c, e)
	}
}

// ok writes a JSON answer that must not be cached.
func ok(c echo.Context, body any) *Error {
	noStore(c)
	if err := c.JSON(http.StatusOK, body); err != nil {
		return serverError(err)
	}
	return nil
}

func clientOf(c echo.Context) tokens.Client {
	ua := c.Request().UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return tokens.Client{IP: c.RealIP(), UserAgent: ua}
}

// isAny reports whether err is one of targets.
func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
