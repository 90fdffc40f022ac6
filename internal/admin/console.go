package admin

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
	"github.com/idp/idp/internal/websession"
)

// The web console at /admin/: server-rendered pages (html/template, embedded),
// no script, every state change a POST carrying the console session's CSRF
// token. The session is a websession cookie (idp_admin, Path=/admin,
// SameSite=Strict) whose user row is re-read on every request.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"login", "error", "users", "user", "keys", "clients", "client", "audit"} {
		m[name] = template.Must(template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/clientform.html", "templates/"+name+".html"))
	}
	return m
}()

// view is what every page template gets.
type view struct {
	Title  string
	Actor  storage.User
	CSRF   string
	Status string
	Error  string
	Data   any
}

// statusMessages are the fixed texts a redirect's ?status= may name.
var statusMessages = map[string]string{
	"saved":             "Changes saved.",
	"password":          "Password set; the user's sessions were ended.",
	"session-ended":     "Session ended.",
	"sessions-ended":    "All the user's sessions were ended.",
	"consent-withdrawn": "Consent withdrawn; the sessions the client got under it were ended.",
	"rotated":           "Key rotated.",
	"revoked":           "Key revoked.",
	"client-saved":      "Client saved.",
	"enabled":           "Client enabled.",
	"disabled":          "Client disabled.",
	"deleted":           "User deleted.",
	"logged-out":        "You are logged out.",
}

const sessionKey = "admin.session"

func consoleSession(c echo.Context) websession.Session {
	s, _ := c.Get(sessionKey).(websession.Session)
	return s
}

// render writes a page with the console's headers.
func (a *api) render(c echo.Context, status int, name, title string, data any, errMsg string) error {
	v := view{Title: title, Actor: actor(c), Data: data, Error: errMsg, Status: statusMessages[c.QueryParam("status")]}
	if s := consoleSession(c); s.ID != "" {
		v.CSRF = a.Sessions.CSRFToken(s)
	}
	var b strings.Builder
	if err := pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

// message is the text of an error body for a page.
func message(body any) string {
	switch b := body.(type) {
	case detailBody:
		return b.Detail
	case *users.ValidationError:
		var parts []string
		for _, f := range b.Fields {
			parts = append(parts, f.Field+": "+strings.Join(f.Messages, " "))
		}
		return strings.Join(parts, "; ")
	case map[string][]string:
		keys := make([]string, 0, len(b))
		for k := range b {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+": "+strings.Join(b[k], " "))
		}
		return strings.Join(parts, "; ")
	}
	return "The request failed."
}

// page adapts a console handler: errors become an HTML error page.
func (a *api) page(fn echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := fn(c)
		if err == nil {
			return nil
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code < 500 {
				ae = errDetail(he.Code, http.StatusText(he.Code)+".", "")
			} else {
				a.Logger.ErrorContext(c.Request().Context(), "admin console request failed", "path", c.Path(), "err", err)
				ae = errDetail(http.StatusInternalServerError, "A server error occurred.", "")
			}
		}
		return a.render(c, ae.status, "error", http.StatusText(ae.status), nil, message(ae.body))
	}
}

// consoleHeaders: no script at all, no framing, no caching, no sniffing.
func (a *api) consoleHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		r := c.Request()
		r.Body = http.MaxBytesReader(c.Response(), r.Body, a.MaxBodyBytes)
		return next(c)
	}
}

var errSessionEnded = errDetail(http.StatusForbidden, "Your console session has ended; log in again. Nothing was changed.", "session_ended")

// consoleAuth admits a live console session of an active staff user,
// re-read on every request; a POST must carry the session's CSRF token.
func (a *api) consoleAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return a.page(func(c echo.Context) error {
		r := c.Request()
		refuse := func() error {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return c.Redirect(http.StatusSeeOther, "/admin/login")
			}
			return errSessionEnded
		}
		s, err := a.Sessions.Get(r)
		if errors.Is(err, websession.ErrNoSession) || (err == nil && !s.Authenticated()) {
			return refuse()
		}
		if err != nil {
			return err
		}
		u, err := a.Users.Get(r.Context(), s.UserID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err != nil || !u.IsActive || !u.IsStaff {
			_ = a.Sessions.End(r.Context(), s.ID)
			return refuse()
		}
		c.Set(actorKey, u)
		c.Set(sessionKey, s)
		if r.Method == http.MethodPost && !a.Sessions.CheckCSRF(s, c.FormValue("csrf_token")) {
			return errDetail(http.StatusForbidden, "This form did not come from your console session (missing or invalid CSRF token). Nothing was changed.", "csrf")
		}
		return next(c)
	})
}

func (a *api) consoleSuperuser(next echo.HandlerFunc) echo.HandlerFunc {
	return a.page(func(c echo.Context) error {
		if !actor(c).IsSuperuser {
			return errForbidden("Only a superuser may do this.")
		}
		return next(c)
	})
}

func (a *api) mountConsole(e *echo.Echo) {
	static, _ := fs.Sub(staticFS, "static")
	g := e.Group("/admin", a.consoleHeaders)
	g.GET("/static/*", echo.WrapHandler(http.StripPrefix("/admin/static/", http.FileServer(http.FS(static)))))
	g.GET("/login", a.page(a.loginPage))
	g.POST("/login", a.page(a.login))
	auth, su := a.consoleAuth, a.consoleSuperuser
	g.GET("", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/users") })
	g.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/users") })
	g.POST("/logout", a.page(a.logout), auth)
	a.mountConsoleUsers(g, auth, su)
	a.mountConsoleKeys(g, auth, su)
	a.mountConsoleClients(g, auth, su)
	g.GET("/audit", a.page(a.auditConsole), auth)
	g.Any("/*", a.page(func(echo.Context) error { return errNotFound() }))
}

func (a *api) loginPage(c echo.Context) error {
	s, err := a.Sessions.Ensure(c.Response(), c.Request())
	if err != nil {
		return err
	}
	c.Set(sessionKey, s)
	if s.Authenticated() {
		if u, err := a.Users.Get(c.Request().Context(), s.UserID); err == nil && u.IsActive && u.IsStaff {
			return c.Redirect(http.StatusSeeOther, "/admin/users")
		}
	}
	return a.render(c, http.StatusOK, "login", "Log in", struct{ Email string }{}, "")
}

const msgBadLogin = "Wrong email or password, or this account may not use the admin console."

func (a *api) login(c echo.Context) error {
	r := c.Request()
	s, err := a.Sessions.Get(r)
	if err != nil && !errors.Is(err, websession.ErrNoSession) {
		return err
	}
	email := c.FormValue("email")
	again := func(status int, msg string) error {
		s, err := a.Sessions.Ensure(c.Response(), r)
		if err != nil {
			return err
		}
		c.Set(sessionKey, s)
		return a.render(c, status, "login", "Log in", struct{ Email string }{email}, msg)
	}
	if err != nil || !a.Sessions.CheckCSRF(s, c.FormValue("csrf_token")) {
		return again(http.StatusForbidden, "The login form expired or did not come from this console; please try again.")
	}
	res, err := a.Login.Login(r.Context(), authn.Attempt{Email: email, Password: c.FormValue("password"), IP: c.RealIP(), UserAgent: r.UserAgent()})
	var te *authn.ThrottledError
	switch {
	case errors.As(err, &te):
		c.Response().Header().Set("Retry-After", fmt.Sprint(int((te.RetryAfter+time.Second-1)/time.Second)))
		return again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts; try again in %s.", te.RetryAfter.Round(time.Second)))
	case errors.Is(err, authn.ErrBusy):
		return again(http.StatusServiceUnavailable, "The service is busy; try again in a moment.")
	case errors.Is(err, authn.ErrInvalidCredentials):
		return again(http.StatusUnauthorized, msgBadLogin)
	case err != nil:
		return err
	case !res.User.IsStaff:
		return again(http.StatusUnauthorized, msgBadLogin)
	}
	ns, err := a.Sessions.Login(c.Response(), r, res.User.ID)
	if err != nil {
		return err
	}
	c.Set(actorKey, res.User)
	c.Set(sessionKey, ns)
	a.record(c, "admin.console.login", storage.AuditEvent{UserID: res.User.ID, TargetType: "user", TargetID: fmt.Sprint(res.User.ID)})
	return c.Redirect(http.StatusSeeOther, "/admin/users")
}

func (a *api) logout(c echo.Context) error {
	if _, _, err := a.Sessions.Logout(c.Response(), c.Request()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/login?status=logged-out")
}

// pager builds previous/next links for keyset pages: trail holds the
// cursors of the pages before this one ("-" for the first page).
func pager(c echo.Context, base string, next *string) (prev, nextURL string) {
	q := c.QueryParams()
	trail := strings.Split(q.Get("trail"), ",")
	if q.Get("trail") == "" {
		trail = nil
	}
	cur := q.Get("cursor")
	link := func(cursor string, trail []string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "cursor" && k != "trail" && k != "status" {
				v[k] = vs
			}
		}
		if cursor != "" && cursor != "-" {
			v.Set("cursor", cursor)
		}
		if len(trail) > 0 {
			v.Set("trail", strings.Join(trail, ","))
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	if next != nil {
		t := append(append([]string{}, trail...), orFirst(cur))
		if len(t) > 50 {
			t = t[len(t)-50:]
		}
		nextURL = link(*next, t)
	}
	if len(trail) > 0 {
		prev = link(trail[len(trail)-1], trail[:len(trail)-1])
	} else if cur != "" {
		prev = link("", nil)
	}
	return prev, nextURL
}

func orFirst(cursor string) string {
	if cursor == "" {
		return "-"
	}
	return cursor
}
