package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

var stores = []struct {
	name string
	open func(testing.TB) storage.Store
}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}}

func oauthConfig(c *config.Config) { c.OAuth2.Scopes = []string{"billing:read", "billing:write"} }

// mustClient registers a client and returns it with its secret.
func (e *env) mustClient(s clients.Spec) (storage.Client, string) {
	e.t.Helper()
	c, secret, err := e.srv.Clients.Create(context.Background(), s)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

// service is a confidential client_credentials client.
func (e *env) service(id string, aud ...string) (storage.Client, string) {
	return e.mustClient(clients.Spec{ID: id, Type: storage.ClientConfidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"billing:read", "billing:write", "email"}, Audiences: aud})
}

func (e *env) oauthCtx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.client)
}

// form posts an urlencoded body, with HTTP Basic when id is not "".
func (e *env) form(path string, v url.Values, id, secret string) response {
	e.t.Helper()
	h := []string{"Content-Type: application/x-www-form-urlencoded"}
	if id != "" {
		req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		h = append(h, "Authorization: "+req.Header.Get("Authorization"))
	}
	return e.post(path, v.Encode(), h...)
}

func TestOAuth2ClientCredentialsEndToEnd(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), oauthConfig)
			svc, secret := e.service("billing-worker", "https://billing.example", "https://ledger.example")
			rs, rsSecret := e.service("resource-server")

			for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
				cc := clientcredentials.Config{ClientID: svc.ID, ClientSecret: secret, TokenURL: e.url + "/oauth2/token",
					Scopes: []string{"billing:read"}, AuthStyle: style,
					EndpointParams: url.Values{"resource": {"https://ledger.example"}}}
				tok, err := cc.Token(e.oauthCtx())
				if err != nil {
					t.Fatalf("auth style %v: %v", style, err)
				}
				if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Expiry.IsZero() {
					t.Fatalf("token = %+v", tok)
				}
				h, c := header(t, tok.AccessToken), claims(t, tok.AccessToken)
				if h["typ"] != "at+jwt" || c["sub"] != svc.ID || c["client_id"] != svc.ID || c["scope"] != "billing:read" ||
					c["aud"] != "https://ledger.example" || c["iss"] != "http://idp.test" || c["jti"] == nil {
					t.Fatalf("header %v claims %v", h, c)
				}
			}

			cc := clientcredentials.Config{ClientID: svc.ID, ClientSecret: secret, TokenURL: e.url + "/oauth2/token"}
			tok, err := cc.Token(e.oauthCtx())
			if err != nil {
				t.Fatal(err)
			}
			if c := claims(t, tok.AccessToken); tok.Extra("scope") != "billing:read billing:write email" {
				t.Fatalf("default scope = %v (aud %v)", tok.Extra("scope"), c["aud"])
			}

			// Introspection by a resource server, then revocation by the owner.
			in := e.form("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, rs.ID, rsSecret)
			m := in.json(t)
			if in.status != 200 || m["active"] != true || m["client_id"] != svc.ID || m["sub"] != svc.ID ||
				m["token_type"] != "Bearer" || m["iss"] != "http://idp.test" || m["exp"] == nil || m["jti"] == nil {
				t.Fatalf("introspect = %d %s", in.status, in.body)
			}
			if in.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("introspection Cache-Control = %q", in.header.Get("Cache-Control"))
			}
			if r := e.form("/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, rs.ID, rsSecret); r.status != 400 ||
				r.json(t)["error"] != "unauthorized_client" {
				t.Fatalf("revoke by another client = %d %s", r.status, r.body)
			}
			if r := e.form("/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, svc.ID, secret); r.status != 200 || r.body != "" {
				t.Fatalf("revoke = %d %s", r.status, r.body)
			}
			in = e.form("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, rs.ID, rsSecret)
			if strings.TrimSpace(in.body) != `{"active":false}` {
				t.Fatalf("introspect after revoke = %s", in.body)
			}
			if r := e.form("/oauth2/revoke", url.Values{"token": {"garbage"}}, svc.ID, secret); r.status != 200 {
				t.Fatalf("revoke of garbage = %d %s", r.status, r.body)
			}

			// A disabled client gets nothing.
			if _, err := e.srv.Clients.SetEnabled(context.Background(), svc.ID, false); err != nil {
				t.Fatal(err)
			}
			_, err = cc.Token(e.oauthCtx())
			var re *oauth2.RetrieveError
			if !asRetrieve(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
				t.Fatalf("disabled client: %v", err)
			}
		})
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}

func TestOAuth2Metadata(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t), oauthConfig)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := e.do(http.MethodGet, path, "")
		m := r.json(t)
		if r.status != 200 || m["issuer"] != "http://idp.test" || m["token_endpoint"] != "http://idp.test/oauth2/token" ||
			m["introspection_endpoint"] != "http://idp.test/oauth2/introspect" ||
			m["revocation_endpoint"] != "http://idp.test/oauth2/revoke" ||
			m["jwks_uri"] != "http://idp.test/.well-known/jwks.json" {
			t.Fatalf("%s = %d %s", path, r.status, r.body)
		}
		scopes := strings.Trim(strings.Join(strings.Fields(strings.ReplaceAll(stringsOf(m["scopes_supported"]), ",", " ")), " "), " ")
		if !strings.Contains(scopes, "billing:read") || !strings.Contains(scopes, "openid") {
			t.Fatalf("%s scopes_supported = %v", path, m["scopes_supported"])
		}
		if rt, ok := m["response_types_supported"].([]any); !ok || len(rt) != 1 || rt[0] != "code" ||
			m["authorization_endpoint"] != "http://idp.test/oauth2/authorize" {
			t.Fatalf("%s response_types_supported = %v, authorization_endpoint %v", path, m["response_types_supported"], m["authorization_endpoint"])
		}
	}
}

func stringsOf(v any) string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// app is a first-party confidential client with the password and
// refresh_token grants.
func (e *env) app(id string) (storage.Client, string) {
	return e.mustClient(clients.Spec{ID: id, Type: storage.ClientConfidential, FirstParty: true,
		GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "email", "profile", "offline_access"}})
}

func TestOAuth2PasswordAndRefreshEndToEnd(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.open(t), oauthConfig)
			e.register("Alice", "alice@example.com", "correct-horse-battery")
			app, secret := e.app("web-app")
			other, otherSecret := e.app("other-app")
			conf := oauth2.Config{ClientID: app.ID, ClientSecret: secret,
				Endpoint: oauth2.Endpoint{TokenURL: e.url + "/oauth2/token"}, Scopes: []string{"email", "profile"}}
			tok, err := conf.PasswordCredentialsToken(e.oauthCtx(), "Alice@Example.com", "correct-horse-battery")
			if err != nil {
				t.Fatal(err)
			}
			c := claims(t, tok.AccessToken)
			if tok.RefreshToken == "" || c["client_id"] != app.ID || c["scope"] != "email profile" ||
				c["email"] != "alice@example.com" || c["sub"] == nil || c["user_id"] == nil {
				t.Fatalf("password token %+v claims %v", tok, c)
			}
			// Accepted by the tutorial API's bearer check.
			if r := e.do(http.MethodGet, "/api/logged-user/", "", "Authorization: Bearer "+tok.AccessToken); r.status != 200 {
				t.Fatalf("logged-user with an OAuth 2.0 token = %d %s", r.status, r.body)
			}

			// Refresh through TokenSource (the token is made to look expired).
			old := *tok
			tok.Expiry = e.clock.Now().Add(-time.Hour)
			fresh, err := conf.TokenSource(e.oauthCtx(), tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if fresh.RefreshToken == old.RefreshToken || fresh.AccessToken == old.AccessToken {
				t.Fatal("refresh did not rotate")
			}
			if claims(t, fresh.AccessToken)["scope"] != "email profile" {
				t.Fatalf("refreshed scope = %v", claims(t, fresh.AccessToken)["scope"])
			}
			// Another client cannot use it; the family is untouched.
			r := e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}}, other.ID, otherSecret)
			if r.status != 400 || r.json(t)["error"] != "invalid_grant" {
				t.Fatalf("refresh by another client = %d %s", r.status, r.body)
			}
			// Narrowing works, widening does not.
			r = e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}, "scope": {"openid"}}, app.ID, secret)
			if r.status != 400 || r.json(t)["error"] != "invalid_scope" {
				t.Fatalf("widening refresh = %d %s", r.status, r.body)
			}
			r = e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}, "scope": {"email"}}, app.ID, secret)
			if r.status != 200 || r.json(t)["scope"] != "email" {
				t.Fatalf("narrowing refresh = %d %s", r.status, r.body)
			}
			narrowed := r.json(t)["refresh_token"].(string)
			// Reuse of a rotated-out token past the grace window revokes the family.
			e.clock.Advance(time.Minute)
			r = e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.RefreshToken}}, app.ID, secret)
			if r.status != 400 || r.json(t)["error"] != "invalid_grant" {
				t.Fatalf("reuse = %d %s", r.status, r.body)
			}
			in := e.form("/oauth2/introspect", url.Values{"token": {narrowed}}, app.ID, secret)
			if in.json(t)["active"] != false {
				t.Fatalf("refresh token of a revoked family: %s", in.body)
			}
		})
	}
}

func clientsSpecPublic(id string) clients.Spec {
	return clients.Spec{ID: id, Type: storage.ClientPublic, GrantTypes: []string{"refresh_token"}, Scopes: []string{"email"}}
}
