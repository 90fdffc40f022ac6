package oauth2

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// PasswordLogin is the shared password-login path the password grant
// uses (brute-force protection, password check, rehash): internal/authn.
type PasswordLogin interface {
	LoginPassword(ctx context.Context, email, password string, c echo.Context) (storage.User, error)
}

// password (RFC 6749 §4.3): first-party clients only. Wired over
// internal/authn once it has landed.
func (s *surface) password(c echo.Context, client storage.Client, f form) *Error {
	return badRequest(errUnsupportedGrantType, "the password grant is not available yet")
}
