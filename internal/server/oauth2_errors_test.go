package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/idp/idp/internal/storage"
)

// oauthFixture is an idp with a service client, a first-party app, a
// public client, a user with an OAuth 2.0 session and a tutorial session.
type oauthFixture struct {
	*env
	svcSecret, appSecret string
	refresh, access      string // the app's tokens for alice
	apiRefresh           string // a refresh token of /api/token/
	family               string
}

func newOAuthFixture(t *testing.T, store storage.Store) *oauthFixture {
	e := newEnv(t, store, oauthConfig)
	f := &oauthFixture{env: e}
	e.register("Alice", "alice@example.com", "correct-horse-battery")
	_, f.svcSecret = e.service("billing-worker", "https://billing.example")
	_, f.appSecret = e.app("web-app")
	e.mustClient(clientsSpecPublic("spa"))
	conf := oauth2.Config{ClientID: "web-app", ClientSecret: f.appSecret, Endpoint: oauth2.Endpoint{TokenURL: e.url + "/oauth2/token"},
		Scopes: []string{"email", "profile"}}
	tok, err := conf.PasswordCredentialsToken(e.oauthCtx(), "alice@example.com", "correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	f.refresh, f.access = tok.RefreshToken, tok.AccessToken
	f.family = claims(t, f.refresh)["fid"].(string)
	_, f.apiRefresh = e.login("alice@example.com", "correct-horse-battery")
	return f
}

// state is what a refused request must leave as it was.
type state struct {
	Family        storage.Family
	APIFamily     storage.Family
	Clients       []storage.Client
	AccessRevoked bool
}

func (f *oauthFixture) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	fam, err := f.store.GetFamily(ctx, f.family)
	if err != nil {
		t.Fatal(err)
	}
	apiFam, err := f.store.GetFamily(ctx, claims(t, f.apiRefresh)["fid"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := f.store.ListClients(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := f.store.IsTokenRevoked(ctx, claims(t, f.access)["jti"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return state{Family: fam, APIFamily: apiFam, Clients: cs, AccessRevoked: revoked}
}

func basic(id, secret string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

const formType = "Content-Type: application/x-www-form-urlencoded"

func TestOAuth2Errors(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { testOAuth2Errors(t, newOAuthFixture(t, st.open(t))) })
	}
}

func testOAuth2Errors(t *testing.T, f *oauthFixture) {
	svc := basic("billing-worker", f.svcSecret)
	app := basic("web-app", f.appSecret)
	cc := "grant_type=client_credentials"
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
		code    string
	}{
		{"token/get", http.MethodGet, "/oauth2/token", "", []string{svc}, 405, "invalid_request"},
		{"token/json-body", "", "/oauth2/token", `{"grant_type":"client_credentials"}`, []string{svc, "Content-Type: application/json"}, 400, "invalid_request"},
		{"token/no-content-type", "", "/oauth2/token", cc, []string{svc, "Content-Type:"}, 400, "invalid_request"},
		{"token/multipart", "", "/oauth2/token", cc, []string{svc, "Content-Type: multipart/form-data; boundary=x"}, 400, "invalid_request"},
		{"token/repeated-grant-type", "", "/oauth2/token", cc + "&" + cc, []string{svc, formType}, 400, "invalid_request"},
		{"token/repeated-scope", "", "/oauth2/token", cc + "&scope=email&scope=email", []string{svc, formType}, 400, "invalid_request"},
		{"token/bad-percent-encoding", "", "/oauth2/token", cc + "&scope=%zz", []string{svc, formType}, 400, "invalid_request"},
		{"token/too-large", "", "/oauth2/token", cc + "&pad=" + strings.Repeat("x", 70<<10), []string{svc, formType}, 413, "invalid_request"},
		{"token/no-grant-type", "", "/oauth2/token", "scope=email", []string{svc, formType}, 400, "invalid_request"},
		{"token/unknown-grant-type", "", "/oauth2/token", "grant_type=implicit", []string{svc, formType}, 400, "unsupported_grant_type"},
		{"token/authorization-code-not-allowed", "", "/oauth2/token", "grant_type=authorization_code&code=x", []string{svc, formType}, 400, "unauthorized_client"},
		{"token/grant-unknown", "", "/oauth2/token", "grant_type=urn:ietf:params:oauth:grant-type:device_code", []string{svc, formType}, 400, "unsupported_grant_type"},
		{"token/grant-not-allowed", "", "/oauth2/token", "grant_type=password&username=alice@example.com&password=correct-horse-battery", []string{svc, formType}, 400, "unauthorized_client"},
		{"token/no-client-auth", "", "/oauth2/token", cc, []string{formType}, 401, "invalid_client"},
		{"token/wrong-secret-basic", "", "/oauth2/token", cc, []string{basic("billing-worker", "nope"), formType}, 401, "invalid_client"},
		{"token/wrong-secret-post", "", "/oauth2/token", cc + "&client_id=billing-worker&client_secret=nope", []string{formType}, 401, "invalid_client"},
		{"token/unknown-client", "", "/oauth2/token", cc, []string{basic("ghost", "x"), formType}, 401, "invalid_client"},
		{"token/malformed-basic", "", "/oauth2/token", cc, []string{"Authorization: Basic !!!", formType}, 401, "invalid_client"},
		{"token/bearer-instead-of-basic", "", "/oauth2/token", cc, []string{"Authorization: Bearer " + f.access, formType}, 401, "invalid_client"},
		{"token/two-auth-methods", "", "/oauth2/token", cc + "&client_secret=" + f.svcSecret, []string{svc, formType}, 400, "invalid_request"},
		{"token/basic-and-other-client-id", "", "/oauth2/token", cc + "&client_id=web-app", []string{svc, formType}, 401, "invalid_client"},
		{"token/public-client-with-secret", "", "/oauth2/token", "grant_type=refresh_token&refresh_token=x&client_id=spa&client_secret=x", []string{formType}, 401, "invalid_client"},
		{"token/scope-not-allowed", "", "/oauth2/token", cc + "&scope=profile", []string{svc, formType}, 400, "invalid_scope"},
		{"token/unknown-scope", "", "/oauth2/token", cc + "&scope=root", []string{svc, formType}, 400, "invalid_scope"},
		{"token/openid-without-user", "", "/oauth2/token", cc + "&scope=email+openid", []string{basic("billing-worker", f.svcSecret), formType}, 400, "invalid_scope"},
		{"token/scope-double-space", "", "/oauth2/token", cc + "&scope=email++billing:read", []string{svc, formType}, 400, "invalid_scope"},
		{"token/resource-not-audience", "", "/oauth2/token", cc + "&resource=https://evil.example", []string{svc, formType}, 400, "invalid_target"},
		{"refresh/missing", "", "/oauth2/token", "grant_type=refresh_token", []string{app, formType}, 400, "invalid_request"},
		{"refresh/garbage", "", "/oauth2/token", "grant_type=refresh_token&refresh_token=garbage", []string{app, formType}, 400, "invalid_grant"},
		{"refresh/tampered", "", "/oauth2/token", "grant_type=refresh_token&refresh_token=" + tamper(f.refresh), []string{app, formType}, 400, "invalid_grant"},
		{"refresh/access-token", "", "/oauth2/token", "grant_type=refresh_token&refresh_token=" + f.access, []string{app, formType}, 400, "invalid_grant"},
		{"refresh/tutorial-token", "", "/oauth2/token", "grant_type=refresh_token&refresh_token=" + f.apiRefresh, []string{app, formType}, 400, "invalid_grant"},
		{"refresh/widen-scope", "", "/oauth2/token", "grant_type=refresh_token&scope=openid&refresh_token=" + f.refresh, []string{app, formType}, 400, "invalid_scope"},
		{"password/wrong", "", "/oauth2/token", "grant_type=password&username=alice@example.com&password=wrong", []string{app, formType}, 400, "invalid_grant"},
		{"password/unknown-user", "", "/oauth2/token", "grant_type=password&username=bob@example.com&password=wrong", []string{app, formType}, 400, "invalid_grant"},
		{"password/missing", "", "/oauth2/token", "grant_type=password&username=alice@example.com", []string{app, formType}, 400, "invalid_request"},
		{"introspect/no-auth", "", "/oauth2/introspect", "token=" + f.access, []string{formType}, 401, "invalid_client"},
		{"introspect/public-client", "", "/oauth2/introspect", "client_id=spa&token=" + f.access, []string{formType}, 401, "invalid_client"},
		{"introspect/missing-token", "", "/oauth2/introspect", "", []string{svc, formType}, 400, "invalid_request"},
		{"introspect/json", "", "/oauth2/introspect", `{"token":"x"}`, []string{svc, "Content-Type: application/json"}, 400, "invalid_request"},
		{"revoke/no-auth", "", "/oauth2/revoke", "token=" + f.access, []string{formType}, 401, "invalid_client"},
		{"revoke/missing-token", "", "/oauth2/revoke", "", []string{app, formType}, 400, "invalid_request"},
		{"revoke/other-clients-access-token", "", "/oauth2/revoke", "token=" + f.access, []string{svc, formType}, 400, "unauthorized_client"},
		{"revoke/other-clients-refresh-token", "", "/oauth2/revoke", "token=" + f.refresh, []string{svc, formType}, 400, "unauthorized_client"},
		{"revoke/tutorial-token", "", "/oauth2/revoke", "token=" + f.apiRefresh, []string{app, formType}, 400, "unauthorized_client"},
		{"revoke/repeated-token", "", "/oauth2/revoke", "token=a&token=b", []string{app, formType}, 400, "invalid_request"},
	}
	before := f.state(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			r := f.do(method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			m := r.json(t)
			if m["error"] != tc.code || m["error_description"] == "" || len(m) != 2 {
				t.Fatalf("body %s, want error %q with a description and nothing else", r.body, tc.code)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Fatalf("Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without WWW-Authenticate: Basic (%q)", r.header.Get("WWW-Authenticate"))
			}
			if tc.status == 405 && r.header.Get("Allow") != "POST" {
				t.Fatalf("405 Allow = %q", r.header.Get("Allow"))
			}
			if after := f.state(t); !reflect.DeepEqual(after, before) {
				t.Fatalf("the refused request changed the database:\n before %+v\n after  %+v", before.Family, after.Family)
			}
		})
	}

	// Garbage, tampered, another issuer's or unknown tokens: introspection
	// says inactive, revocation says 200, and nothing changes.
	for _, tok := range []string{"garbage", tamper(f.access), tamper(f.refresh), strings.Repeat("a", 9000)} {
		if r := f.do(http.MethodPost, "/oauth2/introspect", "token="+url.QueryEscape(tok), svc, formType); r.status != 200 ||
			strings.TrimSpace(r.body) != `{"active":false}` {
			t.Fatalf("introspect garbage = %d %s", r.status, r.body)
		}
		if r := f.do(http.MethodPost, "/oauth2/revoke", "token="+url.QueryEscape(tok), app, formType); r.status != 200 {
			t.Fatalf("revoke garbage = %d %s", r.status, r.body)
		}
	}
	if after := f.state(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("garbage changed the database:\n before %+v\n after  %+v", before, after)
	}

	// The RFC's form-urlencoding of Basic credentials is decoded:
	// "billing%2Dworker" is billing-worker.
	enc := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("billing%2Dworker:"+url.QueryEscape(f.svcSecret)))
	if r := f.do(http.MethodPost, "/oauth2/token", cc, enc, formType); r.status != 200 {
		t.Fatalf("percent-encoded client id = %d %s", r.status, r.body)
	}
}
