package oauth2

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/tokens"
)

// POST /oauth2/revoke (RFC 7009): a refresh token ends its family, an
// access token joins the deny-list until it expires. Invalid, expired and
// unknown tokens are answered 200 (§2.2); a token of another client is
// refused and nothing changes.
func (s *surface) revoke(c echo.Context) *Error {
	f, e := readForm(c, s.maxBody)
	if e != nil {
		return e
	}
	client, e := s.authenticate(c, f)
	if e != nil {
		return e
	}
	tok := f.get("token")
	if tok == "" {
		return badRequest(errInvalidRequest, "token is required")
	}
	err := s.tokens.RevokeGrant(c.Request().Context(), tok, client.ID, clientOf(c))
	switch {
	case err == nil:
		noStore(c)
		return toError(c.NoContent(http.StatusOK))
	case errors.Is(err, tokens.ErrOtherClient):
		return &Error{Status: http.StatusBadRequest, Code: errUnauthorizedClient,
			Description: "the token was not issued to this client", Cause: err}
	}
	return serverError(err)
}

func toError(err error) *Error {
	if err != nil {
		return serverError(err)
	}
	return nil
}
