package oauth2

import (
	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// client_credentials (RFC 6749 §4.4): a confidential client gets an access
// token for itself (sub = client_id), no refresh token. Nothing is written.
func (s *surface) clientCredentials(c echo.Context, client storage.Client, f form) *Error {
	if client.Type != storage.ClientConfidential {
		return badRequest(errUnauthorizedClient, "client_credentials needs a confidential client")
	}
	g, e := s.grantFor(client, f, false)
	if e != nil {
		return e
	}
	out, err := s.tokens.IssueClient(c.Request().Context(), g)
	if err != nil {
		return serverError(err)
	}
	return issued(c, out)
}
