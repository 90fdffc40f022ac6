package admin

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (a *api) mountConsoleKeys(g *echo.Group, auth, su echo.MiddlewareFunc) {
	g.GET("/keys", a.page(a.keysConsole), auth)
	g.POST("/keys/rotate", a.page(a.rotateConsole), auth, su)
	g.POST("/keys/:kid/revoke", a.page(a.revokeConsole), auth, su)
}

func (a *api) renderKeys(c echo.Context, status int, errMsg string) error {
	ks, err := a.keys(c)
	if err != nil {
		return err
	}
	return a.render(c, status, "keys", "Signing keys", map[string]any{"Keys": ks}, errMsg)
}

func (a *api) keysConsole(c echo.Context) error { return a.renderKeys(c, http.StatusOK, "") }

func (a *api) keyFormError(c echo.Context, err error) error {
	if ae, ok := err.(*apiError); ok && (ae.status == http.StatusConflict || ae.status == http.StatusBadRequest) {
		return a.renderKeys(c, ae.status, message(ae.body))
	}
	return err
}

func (a *api) rotateConsole(c echo.Context) error {
	if _, err := a.rotate(c, c.FormValue("use"), c.FormValue("force") == "true"); err != nil {
		return a.keyFormError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?status=rotated")
}

func (a *api) revokeConsole(c echo.Context) error {
	if _, err := a.revoke(c, c.Param("kid"), c.FormValue("reason")); err != nil {
		return a.keyFormError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?status=revoked")
}
