package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// CORS lets browser apps on other origins call idp (its API, the JWKS,
// discovery). Bearer tokens travel in headers and bodies, never cookies,
// so credentials mode is never allowed.
type CORS struct {
	// AllowedOrigins are exact origins (https://app.example.com), or "*"
	// for any. Empty: no cross-origin access.
	AllowedOrigins []string
	// MaxAge is how long a browser may cache a preflight answer.
	MaxAge time.Duration
}

// corsMiddleware is echo's CORS middleware, with three choices made for
// idp: origins match exactly (no echo wildcard or subdomain patterns);
// only a real preflight — OPTIONS with Origin and
// Access-Control-Request-Method — is answered by it, so a plain OPTIONS
// still gets the tutorial's metadata answer; and requests without Origin
// pass untouched.
func corsMiddleware(c CORS) echo.MiddlewareFunc {
	anyOrigin := slices.Contains(c.AllowedOrigins, "*")
	return middleware.CORSWithConfig(middleware.CORSConfig{
		Skipper: func(ctx echo.Context) bool {
			r := ctx.Request()
			if r.Header.Get(echo.HeaderOrigin) == "" {
				return true
			}
			return r.Method == http.MethodOptions && r.Header.Get(echo.HeaderAccessControlRequestMethod) == ""
		},
		AllowOriginFunc: func(origin string) (bool, error) {
			return anyOrigin || slices.Contains(c.AllowedOrigins, origin), nil
		},
		AllowMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete},
		AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID, "If-None-Match"},
		ExposeHeaders: []string{echo.HeaderWWWAuthenticate, echo.HeaderRetryAfter, "ETag", echo.HeaderXRequestID},
		MaxAge:        int(c.MaxAge / time.Second),
	})
}
