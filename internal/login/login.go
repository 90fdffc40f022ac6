package login

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/websession"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var styleCSS []byte

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Flow is what the pages need of the authorization flow (*authorize.Service).
type Flow interface {
	Pending(ctx context.Context, id string) (authorize.Request, error)
	Decide(ctx context.Context, id string, allow bool) error
	Remember(ctx context.Context, userID int64, clientID string, scopes []string) error
	Consents(ctx context.Context, userID int64) ([]storage.Consent, error)
	WithdrawConsent(ctx context.Context, userID int64, clientID string) (int64, error)
	EndSession(ctx context.Context, sid string) (int64, error)
	Reauthenticated(ctx context.Context, from, to string) error
}

// Sessions is the browser session (*websession.Manager).
type Sessions interface {
	Get(r *http.Request) (websession.Session, error)
	Ensure(w http.ResponseWriter, r *http.Request) (websession.Session, error)
	Login(w http.ResponseWriter, r *http.Request, userID int64) (websession.Session, error)
	Logout(w http.ResponseWriter, r *http.Request) (websession.Session, bool, error)
	CSRFToken(s websession.Session) string
	CheckCSRF(s websession.Session, token string) bool
}

// Passwords is the one password-login path (*authn.Service).
type Passwords interface {
	Login(ctx context.Context, in authn.Attempt) (authn.Result, error)
}

// Clients looks clients up (*clients.Registry).
type Clients interface {
	Lookup(ctx context.Context, id string) (storage.Client, error)
}

// Accounts reads users (*users.Service).
type Accounts interface {
	Get(ctx context.Context, id int64) (storage.User, error)
}

// IDTokenHints verifies id_token_hint (*tokens.Service).
type IDTokenHints interface {
	VerifyIDTokenHint(token string) (tokens.IDTokenHint, error)
}

// Options configure the pages.
type Options struct {
	Flow      Flow
	Sessions  Sessions
	Passwords Passwords
	Clients   Clients
	Accounts  Accounts
	IDTokens  IDTokenHints
	// ProductName is shown on every page (default "idp").
	ProductName string
	// ResumePath is where a parked authorization request continues
	// (internal/oauth2: /oauth2/authorize/resume).
	ResumePath string
	// MaxBodyBytes bounds form bodies (default 16 KiB).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Paths of the pages, for the authorization endpoint's redirects.
const (
	LoginPath      = "/login"
	ConsentPath    = "/login/consent"
	EndSessionPath = "/logout"
)

type pagesSurface struct {
	o   Options
	log *slog.Logger
}

// Mount adds the pages to e.
func Mount(e *echo.Echo, o Options) {
	if o.ProductName == "" {
		o.ProductName = "idp"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 10
	}
	p := &pagesSurface{o: o, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	e.GET(LoginPath, p.showLogin)
	e.POST(LoginPath, p.submitLogin)
	e.GET(ConsentPath, p.showConsent)
	e.POST(ConsentPath, p.submitConsent)
	e.GET("/login/consents", p.showConsents)
	e.POST("/login/consents/withdraw", p.withdraw)
	e.Match([]string{http.MethodGet, http.MethodPost}, EndSessionPath, p.endSession)
	e.GET("/login/assets/style.css", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, "text/css; charset=utf-8", styleCSS)
	})
}

// view is what every page template gets.
type view struct {
	Product, Title, Error, Message string
	CSRF, Req, Client, Email       string
	Scopes                         []string
	Consents                       []consentView
	Action                         string
	Params                         map[string]string
}

type consentView struct{ ClientID, Client, Scopes string }

// render writes a page with the security headers every page carries.
func (p *pagesSurface) render(c echo.Context, status int, name string, v view) error {
	v.Product = p.o.ProductName
	h := c.Response().Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No form-action: browsers apply it to the redirects after a submit,
	// and the login's redirect chain ends at the client's redirect URI.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return pages.ExecuteTemplate(c.Response(), name+".html", v)
}

func (p *pagesSurface) message(c echo.Context, status int, title, msg string) error {
	return p.render(c, status, "message", view{Title: title, Message: msg})
}

func (p *pagesSurface) serverError(c echo.Context, err error) error {
	p.log.ErrorContext(c.Request().Context(), "login page failed", "path", c.Path(), "err", err)
	return p.message(c, http.StatusInternalServerError, "Something went wrong", "The server could not complete the request. Try again later.")
}

func (p *pagesSurface) noPending(c echo.Context) error {
	return p.message(c, http.StatusBadRequest, "No sign-in in progress",
		"This page is reached from an application's “Sign in” button. Go back to the application and start again.")
}

// form parses a bounded form body.
func (p *pagesSurface) form(c echo.Context) bool {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, p.o.MaxBodyBytes)
	return r.ParseForm() == nil
}

// pending loads the parked request named by req and its client's name.
func (p *pagesSurface) pending(c echo.Context, id string) (authorize.Request, string, error) {
	ctx := c.Request().Context()
	req, err := p.o.Flow.Pending(ctx, id)
	if err != nil {
		return req, "", err
	}
	name := req.ClientID
	if cl, err := p.o.Clients.Lookup(ctx, req.ClientID); err == nil && cl.Name != "" {
		name = cl.Name
	}
	return req, name, nil
}

func (p *pagesSurface) resume(c echo.Context, id string) error {
	return c.Redirect(http.StatusSeeOther, p.o.ResumePath+"?req="+url.QueryEscape(id))
}

// GET /login?req=<id>
func (p *pagesSurface) showLogin(c echo.Context) error {
	id := c.QueryParam("req")
	req, client, err := p.pending(c, id)
	if errors.Is(err, authorize.ErrUnknownRequest) {
		return p.noPending(c)
	} else if err != nil {
		return p.serverError(c, err)
	}
	sess, err := p.o.Sessions.Ensure(c.Response(), c.Request())
	if err != nil {
		return p.serverError(c, err)
	}
	return p.render(c, http.StatusOK, "login", view{Title: "Sign in", CSRF: p.o.Sessions.CSRFToken(sess), Req: id,
		Client: client, Email: req.LoginHint})
}

// POST /login: email, password, csrf_token, req.
func (p *pagesSurface) submitLogin(c echo.Context) error {
	if !p.form(c) {
		return p.message(c, http.StatusBadRequest, "Sign in", "The form could not be read.")
	}
	r := c.Request()
	id := r.PostForm.Get("req")
	_, client, err := p.pending(c, id)
	if errors.Is(err, authorize.ErrUnknownRequest) {
		return p.noPending(c)
	} else if err != nil {
		return p.serverError(c, err)
	}
	sess, err := p.o.Sessions.Get(r)
	if errors.Is(err, websession.ErrNoSession) || (err == nil && !p.o.Sessions.CheckCSRF(sess, r.PostForm.Get("csrf_token"))) {
		return p.message(c, http.StatusForbidden, "Sign in",
			"The form has expired or did not come from this site. Go back to the application and start again.")
	} else if err != nil {
		return p.serverError(c, err)
	}
	email, password := r.PostForm.Get("email"), r.PostForm.Get("password")
	again := func(status int, msg string) error {
		return p.render(c, status, "login", view{Title: "Sign in", Error: msg, CSRF: p.o.Sessions.CSRFToken(sess),
			Req: id, Client: client, Email: email})
	}
	if email == "" || password == "" {
		return again(http.StatusBadRequest, "Enter your email and password.")
	}
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	res, err := p.o.Passwords.Login(r.Context(), authn.Attempt{Email: email, Password: password, IP: c.RealIP(), UserAgent: ua})
	var throttled *authn.ThrottledError
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		// The same words whether or not the email exists.
		return again(http.StatusUnauthorized, "Incorrect email or password.")
	case errors.As(err, &throttled):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((throttled.RetryAfter+time.Second-1)/time.Second)))
		return again(http.StatusTooManyRequests, "Too many failed sign-in attempts. Try again later.")
	case errors.Is(err, authn.ErrBusy):
		c.Response().Header().Set("Retry-After", "1")
		return again(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.")
	case err != nil:
		return p.serverError(c, err)
	}
	fresh, err := p.o.Sessions.Login(c.Response(), r, res.User.ID)
	if err != nil {
		return p.serverError(c, err)
	}
	if sess.Authenticated() && sess.UserID == res.User.ID {
		// prompt=login / max_age: the same user again; the apps signed in
		// through the old sid now belong to the new one (logout ends them).
		if err := p.o.Flow.Reauthenticated(r.Context(), sess.ID, fresh.ID); err != nil {
			return p.serverError(c, err)
		}
	}
	return p.resume(c, id)
}

// scopeText says what a scope lets the client do.
func scopeText(s string) string {
	switch s {
	case "openid":
		return "Sign you in (know your account id)"
	case "email":
		return "See your email address"
	case "profile":
		return "See your name"
	case "offline_access":
		return "Stay signed in: keep access while you are away"
	}
	return "Use “" + s + "”"
}

// signedIn is the session's user, or ok false.
func (p *pagesSurface) signedIn(c echo.Context) (websession.Session, storage.User, bool, error) {
	sess, err := p.o.Sessions.Get(c.Request())
	if errors.Is(err, websession.ErrNoSession) || (err == nil && !sess.Authenticated()) {
		return sess, storage.User{}, false, nil
	} else if err != nil {
		return sess, storage.User{}, false, err
	}
	u, err := p.o.Accounts.Get(c.Request().Context(), sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !u.IsActive) {
		return sess, u, false, nil
	}
	return sess, u, err == nil, err
}

// GET /login/consent?req=<id>
func (p *pagesSurface) showConsent(c echo.Context) error {
	id := c.QueryParam("req")
	req, client, err := p.pending(c, id)
	if errors.Is(err, authorize.ErrUnknownRequest) {
		return p.noPending(c)
	} else if err != nil {
		return p.serverError(c, err)
	}
	sess, u, ok, err := p.signedIn(c)
	if err != nil {
		return p.serverError(c, err)
	}
	if !ok {
		return c.Redirect(http.StatusSeeOther, LoginPath+"?req="+url.QueryEscape(id))
	}
	var texts []string
	for _, s := range req.Scopes {
		texts = append(texts, scopeText(s))
	}
	return p.render(c, http.StatusOK, "consent", view{Title: "Allow access?", CSRF: p.o.Sessions.CSRFToken(sess), Req: id,
		Client: client, Email: u.Email, Scopes: texts})
}

// POST /login/consent: decision=allow|deny, csrf_token, req.
func (p *pagesSurface) submitConsent(c echo.Context) error {
	if !p.form(c) {
		return p.message(c, http.StatusBadRequest, "Allow access?", "The form could not be read.")
	}
	r := c.Request()
	id := r.PostForm.Get("req")
	req, _, err := p.pending(c, id)
	if errors.Is(err, authorize.ErrUnknownRequest) {
		return p.noPending(c)
	} else if err != nil {
		return p.serverError(c, err)
	}
	sess, u, ok, err := p.signedIn(c)
	if err != nil {
		return p.serverError(c, err)
	}
	if !ok || !p.o.Sessions.CheckCSRF(sess, r.PostForm.Get("csrf_token")) {
		return p.message(c, http.StatusForbidden, "Allow access?",
			"The form has expired or did not come from this site. Go back to the application and start again.")
	}
	allow := r.PostForm.Get("decision") == "allow"
	if !allow && r.PostForm.Get("decision") != "deny" {
		return p.message(c, http.StatusBadRequest, "Allow access?", "Choose Allow or Deny.")
	}
	ctx := r.Context()
	if allow {
		if err := p.o.Flow.Remember(ctx, u.ID, req.ClientID, req.Scopes); err != nil {
			return p.serverError(c, err)
		}
	}
	if err := p.o.Flow.Decide(ctx, id, allow); errors.Is(err, authorize.ErrUnknownRequest) {
		return p.noPending(c)
	} else if err != nil {
		return p.serverError(c, err)
	}
	return p.resume(c, id)
}
