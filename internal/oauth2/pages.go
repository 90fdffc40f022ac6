package oauth2

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
)

// The authorization endpoint's own error page: shown (never a redirect)
// when the client or redirect URI cannot be trusted (RFC 6749 §4.1.2.1).

var errorPageTmpl = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in error</title></head>
<body><main><h1>This sign-in request cannot be completed</h1><p role="alert">{{.}}</p></main></body></html>
`))

func (s *surface) errorPage(c echo.Context, status int, msg string) error {
	h := c.Response().Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return errorPageTmpl.Execute(c.Response(), msg)
}

func (s *surface) serverErrorPage(c echo.Context, err error) error {
	s.log.ErrorContext(c.Request().Context(), "authorize failed", "path", c.Path(), "err", err)
	return s.errorPage(c, http.StatusInternalServerError, "The server could not complete the request. Try again later.")
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// originOf is scheme://host of a URL, for a CSP form-action source.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }
