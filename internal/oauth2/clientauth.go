package oauth2

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
)

// credentials are what a request presents to authenticate its client.
type credentials struct {
	id, secret string
	hasSecret  bool
	basic      bool // from the Authorization header
}

// clientCredentials reads client_secret_basic or client_secret_post (or a
// public client's bare client_id). Using both methods at once is
// invalid_request (RFC 6749 §2.3).
func clientCredentials(c echo.Context, f form) (credentials, *Error) {
	h := c.Request().Header.Values("Authorization")
	if len(h) > 1 {
		return credentials{}, badRequest(errInvalidRequest, "more than one Authorization header")
	}
	if len(h) == 1 {
		scheme, value, _ := strings.Cut(h[0], " ")
		if !strings.EqualFold(scheme, "Basic") {
			return credentials{}, &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Basic: true,
				Description: "client authentication must use HTTP Basic (client_secret_basic) or the body (client_secret_post)"}
		}
		cr, ok := parseBasic(strings.TrimSpace(value))
		if !ok {
			return credentials{}, &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Basic: true,
				Description: "malformed HTTP Basic credentials (RFC 6749 §2.3.1: base64 of form-urlencoded id:secret)"}
		}
		if f.has("client_secret") {
			return credentials{}, badRequest(errInvalidRequest, "the client authenticated both with HTTP Basic and client_secret; use one method")
		}
		if id := f.get("client_id"); id != "" && id != cr.id {
			return credentials{}, &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Basic: true,
				Description: "client_id differs from the HTTP Basic client"}
		}
		return cr, nil
	}
	cr := credentials{id: f.get("client_id"), secret: f.get("client_secret"), hasSecret: f.has("client_secret")}
	if cr.id == "" {
		return credentials{}, &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Basic: true,
			Description: "client authentication required (HTTP Basic, or client_id in the body)"}
	}
	return cr, nil
}

// parseBasic decodes "base64(urlencode(id):urlencode(secret))".
func parseBasic(v string) (credentials, bool) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return credentials{}, false
	}
	encID, encSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return credentials{}, false
	}
	id, err1 := url.QueryUnescape(encID)
	secret, err2 := url.QueryUnescape(encSecret)
	if err1 != nil || err2 != nil || id == "" {
		return credentials{}, false
	}
	return credentials{id: id, secret: secret, hasSecret: true, basic: true}, true
}

// authenticate identifies the request's client. A failure is counted by
// the guard and answered 401 invalid_client; once the client, IP or pair
// is blocked, 429 with Retry-After. A success is not throttled: secrets
// are 256 random bits, so a right one is the client's, and checking costs
// a hash, not a password hash — the guard exists to stop floods of
// failures, which it does without a read on every good request.
func (s *surface) authenticate(c echo.Context, f form) (storage.Client, *Error) {
	cr, e := clientCredentials(c, f)
	if e != nil {
		return storage.Client{}, e
	}
	ctx := c.Request().Context()
	client, err := s.clients.Authenticate(ctx, cr.id, cr.secret, cr.hasSecret)
	if err == nil {
		return client, nil
	}
	if !errors.Is(err, clients.ErrInvalidClient) {
		return storage.Client{}, serverError(err)
	}
	fail := &Error{Status: http.StatusUnauthorized, Code: errInvalidClient, Basic: cr.basic,
		Description: "client authentication failed", Cause: err}
	if s.guard == nil {
		return storage.Client{}, fail
	}
	a := throttle.Attempt{Email: "client:" + cr.id, IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
	wait, gerr := s.guard.Admit(ctx, a)
	switch {
	case gerr != nil:
		return storage.Client{}, serverError(gerr)
	case wait > 0:
		return storage.Client{}, &Error{Status: http.StatusTooManyRequests, Code: errInvalidClient, Basic: cr.basic,
			Description: "too many failed client authentications; retry later", RetryAfter: wait, Cause: err}
	}
	if gerr := s.guard.Failed(ctx, a); gerr != nil {
		return storage.Client{}, serverError(gerr)
	}
	return storage.Client{}, fail
}
