package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

type sessionJSON struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	ExpiresAt time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
}

func (a *api) mountSessions(g *echo.Group, _ echo.MiddlewareFunc) {
	g.GET("/users/:id/sessions", a.h(a.listSessions))
	g.DELETE("/users/:id/sessions", a.h(a.endAllSessions))
	g.DELETE("/sessions/:sid", a.h(a.endSession))
}

func (a *api) sessionsOf(c echo.Context, u storage.User) ([]sessionJSON, error) {
	ss, err := a.Tokens.Sessions(c.Request().Context(), u.ID, "")
	if err != nil {
		return nil, err
	}
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, sessionJSON{ID: s.ID, Created: s.Created, LastUsed: s.LastUsed, ExpiresAt: s.ExpiresAt, UserAgent: s.UserAgent, IP: s.IP})
	}
	return out, nil
}

func (a *api) listSessions(c echo.Context) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	items, err := a.sessionsOf(c, u)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

func (a *api) endAll(c echo.Context, u storage.User) (int64, error) {
	if err := mayChange(actor(c), u); err != nil {
		return 0, err
	}
	n, err := a.Tokens.RevokeAllSessions(c.Request().Context(), u.ID, clientOf(c))
	if err != nil {
		return 0, err
	}
	a.record(c, "admin.sessions.ended", storage.AuditEvent{UserID: u.ID, TargetType: "user",
		TargetID: strconv.FormatInt(u.ID, 10), Detail: fmt.Sprintf("%d sessions ended", n)})
	return n, nil
}

func (a *api) endAllSessions(c echo.Context) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	n, err := a.endAll(c, u)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]int64{"revoked_sessions": n})
}

// endOne ends a session by id; a superuser's sessions only for superusers.
func (a *api) endOne(c echo.Context, sid string) error {
	userID, err := a.Tokens.EndSession(c.Request().Context(), sid, clientOf(c))
	if errors.Is(err, tokens.ErrNoSession) {
		return errNotFound()
	}
	if err != nil {
		return err
	}
	a.record(c, "admin.session.ended", storage.AuditEvent{UserID: userID, FamilyID: sid, TargetType: "session", TargetID: sid})
	return nil
}

func (a *api) endSession(c echo.Context) error {
	if _, err := a.sessionOwner(c, c.Param("sid")); err != nil {
		return err
	}
	if err := a.endOne(c, c.Param("sid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// sessionOwner is the user of a live session (404 if none), checked
// against the actor's rights before it is ended.
func (a *api) sessionOwner(c echo.Context, sid string) (int64, error) {
	f, err := a.Tokens.SessionOwner(c.Request().Context(), sid)
	if errors.Is(err, tokens.ErrNoSession) {
		return 0, errNotFound()
	}
	if err != nil {
		return 0, err
	}
	u, err := a.Users.Get(c.Request().Context(), f)
	if err != nil {
		return 0, errNotFound()
	}
	return u.ID, mayChange(actor(c), u)
}
