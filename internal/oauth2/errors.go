package oauth2

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// RFC 6749 §5.2 error codes, RFC 8707's invalid_target, and RFC 7009's
// unsupported_token_type.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errInvalidGrant         = "invalid_grant"
	errUnauthorizedClient   = "unauthorized_client"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidScope         = "invalid_scope"
	errInvalidTarget        = "invalid_target"
	errServerError          = "server_error"
	errTemporarilyUnavail   = "temporarily_unavailable"
)

// Error is an RFC 6749 error answer: a public code and description, and a
// private cause for the log only.
type Error struct {
	Status      int
	Code        string
	Description string
	// Basic asks for WWW-Authenticate: Basic (invalid_client after the
	// client tried HTTP Basic authentication, RFC 6749 §5.2).
	Basic bool
	// RetryAfter, when positive, is sent as Retry-After.
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("oauth2 %s: %s: %v", e.Code, e.Description, e.Cause)
	}
	return fmt.Sprintf("oauth2 %s: %s", e.Code, e.Description)
}

func (e *Error) Unwrap() error { return e.Cause }

func oauthError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

func badRequest(code, format string, args ...any) *Error {
	return oauthError(http.StatusBadRequest, code, format, args...)
}

func serverError(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: errServerError,
		Description: "the server could not complete the request", Cause: cause}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// noStore marks a response that carries (or refuses) tokens as
// uncacheable (RFC 6749 §5.1).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// render writes e. Causes are logged by the caller, never sent.
func render(c echo.Context, e *Error) error {
	noStore(c)
	h := c.Response().Header()
	if e.Basic || e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="oauth2", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	return c.JSON(e.Status, errorBody{Error: e.Code, Description: e.Description})
}
