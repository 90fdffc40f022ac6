package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
	"github.com/idp/idp/internal/websession"
)

// AuditStore records and lists audit events.
type AuditStore interface {
	storage.Audit
	storage.AuditLog
}

// Options are the core services the surface sits over.
type Options struct {
	Users   *users.Service
	Tokens  *tokens.Service
	Signer  *signer.Signer
	Clients *clients.Registry
	Audit   AuditStore
	// Consents is the OpenID Connect core's consent store (authorize.Service).
	Consents Consents
	// Sessions is the console's browser-session manager and Login the
	// shared password login; without Sessions the console is not mounted.
	Sessions *websession.Manager
	Login    *authn.Service
	// AccessAlg and RefreshAlg name the signing rings of the two key uses.
	AccessAlg, RefreshAlg string
	// MaxBodyBytes bounds request bodies; zero → 64 KiB.
	MaxBodyBytes int64
	Logger       *slog.Logger
	Now          func() time.Time
}

type api struct {
	Options
}

// Mount adds the admin API under /admin/api to e.
func Mount(e *echo.Echo, opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	a := &api{Options: opts}
	g := e.Group("/admin/api", a.noStore, a.requireStaff)
	su := a.requireSuperuser
	a.mountUsers(g, su)
	a.mountSessions(g, su)
	a.mountKeys(g, su)
	a.mountAudit(g, su)
	a.mountClients(g, su)
	a.mountConsents(g, su)
	g.Any("/*", a.h(func(echo.Context) error { return errNotFound() }))
	if a.Sessions != nil && a.Login != nil {
		a.mountConsole(e)
	}
}

// endConsoleSessions ends the user's console sessions (deactivated,
// deleted or given a new password).
func (a *api) endConsoleSessions(c echo.Context, userID int64) {
	if a.Sessions == nil {
		return
	}
	if _, err := a.Sessions.EndUser(context.WithoutCancel(c.Request().Context()), userID); err != nil {
		a.Logger.ErrorContext(c.Request().Context(), "end console sessions", "user_id", userID, "err", err)
	}
}

func auditUser(id int64, detail string) storage.AuditEvent {
	return storage.AuditEvent{TargetType: "user", TargetID: strconv.FormatInt(id, 10), Detail: detail}
}

// apiError is the surface's one error type: the status and the JSON body
// the client sees; cause is for the log only.
type apiError struct {
	status int
	body   any
	cause  error
}

func (e *apiError) Error() string { return fmt.Sprintf("admin %d: %v", e.status, e.cause) }

type detailBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code,omitempty"`
}

func errDetail(status int, detail, code string) *apiError {
	return &apiError{status: status, body: detailBody{Detail: detail, Code: code}}
}

func errNotFound() *apiError { return errDetail(http.StatusNotFound, "Not found.", "not_found") }

func errField(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: map[string][]string{field: {msg}}}
}

func errForbidden(detail string) *apiError {
	return errDetail(http.StatusForbidden, detail, "permission_denied")
}

// h adapts a handler: its *apiError (or any other error, as a 500 whose
// cause is logged) is written here, in the surface's JSON shape.
func (a *api) h(fn echo.HandlerFunc) echo.HandlerFunc {
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
				a.Logger.ErrorContext(c.Request().Context(), "admin request failed", "path", c.Path(), "err", err)
				ae = &apiError{status: http.StatusInternalServerError, body: detailBody{Detail: "A server error occurred."}, cause: err}
			}
		}
		if ae.status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
		}
		return writeJSON(c, ae.status, ae.body)
	}
}

func writeJSON(c echo.Context, status int, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(status, append(b, '\n'))
}

func (a *api) noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

const actorKey = "admin.actor"

// actor is the staff user the middleware authenticated for this request.
func actor(c echo.Context) storage.User { u, _ := c.Get(actorKey).(storage.User); return u }

// requireStaff authenticates the bearer access token and reads the user
// row on every request: only an active staff user passes.
func (a *api) requireStaff(next echo.HandlerFunc) echo.HandlerFunc {
	return a.h(func(c echo.Context) error {
		scheme, tok, ok := strings.Cut(c.Request().Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
			return errDetail(http.StatusUnauthorized, "Authentication credentials were not provided.", "not_authenticated")
		}
		ctx := c.Request().Context()
		claims, err := a.Tokens.VerifyAccess(ctx, tok)
		if err != nil {
			return &apiError{status: http.StatusUnauthorized, body: detailBody{Detail: "Given token not valid for any token type", Code: "token_not_valid"}, cause: err}
		}
		u, err := a.Users.Get(ctx, claims.UserID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return errDetail(http.StatusUnauthorized, "User not found", "user_not_found")
		case err != nil:
			return err
		case !u.IsActive:
			return errDetail(http.StatusUnauthorized, "User is inactive", "user_inactive")
		case !u.IsStaff:
			return errForbidden("You do not have permission to perform this action.")
		}
		c.Set(actorKey, u)
		return next(c)
	})
}

// requireSuperuser lets only a superuser through (after requireStaff).
func (a *api) requireSuperuser(next echo.HandlerFunc) echo.HandlerFunc {
	return a.h(func(c echo.Context) error {
		if !actor(c).IsSuperuser {
			return errForbidden("Only a superuser may do this.")
		}
		return next(c)
	})
}

// record writes an admin audit event naming the actor and the target.
func (a *api) record(c echo.Context, typ string, e storage.AuditEvent) {
	e.At, e.Type, e.ActorID = a.Now(), typ, actor(c).ID
	e.IP, e.UserAgent = c.RealIP(), c.Request().UserAgent()
	ctx := context.WithoutCancel(c.Request().Context())
	if err := a.Audit.RecordAudit(ctx, e); err != nil {
		a.Logger.ErrorContext(ctx, "record admin audit event", "event", typ, "err", err)
	}
	a.Logger.InfoContext(ctx, "audit", "event", typ, "actor_id", e.ActorID, "target", e.TargetType+":"+e.TargetID, "detail", e.Detail)
}

func clientOf(c echo.Context) tokens.Client {
	return tokens.Client{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// decodeObject reads a JSON object strictly into fields (name → pointer):
// unknown fields, nulls, wrong types, trailing data and oversized bodies
// are 400s. It returns the names present.
func (a *api) decodeObject(c echo.Context, fields map[string]any) (map[string]bool, error) {
	r := c.Request()
	raw, err := io.ReadAll(io.LimitReader(r.Body, a.MaxBodyBytes+1))
	if err != nil {
		return nil, errDetail(http.StatusBadRequest, "Malformed request.", "parse_error")
	}
	if int64(len(raw)) > a.MaxBodyBytes {
		return nil, errDetail(http.StatusRequestEntityTooLarge, "Request body is too large.", "too_large")
	}
	if ct := r.Header.Get("Content-Type"); len(raw) > 0 && ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, errDetail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", ct), "unsupported_media_type")
	}
	var obj map[string]json.RawMessage
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&obj); err != nil || dec.More() || obj == nil {
		return nil, errDetail(http.StatusBadRequest, "JSON parse error: the body must be one JSON object.", "parse_error")
	}
	present := map[string]bool{}
	problems := map[string][]string{}
	for k, v := range obj {
		target, ok := fields[k]
		switch {
		case !ok:
			problems[k] = append(problems[k], "Unknown field.")
		case string(v) == "null":
			problems[k] = append(problems[k], "This field may not be null.")
		default:
			if err := json.Unmarshal(v, target); err != nil {
				problems[k] = append(problems[k], "Wrong type: "+typeName(target)+".")
			}
			present[k] = true
		}
	}
	if len(problems) > 0 {
		return nil, &apiError{status: http.StatusBadRequest, body: problems}
	}
	return present, nil
}

func typeName(target any) string {
	switch target.(type) {
	case *bool:
		return "expected a boolean"
	case *string:
		return "expected a string"
	case *[]string:
		return "expected a list of strings"
	default:
		return "unexpected value"
	}
}

func fieldErrors(ve *users.ValidationError) *apiError {
	return &apiError{status: http.StatusBadRequest, body: ve}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
