package login

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// GET /login/consents: the signed-in user's applications.
func (p *pagesSurface) showConsents(c echo.Context) error {
	sess, u, ok, err := p.signedIn(c)
	if err != nil {
		return p.serverError(c, err)
	}
	if !ok {
		return p.render(c, http.StatusUnauthorized, "consents", view{Title: "Your applications"})
	}
	list, err := p.o.Flow.Consents(c.Request().Context(), u.ID)
	if err != nil {
		return p.serverError(c, err)
	}
	v := view{Title: "Your applications", Email: u.Email, CSRF: p.o.Sessions.CSRFToken(sess)}
	for _, cs := range list {
		name := cs.ClientID
		if cl, err := p.o.Clients.Lookup(c.Request().Context(), cs.ClientID); err == nil && cl.Name != "" {
			name = cl.Name
		}
		v.Consents = append(v.Consents, consentView{ClientID: cs.ClientID, Client: name, Scopes: strings.Join(cs.Scopes, ", ")})
	}
	return p.render(c, http.StatusOK, "consents", v)
}

// POST /login/consents/withdraw: client_id, csrf_token. Ends the client's
// sessions for the user too.
func (p *pagesSurface) withdraw(c echo.Context) error {
	if !p.form(c) {
		return p.message(c, http.StatusBadRequest, "Your applications", "The form could not be read.")
	}
	sess, u, ok, err := p.signedIn(c)
	if err != nil {
		return p.serverError(c, err)
	}
	if !ok || !p.o.Sessions.CheckCSRF(sess, c.Request().PostForm.Get("csrf_token")) {
		return p.message(c, http.StatusForbidden, "Your applications", "The form has expired or did not come from this site.")
	}
	_, err = p.o.Flow.WithdrawConsent(c.Request().Context(), u.ID, c.Request().PostForm.Get("client_id"))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return p.serverError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/login/consents")
}
