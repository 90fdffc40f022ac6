package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
)

func (a *api) mountConsoleClients(g *echo.Group, auth, su echo.MiddlewareFunc) {
	g.GET("/clients", a.page(a.clientsConsole), auth)
	g.POST("/clients", a.page(a.createClientConsole), auth, su)
	g.GET("/clients/:cid", a.page(a.clientConsole), auth)
	g.POST("/clients/:cid", a.page(a.editClientConsole), auth, su)
	g.POST("/clients/:cid/enabled", a.page(a.enableClientConsole), auth, su)
	g.POST("/clients/:cid/secret", a.page(a.secretConsole), auth, su)
}

// clientForm is a client's lists as the form shows them.
type clientForm struct{ GrantTypes, RedirectURIs, Scopes, Audiences string }

func formOf(c clientJSON) clientForm {
	return clientForm{strings.Join(c.GrantTypes, " "), strings.Join(c.RedirectURIs, "\n"), strings.Join(c.Scopes, " "), strings.Join(c.Audiences, " ")}
}

// readClientForm fills s from the form's fields.
func readClientForm(c echo.Context, s *clients.Spec) {
	s.Name = c.FormValue("name")
	s.GrantTypes = strings.Fields(c.FormValue("grant_types"))
	s.RedirectURIs = strings.Fields(c.FormValue("redirect_uris"))
	s.Scopes = strings.Fields(c.FormValue("scopes"))
	s.Audiences = strings.Fields(c.FormValue("audiences"))
}

func (a *api) renderClients(c echo.Context, status int, secret, errMsg string, form clientForm) error {
	cs, err := a.Clients.List(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]clientJSON, 0, len(cs))
	for _, cl := range cs {
		items = append(items, clientJSONOf(cl))
	}
	return a.render(c, status, "clients", "OAuth 2.0 clients", map[string]any{"Clients": items, "Secret": secret, "Form": form}, errMsg)
}

func (a *api) clientsConsole(c echo.Context) error {
	return a.renderClients(c, http.StatusOK, "", "", clientForm{GrantTypes: "client_credentials"})
}

func (a *api) createClientConsole(c echo.Context) error {
	var s clients.Spec
	readClientForm(c, &s)
	s.Type = c.FormValue("type")
	cl, secret, err := a.Clients.Create(c.Request().Context(), s)
	if err != nil {
		if ae, ok := clientError(err).(*apiError); ok && ae.status < 500 {
			return a.renderClients(c, ae.status, "", message(ae.body), clientForm{c.FormValue("grant_types"), c.FormValue("redirect_uris"), c.FormValue("scopes"), c.FormValue("audiences")})
		}
		return err
	}
	a.record(c, "admin.client.created", storage.AuditEvent{TargetType: "client", TargetID: cl.ID, Detail: "type " + cl.Type})
	if secret == "" {
		return c.Redirect(http.StatusSeeOther, "/admin/clients/"+url.PathEscape(cl.ID)+"?status=client-saved")
	}
	return a.renderClientPage(c, http.StatusCreated, cl, secret, "")
}

func (a *api) renderClientPage(c echo.Context, status int, cl storage.Client, secret, errMsg string) error {
	j := clientJSONOf(cl)
	return a.render(c, status, "client", "Client "+cl.ID, map[string]any{"Client": j, "Form": formOf(j), "Secret": secret}, errMsg)
}

func (a *api) clientConsole(c echo.Context) error {
	cl, err := a.Clients.Get(c.Request().Context(), c.Param("cid"))
	if err != nil {
		return clientError(err)
	}
	return a.renderClientPage(c, http.StatusOK, cl, "", "")
}

func (a *api) editClientConsole(c echo.Context) error {
	id := c.Param("cid")
	var s clients.Spec
	readClientForm(c, &s)
	present := map[string]bool{"name": true, "grant_types": true, "redirect_uris": true, "scopes": true, "audiences": true}
	if _, err := a.changeClient(c, id, s, present, false); err != nil {
		if ae, ok := err.(*apiError); ok && ae.status == http.StatusBadRequest {
			cl, gerr := a.Clients.Get(c.Request().Context(), id)
			if gerr != nil {
				return clientError(gerr)
			}
			return a.renderClientPage(c, ae.status, cl, "", message(ae.body))
		}
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/clients/"+url.PathEscape(id)+"?status=client-saved")
}

func (a *api) enableClientConsole(c echo.Context) error {
	id := c.Param("cid")
	enabled := c.FormValue("enabled") == "true"
	if _, err := a.changeClient(c, id, clients.Spec{}, map[string]bool{"enabled": true}, enabled); err != nil {
		return err
	}
	status := "disabled"
	if enabled {
		status = "enabled"
	}
	return c.Redirect(http.StatusSeeOther, "/admin/clients/"+url.PathEscape(id)+"?status="+status)
}

func (a *api) secretConsole(c echo.Context) error {
	id := c.Param("cid")
	secret, err := a.Clients.RotateSecret(c.Request().Context(), id, -1)
	if err != nil {
		return clientError(err)
	}
	a.record(c, "admin.client.secret_rotated", storage.AuditEvent{TargetType: "client", TargetID: id, Detail: "previous secret kept for the configured overlap"})
	cl, err := a.Clients.Get(c.Request().Context(), id)
	if err != nil {
		return clientError(err)
	}
	return a.renderClientPage(c, http.StatusOK, cl, secret, "")
}
