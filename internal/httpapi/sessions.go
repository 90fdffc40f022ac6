package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/tokens"
)

// Sessions: logout (SimpleJWT's token/blacklist/), logout everywhere, and
// the user's own list of login sessions.

const (
	allowGetOptions    = "GET, HEAD, OPTIONS"
	allowDeleteOptions = "DELETE, OPTIONS"
)

var (
	metaLogout    = metadata{Name: "Token Blacklist", Description: "Takes a token and blacklists it.", Renders: renders, Parses: parses, Actions: map[string]map[string]fieldSchema{"POST": {"refresh": {Type: "string", Required: true, Label: "Refresh"}}}}
	metaLogoutAll = metadata{Name: "Logout All", Description: "Ends every session of the authenticated user.", Renders: renders, Parses: parses}
	metaSessions  = metadata{Name: "Sessions", Description: "The authenticated user's live login sessions.", Renders: renders, Parses: parses}
	metaSession   = metadata{Name: "Session", Description: "One login session; DELETE ends it.", Renders: renders, Parses: parses}
)

// POST token/blacklist/ {"refresh"} — ends the refresh token's session.
func (a *api) logout(c echo.Context) error {
	refresh, done, err := a.postField(c, metaLogout, "refresh")
	if done {
		return err
	}
	if err := a.sessions.Logout(c.Request().Context(), refresh, clientOf(c)); err != nil {
		return tokenError(err)
	}
	return writeJSON(c, http.StatusOK, struct{}{})
}

// POST logout-all/ — ends every session of the bearer's user.
func (a *api) logoutAll(c echo.Context) error {
	c.Response().Header().Set("Allow", allowPost)
	p, err := a.requireUser(c)
	if err != nil {
		return err
	}
	if done, err := a.preflight(c, allowPost, metaLogoutAll); done {
		return err
	}
	n, err := a.sessions.RevokeAllSessions(c.Request().Context(), p.user.ID, clientOf(c))
	if err != nil {
		return errInternal(err)
	}
	return writeJSON(c, http.StatusOK, struct {
		Revoked int64 `json:"revoked_sessions"`
	}{n})
}

// GET sessions/ — the bearer's live sessions; "current" marks the one the
// access token was issued in.
func (a *api) listSessions(c echo.Context) error {
	c.Response().Header().Set("Allow", allowGetOptions)
	p, err := a.requireUser(c)
	if err != nil {
		return err
	}
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		return writeJSON(c, http.StatusOK, metaSessions)
	default:
		return methodNotAllowed(c, allowGetOptions)
	}
	list, err := a.sessions.Sessions(c.Request().Context(), p.user.ID, p.session)
	if err != nil {
		return errInternal(err)
	}
	return writeJSON(c, http.StatusOK, list)
}

// DELETE sessions/{id}/ — ends one of the bearer's sessions.
func (a *api) session(c echo.Context) error {
	c.Response().Header().Set("Allow", allowDeleteOptions)
	p, err := a.requireUser(c)
	if err != nil {
		return err
	}
	switch c.Request().Method {
	case http.MethodDelete:
	case http.MethodOptions:
		return writeJSON(c, http.StatusOK, metaSession)
	default:
		return methodNotAllowed(c, allowDeleteOptions)
	}
	err = a.sessions.RevokeSession(c.Request().Context(), p.user.ID, c.Param("id"), clientOf(c))
	switch {
	case errors.Is(err, tokens.ErrNoSession):
		return errDetail(http.StatusNotFound, msgNotFound)
	case err != nil:
		return errInternal(err)
	}
	return c.NoContent(http.StatusNoContent)
}
