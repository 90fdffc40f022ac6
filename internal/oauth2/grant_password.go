package oauth2

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
)

// PasswordLogin is the one password-login path (*authn.Service): the
// same brute-force protection, password check and rehash as /api/token/.
type PasswordLogin interface {
	Login(ctx context.Context, in authn.Attempt) (authn.Result, error)
}

// password (RFC 6749 §4.3): for first-party clients allowed it. username
// is the account's email. A refresh token is issued when the client may
// also use the refresh_token grant.
func (s *surface) password(c echo.Context, client storage.Client, f form) *Error {
	if !client.FirstParty {
		return badRequest(errUnauthorizedClient, "the password grant is for first-party clients only")
	}
	username, password := f.get("username"), f.get("password")
	if username == "" || password == "" {
		return badRequest(errInvalidRequest, "username and password are required")
	}
	g, e := s.grantFor(client, f, true)
	if e != nil {
		return e
	}
	ctx := c.Request().Context()
	cl := clientOf(c)
	res, err := s.passwords.Login(ctx, authn.Attempt{Email: username, Password: password, IP: cl.IP, UserAgent: cl.UserAgent})
	var throttled *authn.ThrottledError
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		return &Error{Status: http.StatusBadRequest, Code: errInvalidGrant, Description: "wrong username or password, or inactive account", Cause: err}
	case errors.As(err, &throttled):
		return &Error{Status: http.StatusTooManyRequests, Code: errInvalidGrant, Description: "too many failed logins; retry later",
			RetryAfter: throttled.RetryAfter, Cause: err}
	case errors.Is(err, authn.ErrBusy):
		return &Error{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavail, Description: "the server is busy; retry shortly",
			RetryAfter: time.Second, Cause: err}
	case err != nil:
		return serverError(err)
	}
	out, err := s.tokens.LoginGrant(ctx, res.User, g, clients.Allows(client, clients.GrantRefreshToken), cl)
	if err != nil {
		return serverError(err)
	}
	return issued(c, out)
}
