package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
)

type clientJSON struct {
	ClientID               string    `json:"client_id"`
	Name                   string    `json:"name"`
	Type                   string    `json:"type"`
	GrantTypes             []string  `json:"grant_types"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Scopes                 []string  `json:"scopes"`
	Audiences              []string  `json:"audiences"`
	FirstParty             bool      `json:"first_party"`
	Enabled                bool      `json:"enabled"`
	Created                time.Time `json:"created"`
	Updated                time.Time `json:"updated"`
}

func clientJSONOf(c storage.Client) clientJSON {
	nz := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return clientJSON{ClientID: c.ID, Name: c.Name, Type: c.Type, GrantTypes: nz(c.GrantTypes),
		RedirectURIs: nz(c.RedirectURIs), PostLogoutRedirectURIs: nz(c.PostLogoutRedirectURIs),
		Scopes: nz(c.Scopes), Audiences: nz(c.Audiences), FirstParty: c.FirstParty, Enabled: c.Enabled,
		Created: c.CreatedAt.UTC(), Updated: c.UpdatedAt.UTC()}
}

func (a *api) mountClients(g *echo.Group, su echo.MiddlewareFunc) {
	g.GET("/clients", a.h(a.listClients))
	g.POST("/clients", a.h(a.createClient), su)
	g.GET("/clients/:cid", a.h(a.getClient))
	g.PATCH("/clients/:cid", a.h(a.updateClient), su)
	g.DELETE("/clients/:cid", a.h(a.deleteClient), su)
	g.POST("/clients/:cid/secret", a.h(a.rotateSecret), su)
}

// clientError maps the registry's errors to answers.
func clientError(err error) error {
	var ve *clients.ValidationError
	switch {
	case errors.As(err, &ve):
		problems := map[string][]string{}
		for _, p := range ve.Problems {
			field, msg, ok := strings.Cut(p, ": ")
			if !ok {
				field, msg = "non_field_errors", p
			}
			problems[field] = append(problems[field], msg)
		}
		return &apiError{status: http.StatusBadRequest, body: problems}
	case errors.Is(err, clients.ErrNotFound), errors.Is(err, storage.ErrNotFound):
		return errNotFound()
	case errors.Is(err, clients.ErrExists):
		return errDetail(http.StatusConflict, "A client with that client_id exists.", "client_exists")
	case errors.Is(err, clients.ErrPublic):
		return errDetail(http.StatusBadRequest, "A public client has no secret.", "public_client")
	}
	return err
}

func (a *api) listClients(c echo.Context) error {
	cs, err := a.Clients.List(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]clientJSON, 0, len(cs))
	for _, cl := range cs {
		items = append(items, clientJSONOf(cl))
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

func (a *api) getClient(c echo.Context) error {
	cl, err := a.Clients.Get(c.Request().Context(), c.Param("cid"))
	if err != nil {
		return clientError(err)
	}
	return writeJSON(c, http.StatusOK, clientJSONOf(cl))
}

// specFields are the writable fields of a client, by JSON name.
func specFields(s *clients.Spec) map[string]any {
	return map[string]any{"name": &s.Name, "grant_types": &s.GrantTypes, "redirect_uris": &s.RedirectURIs,
		"post_logout_redirect_uris": &s.PostLogoutRedirectURIs, "scopes": &s.Scopes, "audiences": &s.Audiences,
		"first_party": &s.FirstParty}
}

type createdClient struct {
	clientJSON
	ClientSecret string `json:"client_secret,omitempty"`
}

func (a *api) createClient(c echo.Context) error {
	var s clients.Spec
	fields := specFields(&s)
	fields["client_id"], fields["type"] = &s.ID, &s.Type
	if _, err := a.decodeObject(c, fields); err != nil {
		return err
	}
	cl, secret, err := a.Clients.Create(c.Request().Context(), s)
	if err != nil {
		return clientError(err)
	}
	a.record(c, "admin.client.created", storage.AuditEvent{TargetType: "client", TargetID: cl.ID, Detail: "type " + cl.Type})
	return writeJSON(c, http.StatusCreated, createdClient{clientJSONOf(cl), secret})
}

func (a *api) updateClient(c echo.Context) error {
	id := c.Param("cid")
	var s clients.Spec
	var enabled bool
	fields := specFields(&s)
	fields["enabled"] = &enabled
	present, err := a.decodeObject(c, fields)
	if err != nil {
		return err
	}
	cl, err := a.changeClient(c, id, s, present, enabled)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, clientJSONOf(cl))
}

// changeClient applies the present fields of s (and enabled) and audits
// which fields changed. Shared by the API and the console.
func (a *api) changeClient(c echo.Context, id string, s clients.Spec, present map[string]bool, enabled bool) (storage.Client, error) {
	ctx := c.Request().Context()
	var changed []string
	for k := range present {
		if k != "enabled" {
			changed = append(changed, k)
		}
	}
	cl, err := a.Clients.Get(ctx, id)
	if err != nil {
		return storage.Client{}, clientError(err)
	}
	if len(changed) > 0 {
		cl, err = a.Clients.Update(ctx, id, func(sp *clients.Spec) {
			for k, v := range specFields(&s) {
				if present[k] {
					switch p := v.(type) {
					case *string:
						*specFields(sp)[k].(*string) = *p
					case *[]string:
						*specFields(sp)[k].(*[]string) = *p
					case *bool:
						*specFields(sp)[k].(*bool) = *p
					}
				}
			}
		})
		if err != nil {
			return storage.Client{}, clientError(err)
		}
	}
	if present["enabled"] && enabled != cl.Enabled {
		if cl, err = a.Clients.SetEnabled(ctx, id, enabled); err != nil {
			return storage.Client{}, clientError(err)
		}
		changed = append(changed, "enabled")
	}
	if len(changed) > 0 {
		a.record(c, "admin.client.updated", storage.AuditEvent{TargetType: "client", TargetID: id, Detail: "changed: " + strings.Join(changed, ", ")})
	}
	return cl, nil
}

func (a *api) deleteClient(c echo.Context) error {
	id := c.Param("cid")
	if err := a.Clients.Delete(c.Request().Context(), id); err != nil {
		return clientError(err)
	}
	a.record(c, "admin.client.deleted", storage.AuditEvent{TargetType: "client", TargetID: id})
	return c.NoContent(http.StatusNoContent)
}

func (a *api) rotateSecret(c echo.Context) error {
	if _, err := a.decodeObject(c, map[string]any{}); err != nil {
		return err
	}
	id := c.Param("cid")
	secret, err := a.Clients.RotateSecret(c.Request().Context(), id, -1)
	if err != nil {
		return clientError(err)
	}
	a.record(c, "admin.client.secret_rotated", storage.AuditEvent{TargetType: "client", TargetID: id, Detail: "previous secret kept for the configured overlap"})
	return writeJSON(c, http.StatusOK, map[string]string{"client_secret": secret})
}
