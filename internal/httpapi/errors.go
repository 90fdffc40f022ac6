package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/users"
)

// Error is the one error type handlers return. Body is what the client
// sees (already in the contract's shape); Cause is for the log only and
// never reaches a response.
type Error struct {
	Status int
	Body   any
	// Header is extra response headers (Allow, Retry-After, …).
	Header http.Header
	Cause  error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("http %d: %v", e.Status, e.Cause)
	}
	return fmt.Sprintf("http %d", e.Status)
}

func (e *Error) Unwrap() error { return e.Cause }

// detailBody is DRF's {"detail": …} and SimpleJWT's {"detail", "code"}.
type detailBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code,omitempty"`
}

// tokenMessage is one entry of SimpleJWT's "Given token not valid" list.
type tokenMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

type tokenMessagesBody struct {
	Detail   string         `json:"detail"`
	Code     string         `json:"code"`
	Messages []tokenMessage `json:"messages"`
}

func errDetail(status int, detail string) *Error {
	return &Error{Status: status, Body: detailBody{Detail: detail}}
}

func errCode(status int, detail, code string) *Error {
	return &Error{Status: status, Body: detailBody{Detail: detail, Code: code}}
}

func errFields(ve *users.ValidationError) *Error {
	return &Error{Status: http.StatusBadRequest, Body: ve}
}

// errAccessToken is SimpleJWT's answer when a protected view rejects the
// bearer token.
func errAccessToken(message string, cause error) *Error {
	return &Error{
		Status: http.StatusUnauthorized,
		Body: tokenMessagesBody{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []tokenMessage{{TokenClass: "AccessToken", TokenType: "access", Message: message}},
		},
		Cause: cause,
	}
}

func errMethod(method, allow string) *Error {
	e := errDetail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", method))
	e.Header = http.Header{"Allow": {allow}}
	return e
}

// errThrottled is DRF's Throttled: 429 with Retry-After in whole seconds.
func errThrottled(wait time.Duration) *Error {
	secs := int64((wait + time.Second - 1) / time.Second)
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	e := errDetail(http.StatusTooManyRequests, fmt.Sprintf("Request was throttled. Expected available in %d %s.", secs, unit))
	e.Header = http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}
	return e
}

// errBusy: no password-hashing capacity now; come back in a second.
func errBusy(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Body: detailBody{Detail: msgUnavailable},
		Header: http.Header{"Retry-After": {"1"}}, Cause: cause}
}

func errInternal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Body: detailBody{Detail: "A server error occurred."}, Cause: cause}
}

// Messages shared by several handlers.
const (
	msgNotProvided     = "Authentication credentials were not provided."
	msgTokenInvalid    = "Token is invalid or expired"
	msgUnavailable     = "Service temporarily unavailable, try again later."
	wwwAuthenticate    = `Bearer realm="api"`
	codeTokenNotValid  = "token_not_valid"
	msgNotFound        = "Not found."
	msgMalformed       = "Malformed request."
	msgBodyTooLarge    = "Request body is too large."
	msgServerError     = "A server error occurred."
	headerRequestID    = "X-Request-Id"
	mimeJSON           = "application/json"
	cacheNoStore       = "no-store"
	allowPost          = "POST, OPTIONS"
	allowGetHeadOption = "GET, HEAD, OPTIONS"
)

// errorHandler is Echo's HTTPErrorHandler: the only place errors become
// responses. Everything is JSON; internal causes are logged, never sent.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			e = fromEcho(err)
			if e.Status == http.StatusMethodNotAllowed {
				// Echo's own 405 (a path without that method): name it as
				// DRF does; Echo has set Allow.
				e = errDetail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", methodOf(c)))
			}
		}
		req := c.Request()
		switch {
		case e.Status >= 500:
			log.ErrorContext(req.Context(), "request failed", "method", req.Method, "path", req.URL.Path, "status", e.Status, "err", err)
		case e.Cause != nil:
			log.DebugContext(req.Context(), "request refused", "method", req.Method, "path", req.URL.Path, "status", e.Status, "reason", e.Cause.Error())
		}
		h := c.Response().Header()
		for k, vs := range e.Header {
			h[k] = vs
		}
		if e.Status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", wwwAuthenticate)
		}
		if err := writeJSON(c, e.Status, e.Body); err != nil {
			log.ErrorContext(req.Context(), "write error response", "err", err)
		}
	}
}

// fromEcho translates Echo's own errors (unknown route, method, panics
// caught by Recover, …) into the contract's shape.
func fromEcho(err error) *Error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return errInternal(err)
	}
	switch he.Code {
	case http.StatusNotFound:
		return errDetail(http.StatusNotFound, msgNotFound)
	case http.StatusMethodNotAllowed:
		return errDetail(http.StatusMethodNotAllowed, "Method not allowed.")
	case http.StatusRequestEntityTooLarge:
		return errDetail(http.StatusRequestEntityTooLarge, msgBodyTooLarge)
	case http.StatusServiceUnavailable:
		return &Error{Status: he.Code, Body: detailBody{Detail: msgUnavailable}, Cause: err}
	}
	if he.Code >= 400 && he.Code < 500 {
		return &Error{Status: he.Code, Body: detailBody{Detail: http.StatusText(he.Code) + "."}, Cause: err}
	}
	return errInternal(err)
}

// writeJSON renders compact JSON ending with a newline (so a terminal's
// prompt does not follow it on the same line; the tutorial app sends
// none, which no JSON parser minds either way).
func writeJSON(c echo.Context, status int, body any) error {
	// Like DRF: no HTML escaping of <, > and &.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"detail":"` + msgServerError + `"}` + "\n")
	if err := enc.Encode(body); err == nil {
		b = buf.Bytes()
	} else {
		status = http.StatusInternalServerError
	}
	h := c.Response().Header()
	h[echo.HeaderContentType] = valJSON
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	c.Response().WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(b)
	return err
}
