package admin

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/users"
)

func (a *api) mountConsoleUsers(g *echo.Group, auth, su echo.MiddlewareFunc) {
	g.GET("/users", a.page(a.usersConsole), auth)
	g.GET("/users/:id", a.page(a.userConsole), auth)
	g.POST("/users/:id", a.page(a.editUserConsole), auth)
	g.POST("/users/:id/password", a.page(a.passwordConsole), auth)
	g.POST("/users/:id/sessions/end", a.page(a.endAllConsole), auth)
	g.POST("/users/:id/delete", a.page(a.deleteUserConsole), auth, su)
	g.POST("/sessions/:sid/end", a.page(a.endSessionConsole), auth)
	g.POST("/users/:id/consents/:client_id/withdraw", a.page(a.withdrawConsentConsole), auth)
}

func (a *api) usersConsole(c echo.Context) error {
	p, err := a.userPage(c)
	if err != nil {
		return err
	}
	prev, next := pager(c, "/admin/users", p.NextCursor)
	return a.render(c, http.StatusOK, "users", "Users", map[string]any{
		"Page": p, "Q": c.QueryParam("q"), "Active": c.QueryParam("is_active"), "Staff": c.QueryParam("is_staff"),
		"Prev": prev, "Next": next,
	}, "")
}

func (a *api) userConsole(c echo.Context) error {
	return a.renderUser(c, http.StatusOK, "")
}

func (a *api) renderUser(c echo.Context, status int, errMsg string) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	ss, err := a.sessionsOf(c, u)
	if err != nil {
		return err
	}
	cs, err := a.consentsOf(c, u)
	if err != nil {
		return err
	}
	return a.render(c, status, "user", u.Email, map[string]any{"User": userOf(u), "Sessions": ss, "Consents": cs}, errMsg)
}

// formError re-renders the user page with the error, keeping its status.
func (a *api) formError(c echo.Context, err error) error {
	if ae, ok := err.(*apiError); ok && ae.status < 500 && ae.status != http.StatusForbidden {
		return a.renderUser(c, ae.status, message(ae.body))
	}
	return err
}

func (a *api) editUserConsole(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	name, email := c.FormValue("name"), c.FormValue("email")
	active := c.FormValue("is_active") == "true"
	ch := users.Change{Name: &name, Email: &email, IsActive: &active}
	if actor(c).IsSuperuser {
		staff, super := c.FormValue("is_staff") == "true", c.FormValue("is_superuser") == "true"
		ch.IsStaff, ch.IsSuperuser = &staff, &super
	}
	if _, err := a.applyChange(c, target, ch); err != nil {
		return a.formError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d?status=saved", target.ID))
}

func (a *api) passwordConsole(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	if err := a.setPasswordOf(c, target, c.FormValue("password")); err != nil {
		return a.formError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d?status=password", target.ID))
}

func (a *api) endAllConsole(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	if _, err := a.endAll(c, target); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d?status=sessions-ended", target.ID))
}

func (a *api) endSessionConsole(c echo.Context) error {
	uid, err := a.sessionOwner(c, c.Param("sid"))
	if err != nil {
		return err
	}
	if err := a.endOne(c, c.Param("sid")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d?status=session-ended", uid))
}

func (a *api) deleteUserConsole(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	if err := a.Users.DeleteKeepingSuperuser(c.Request().Context(), target.ID); err != nil {
		return a.formError(c, a.userError(err))
	}
	a.endConsoleSessions(c, target.ID)
	a.record(c, "admin.user.deleted", auditUser(target.ID, "deleted "+target.Email+" and its sessions"))
	return c.Redirect(http.StatusSeeOther, "/admin/users?status=deleted")
}

func (a *api) withdrawConsentConsole(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	if err := a.withdraw(c, target, c.Param("client_id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d?status=consent-withdrawn", target.ID))
}
