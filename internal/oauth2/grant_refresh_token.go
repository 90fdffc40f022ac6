package oauth2

import (
	"errors"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// refresh_token (RFC 6749 §6): rotate the family of a refresh token issued
// to this client. The scope may be narrowed, never widened; resource picks
// the new access token's audience.
func (s *surface) refreshToken(c echo.Context, client storage.Client, f form) *Error {
	rt := f.get("refresh_token")
	if rt == "" {
		return badRequest(errInvalidRequest, "refresh_token is required")
	}
	g, e := s.grantFor(client, f, true)
	if e != nil {
		return e
	}
	if !f.has("scope") {
		g.Scope = nil // the original grant's
	}
	out, err := s.tokens.RefreshGrant(c.Request().Context(), rt, g, clientOf(c))
	switch {
	case err == nil:
		idToken, e := s.refreshIDToken(c, client, out)
		if e != nil {
			return e
		}
		return issuedWithID(c, out, idToken)
	case errors.Is(err, tokens.ErrScopeWidened):
		return &Error{Status: 400, Code: errInvalidScope, Description: "the requested scope exceeds the original grant", Cause: err}
	case isAny(err, tokens.ErrTokenInvalid, tokens.ErrWrongType, tokens.ErrBlacklisted,
		tokens.ErrNoActiveAccount, tokens.ErrOtherClient):
		return &Error{Status: 400, Code: errInvalidGrant, Description: "the refresh token is invalid, expired, revoked or of another client", Cause: err}
	}
	return serverError(err)
}
