package login

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/websession"
)

// GET/POST /logout — end_session_endpoint (OIDC RP-Initiated Logout 1.0):
// id_token_hint, client_id, post_logout_redirect_uri (exactly one the
// client registered), state. With a valid id_token_hint naming the
// browser's current session the user is signed out at once; otherwise a
// confirmation form (CSRF-protected) asks first, so that no third-party
// page can sign a user out. Signing out ends the browser session and the
// refresh families issued under it.
func (p *pagesSurface) endSession(c echo.Context) error {
	r := c.Request()
	if r.Method == http.MethodPost && !p.form(c) {
		return p.message(c, http.StatusBadRequest, "Sign out", "The form could not be read.")
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		params = r.PostForm
	}
	for k, v := range params {
		if len(v) > 1 {
			return p.message(c, http.StatusBadRequest, "Sign out", "The parameter "+k+" is repeated.")
		}
	}
	ctx := r.Context()
	var hint tokens.IDTokenHint
	hasHint := params.Get("id_token_hint") != ""
	if hasHint {
		var err error
		if hint, err = p.o.IDTokens.VerifyIDTokenHint(params.Get("id_token_hint")); err != nil {
			return p.message(c, http.StatusBadRequest, "Sign out", "The id_token_hint is not an ID token of this provider.")
		}
	}
	clientID := params.Get("client_id")
	if hasHint && clientID != "" && clientID != hint.ClientID {
		return p.message(c, http.StatusBadRequest, "Sign out", "client_id differs from the id_token_hint's audience.")
	}
	if clientID == "" {
		clientID = hint.ClientID
	}
	var client storage.Client
	if clientID != "" {
		var err error
		client, err = p.o.Clients.Lookup(ctx, clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return p.serverError(c, err)
		}
	}
	redirect := params.Get("post_logout_redirect_uri")
	if redirect != "" && (client.ID == "" || !slices.Contains(client.PostLogoutRedirectURIs, redirect)) {
		return p.message(c, http.StatusBadRequest, "Sign out",
			"The post_logout_redirect_uri is not registered for this application (or no application was named).")
	}
	sess, err := p.o.Sessions.Get(r)
	live := err == nil && sess.Authenticated()
	if err != nil && !errors.Is(err, websession.ErrNoSession) {
		return p.serverError(c, err)
	}
	confirmed := r.Method == http.MethodPost && params.Get("confirm") == "yes"
	if live && !(hasHint && hint.SessionID == sess.ID) {
		if !confirmed {
			keep := map[string]string{}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
				if v := params.Get(k); v != "" {
					keep[k] = v
				}
			}
			name := client.Name
			if name == "" {
				name = client.ID
			}
			return p.render(c, http.StatusOK, "logout", view{Title: "Sign out", CSRF: p.o.Sessions.CSRFToken(sess),
				Action: EndSessionPath, Params: keep, Client: name})
		}
		if !p.o.Sessions.CheckCSRF(sess, params.Get("csrf_token")) {
			return p.message(c, http.StatusForbidden, "Sign out", "The form has expired or did not come from this site.")
		}
	}
	if live {
		if _, _, err := p.o.Sessions.Logout(c.Response(), r); err != nil {
			return p.serverError(c, err)
		}
		if _, err := p.o.Flow.EndSession(ctx, sess.ID); err != nil {
			return p.serverError(c, err)
		}
	}
	if redirect == "" {
		return p.message(c, http.StatusOK, "Signed out", "You are signed out.")
	}
	u, err := url.Parse(redirect)
	if err != nil {
		return p.serverError(c, err)
	}
	if st := params.Get("state"); st != "" {
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
	}
	return c.Redirect(http.StatusSeeOther, u.String())
}
