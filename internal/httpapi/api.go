// Package httpapi is idp's HTTP surface: Echo routes, middleware, request
// decoding and the one error renderer. Handlers decode and validate the
// request, call the core (users, tokens, signer) through the narrow
// interfaces declared here, and render the tutorial app's JSON shapes
// (docs/tutorial-contract.md). It imports users, tokens, signer and
// storage (records only); never a storage backend, config or viper.
package httpapi

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// Users is what the API needs of accounts.
type Users interface {
	ValidateRegistration(r users.Registration) *users.ValidationError
	Register(ctx context.Context, r users.Registration) (storage.User, error)
	Authenticate(ctx context.Context, email, password string) (storage.User, error)
	Get(ctx context.Context, id int64) (storage.User, error)
}

// Tokens is what the API needs of token issuing and checking.
type Tokens interface {
	Login(ctx context.Context, u storage.User, c tokens.Client) (tokens.Pair, error)
	Refresh(ctx context.Context, refresh string, c tokens.Client) (tokens.Pair, error)
	VerifyAccess(ctx context.Context, token string) (tokens.AccessClaims, error)
	Verify(ctx context.Context, token string) error
}

// Sessions is what the API needs of login sessions besides refreshing.
type Sessions interface {
	Logout(ctx context.Context, refresh string, c tokens.Client) error
	Sessions(ctx context.Context, userID int64, current string) ([]tokens.Session, error)
	RevokeSession(ctx context.Context, userID int64, sid string, c tokens.Client) error
	RevokeAllSessions(ctx context.Context, userID int64, c tokens.Client) (int64, error)
}

// Login is the password-login path (authn.Service).
type Login interface {
	Login(ctx context.Context, a authn.Attempt) (authn.Result, error)
}

// Registrations rate-limits POST register/ (throttle.Registrations).
type Registrations interface {
	Admit(ctx context.Context, ip string) (time.Duration, error)
}

// Keys publishes the JWKS.
type Keys interface {
	JWKS() signer.JWKS
}

// Options configures the API.
type Options struct {
	Users    Users
	Tokens   Tokens
	Sessions Sessions
	// Login checks passwords under brute-force protection; nil: an
	// authn.Service over Users and Guard.
	Login Login
	// Guard is used only to build the default Login (nil: no throttling).
	Guard authn.Guard
	// Registrations limits registrations; nil: no limit.
	Registrations Registrations
	Keys          Keys
	// Ready reports whether idp can serve (database reachable, keys loaded).
	Ready func(ctx context.Context) error
	// Unavailable classifies internal errors as storage faults (503 with
	// Retry-After instead of 500); nil: none is.
	Unavailable func(error) bool
	// Issuer is the iss of idp's tokens; discovery URLs start with it.
	Issuer string
	// AccessAlgorithms sign access tokens; UserIDClaim names the integer
	// user id claim (both advertised by discovery).
	AccessAlgorithms []string
	UserIDClaim      string
	// APIPrefix mounts the tutorial API ("/api"; "" for the root).
	APIPrefix    string
	MaxBodyBytes int64
	JWKSMaxAge   time.Duration
	// TrustedProxies may set X-Forwarded-For; empty: the peer address.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Discovery holds the members other mounted surfaces add to
	// /.well-known/openid-configuration (RFC 8414 names, e.g. /oauth2's
	// token_endpoint, grant_types_supported); they win over this API's
	// own members of the same name. Nil: the API's members only.
	Discovery map[string]any
	// CORS lets browser apps on other origins call idp; zero: none may.
	CORS CORS
	// Outer wraps everything, the JWKS fast path included (metrics:
	// they must see every request); nil: nothing.
	Outer echo.MiddlewareFunc
}

type api struct {
	users      Users
	tokens     Tokens
	sessions   Sessions
	login      Login
	regLimit   Registrations
	keys       Keys
	ready      func(ctx context.Context) error
	maxBody    int64
	jwksMaxAge string
	discovery  []byte
	log        *slog.Logger
	// jwksAnswer is the JWKS response fastJWKS serves, rendered once per
	// key set.
	jwksAnswer atomic.Pointer[jwksAnswer]
	jwksServed jwksTally
}

// New builds the HTTP handler.
func New(opts Options) *echo.Echo {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Login == nil && opts.Users != nil {
		// authn.New fails only without Users.
		opts.Login, _ = authn.New(authn.Options{Users: opts.Users, Guard: opts.Guard})
	}
	a := &api{
		users:      opts.Users,
		tokens:     opts.Tokens,
		sessions:   opts.Sessions,
		login:      opts.Login,
		regLimit:   opts.Registrations,
		keys:       opts.Keys,
		ready:      opts.Ready,
		maxBody:    opts.MaxBodyBytes,
		jwksMaxAge: strconv.FormatInt(max(int64(opts.JWKSMaxAge/time.Second), 0), 10),
		log:        log,
	}

	p := strings.TrimSuffix(opts.APIPrefix, "/")
	a.discovery = discoveryDocument(opts.Issuer, p, opts.AccessAlgorithms, cmp.Or(opts.UserIDClaim, "user_id"), opts.Discovery)

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(log)
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	if opts.Outer != nil {
		e.Pre(opts.Outer)
	}
	e.Pre(unknownMethods, a.fastJWKS)
	e.Use(
		closeChunked,
		requestID,
		middleware.RequestLoggerWithConfig(requestLogger(log)),
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true}),
		securityHeaders,
		storageFaults(opts.Unavailable),
	)
	if len(opts.CORS.AllowedOrigins) > 0 {
		e.Use(corsMiddleware(opts.CORS))
	}

	// Each endpoint answers with and without the trailing slash. DRF
	// authenticates before it dispatches on the method, so one handler per
	// path takes every method and decides.
	route := func(path string, h echo.HandlerFunc) {
		e.Any(p+path, h)
		e.Any(p+path+"/", h)
	}
	route("/register", a.register)
	route("/token", a.obtainToken)
	route("/token/refresh", a.refreshToken)
	route("/token/verify", a.verifyToken)
	route("/logged-user", a.loggedUser)
	route("/token/blacklist", a.logout)
	route("/logout-all", a.logoutAll)
	route("/sessions", a.listSessions)
	route("/sessions/:id", a.session)

	e.GET("/.well-known/jwks.json", a.jwks)
	e.HEAD("/.well-known/jwks.json", a.jwks)
	e.GET("/.well-known/openid-configuration", a.openIDConfiguration)
	e.GET("/healthz", a.healthz)
	e.HEAD("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	e.HEAD("/readyz", a.readyz)
	return e
}

// requestLogger logs one line per request.
func requestLogger(log *slog.Logger) middleware.RequestLoggerConfig {
	return middleware.RequestLoggerConfig{
		LogStatus:    true,
		LogMethod:    true,
		LogURIPath:   true,
		LogLatency:   true,
		LogRemoteIP:  true,
		LogError:     true,
		HandleError:  true,
		LogRequestID: false,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			status := v.Status
			var e *Error
			if v.Error != nil {
				if errors.As(v.Error, &e) {
					status = e.Status
				} else if he, ok := v.Error.(*echo.HTTPError); ok {
					status = he.Code
				}
			}
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
				slog.String("method", methodOf(c)),
				slog.String("path", v.URIPath),
				slog.Int("status", status),
				slog.Duration("latency", v.Latency),
				slog.String("ip", v.RemoteIP),
			)
			return nil
		},
	}
}

// securityHeaders sets what the tutorial app sends on every answer, and
// forbids caching of anything that may carry a token.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["X-Content-Type-Options"] = valNosniff
		h["X-Frame-Options"] = valDeny
		h["Referrer-Policy"] = valSameOrigin
		h["Cache-Control"] = valNoStore
		return next(c)
	}
}

// Header values set on every answer, shared by all responses instead of a
// new []string each (http.Header.Set's): nothing changes a value in
// place, and Header.Add on one of them copies (each has cap 1).
var (
	valNosniff    = []string{"nosniff"}
	valDeny       = []string{"DENY"}
	valSameOrigin = []string{"same-origin"}
	valNoStore    = []string{cacheNoStore}
	valJSON       = []string{mimeJSON}
	valAllow      = map[string][]string{allowPost: {allowPost}, allowGetHeadOption: {allowGetHeadOption}}
)

// setAllow sets the Allow header, shared for the usual values.
func setAllow(h http.Header, allow string) {
	if v, ok := valAllow[allow]; ok {
		h["Allow"] = v
		return
	}
	h["Allow"] = []string{allow}
}

func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		_, ipnet, err := net.ParseCIDR(p.Masked().String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(ipnet))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// clientOf is the client information recorded on sessions.
func clientOf(c echo.Context) tokens.Client {
	ua := c.Request().UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return tokens.Client{IP: c.RealIP(), UserAgent: ua}
}

// methodNotAllowed is a 405 with Allow listing what the path takes.
func methodNotAllowed(c echo.Context, allow string) error {
	return errMethod(methodOf(c), allow)
}

// echoMethods are the methods Echo routes (what e.Any registers).
var echoMethods = map[string]bool{
	http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true, http.MethodHead: true,
	http.MethodOptions: true, http.MethodPatch: true, http.MethodPost: true, "PROPFIND": true,
	http.MethodPut: true, http.MethodTrace: true, "REPORT": true,
}

type methodKey struct{}

// unknownMethods lets a method Echo does not route (FOO) reach the
// endpoint, which answers it as DRF does ("Method \"FOO\" not allowed.",
// after authentication where the endpoint authenticates): it is routed as
// TRACE, which no endpoint accepts, and named by methodOf.
func unknownMethods(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !echoMethods[req.Method] {
			ctx := context.WithValue(req.Context(), methodKey{}, req.Method)
			// Echo's router reads the method of the request it was handed.
			req.Method = http.MethodTrace
			c.SetRequest(req.WithContext(ctx))
		}
		return next(c)
	}
}

// methodOf is the request's method as the client sent it.
func methodOf(c echo.Context) string {
	if m, ok := c.Request().Context().Value(methodKey{}).(string); ok {
		return m
	}
	return c.Request().Method
}
