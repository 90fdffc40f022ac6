package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
)

const (
	badRP       = "https://rp.example/callback"
	badLoopback = "http://127.0.0.1:4000/callback"
)

// noFollow makes b stop at every redirect (the test reads Location).
func (b *browser) noFollow() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, c: &c}
}

// flipLast changes the last character of s.
func flipLast(s string) string {
	if s[len(s)-1] == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

func pkce() (verifier, challenge string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// codeFor signs b in (once) and returns a code for params.
func codeFor(t *testing.T, e *env, b *browser, params url.Values) string {
	t.Helper()
	nf := b.noFollow()
	p := nf.get(e.url + "/oauth2/authorize?" + params.Encode())
	for i := 0; i < 6 && p.status == http.StatusSeeOther; i++ {
		loc, _ := p.url.Parse(p.header.Get("Location"))
		if loc.Host != strings.TrimPrefix(e.url, "http://") {
			if c := loc.Query().Get("code"); c != "" {
				return c
			}
			t.Fatalf("authorize answered %s", loc)
		}
		if loc.Path == "/login" {
			lp := b.get(loc.String())
			v := lp.hidden()
			v.Set("email", "alice@example.com")
			v.Set("password", "correct-horse-battery")
			p = nf.postForm(e.url+"/login", v)
			continue
		}
		p = nf.get(loc.String())
	}
	t.Fatalf("no code: %d %s %.300s", p.status, p.header.Get("Location"), p.body)
	return ""
}

func TestOIDCBadInput(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newOIDCEnv(t, st.open(t))
			e.register("Alice", "alice@example.com", "correct-horse-battery")
			app1, secret1 := e.mustClient(clients.Spec{ID: "app1", Type: storage.ClientConfidential, FirstParty: true,
				GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{badRP},
				Scopes: []string{"openid", "email", "offline_access"}})
			app2, _ := e.mustClient(clients.Spec{ID: "app2", Type: storage.ClientPublic, FirstParty: true,
				GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{badLoopback}, Scopes: []string{"openid"}})
			_, challenge := pkce()
			base := func(client, redirect string, kv ...string) url.Values {
				v := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
					"scope": {"openid"}, "state": {"st&=ü x"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
				for i := 0; i+1 < len(kv); i += 2 {
					if kv[i+1] == "" {
						v.Del(kv[i])
					} else {
						v.Set(kv[i], kv[i+1])
					}
				}
				return v
			}
			anon := newBrowser(t).noFollow()

			// Untrusted client or redirect URI: an error page, never a redirect.
			for name, q := range map[string]string{
				"unknown-client":        base("nope", badRP).Encode(),
				"no-client":             base("", badRP).Encode(),
				"no-redirect-uri":       base("app1", "").Encode(),
				"redirect-extra-path":   base("app1", badRP+"/x").Encode(),
				"redirect-extra-query":  base("app1", badRP+"?next=https://evil.example").Encode(),
				"redirect-userinfo":     base("app1", "https://evil.example@rp.example/callback").Encode(),
				"redirect-javascript":   base("app1", "javascript:alert(1)").Encode(),
				"redirect-other-host":   base("app1", "https://rp.example.evil.example/callback").Encode(),
				"redirect-fragment":     base("app1", badRP+"#x").Encode(),
				"loopback-other-path":   base("app2", "http://127.0.0.1:5555/other").Encode(),
				"loopback-confidential": base("app1", "http://127.0.0.1:4000/callback").Encode(),
				"client-id-repeated":    base("app1", badRP).Encode() + "&client_id=app2",
			} {
				p := anon.get(e.url + "/oauth2/authorize?" + q)
				if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
					t.Errorf("authorize/%s: %d Location %q", name, p.status, p.header.Get("Location"))
				}
			}
			// RFC 8252 §7.3: a native client's loopback redirect may use any port.
			if p := anon.get(e.url + "/oauth2/authorize?" + base("app2", "http://127.0.0.1:59999/callback").Encode()); p.status != http.StatusSeeOther ||
				!strings.HasPrefix(p.header.Get("Location"), "/login?req=") {
				t.Errorf("authorize/loopback-any-port: %d %s", p.status, p.header.Get("Location"))
			}

			// Everything else: back to the client with error and state.
			for _, tc := range []struct {
				name, redirect, want string
				q                    url.Values
			}{
				{"pkce-plain", badRP, "invalid_request", base("app1", badRP, "code_challenge_method", "plain")},
				{"pkce-no-method", badRP, "invalid_request", base("app1", badRP, "code_challenge_method", "")},
				{"pkce-bad-challenge", badRP, "invalid_request", base("app1", badRP, "code_challenge", "short")},
				{"public-without-pkce", badLoopback, "invalid_request", base("app2", badLoopback, "code_challenge", "", "code_challenge_method", "")},
				{"scope-unknown", badRP, "invalid_scope", base("app1", badRP, "scope", "openid admin")},
				{"scope-not-allowed", badLoopback, "invalid_scope", base("app2", badLoopback, "scope", "openid email")},
				{"response-type-token", badRP, "unsupported_response_type", base("app1", badRP, "response_type", "token")},
				{"response-type-hybrid", badRP, "unsupported_response_type", base("app1", badRP, "response_type", "code id_token")},
				{"response-type-missing", badRP, "invalid_request", base("app1", badRP, "response_type", "")},
				{"prompt-none-no-session", badRP, "login_required", base("app1", badRP, "prompt", "none")},
				{"prompt-none-and-login", badRP, "invalid_request", base("app1", badRP, "prompt", "none login")},
				{"max-age-negative", badRP, "invalid_request", base("app1", badRP, "max_age", "-1")},
				{"request-object", badRP, "request_not_supported", base("app1", badRP, "request", "eyJ.x.y")},
				{"response-mode-fragment", badRP, "invalid_request", base("app1", badRP, "response_mode", "fragment")},
			} {
				p := anon.get(e.url + "/oauth2/authorize?" + tc.q.Encode())
				loc, err := url.Parse(p.header.Get("Location"))
				if p.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), tc.redirect+"?") ||
					loc.Query().Get("error") != tc.want || loc.Query().Get("error_description") == "" ||
					loc.Query().Get("state") != "st&=ü x" || loc.Query().Get("iss") != e.url || loc.Query().Get("code") != "" {
					t.Errorf("authorize/%s: %d %s, want error %s with the state", tc.name, p.status, p.header.Get("Location"), tc.want)
				}
			}

			// The login form: refused without CSRF token or pending authorization.
			p := anon.get(e.url + "/oauth2/authorize?" + base("app1", badRP).Encode())
			loginURL, _ := p.url.Parse(p.header.Get("Location"))
			b := newBrowser(t)
			lp := b.get(loginURL.String())
			good := lp.hidden()
			good.Set("email", "alice@example.com")
			good.Set("password", "correct-horse-battery")
			for name, mutate := range map[string]func(url.Values){
				"login/no-csrf":      func(v url.Values) { v.Del("csrf_token") },
				"login/bad-csrf":     func(v url.Values) { v.Set("csrf_token", "x"+v.Get("csrf_token")[1:]) },
				"login/no-pending":   func(v url.Values) { v.Del("req") },
				"login/bogus-req":    func(v url.Values) { v.Set("req", "AAAAAAAAAAAAAAAAAAAAAA") },
				"login/no-password":  func(v url.Values) { v.Del("password") },
				"login/bad-password": func(v url.Values) { v.Set("password", "nope-nope-nope") },
			} {
				v := url.Values{}
				for k, vs := range good {
					v[k] = append([]string(nil), vs...)
				}
				mutate(v)
				r := b.noFollow().postForm(e.url+"/login", v)
				if r.status < 400 || r.status >= 500 || r.header.Get("Location") != "" || len(r.header.Values("Set-Cookie")) != 0 {
					t.Errorf("%s: %d Location %q cookies %v", name, r.status, r.header.Get("Location"), r.header.Values("Set-Cookie"))
				}
			}
			anonCookies := newBrowser(t).noFollow().postForm(e.url+"/login", good) // another browser: its own (no) session
			if anonCookies.status != http.StatusForbidden {
				t.Errorf("login/csrf-of-another-browser: %d", anonCookies.status)
			}
			if r := newBrowser(t).get(e.url + "/login"); r.status != http.StatusBadRequest {
				t.Errorf("login/get-without-pending: %d", r.status)
			}
			if fams, _ := e.store.ListLiveFamilies(t.Context(), 1, storage.LiveFamilies{Now: e.clock.Now()}); len(fams) != 0 {
				t.Fatalf("refused requests issued %d sessions", len(fams))
			}

			// The token endpoint.
			exchange := func(client, secret string, v url.Values) response {
				v.Set("grant_type", "authorization_code")
				return e.form("/oauth2/token", v, client, secret)
			}
			verifier, challenge2 := pkce()
			codeParams := base("app1", badRP, "code_challenge", challenge2, "scope", "openid offline_access")
			for _, tc := range []struct {
				name, client, secret, code string
				v                          url.Values
				want                       string
			}{
				{"tampered-code", "app1", secret1, "x", url.Values{"redirect_uri": {badRP}, "code_verifier": {verifier}}, "invalid_grant"},
				{"wrong-verifier", "app1", secret1, "", url.Values{"redirect_uri": {badRP}, "code_verifier": {flipLast(verifier)}}, "invalid_grant"},
				{"no-verifier", "app1", secret1, "", url.Values{"redirect_uri": {badRP}}, "invalid_request"},
				{"other-redirect-uri", "app1", secret1, "", url.Values{"redirect_uri": {badRP + "/x"}, "code_verifier": {verifier}}, "invalid_grant"},
				{"other-client", "app2", "", "", url.Values{"client_id": {"app2"}, "redirect_uri": {badRP}, "code_verifier": {verifier}}, "invalid_grant"},
			} {
				code := codeFor(t, e, b, codeParams)
				if tc.code == "x" {
					code = flipLast(code)
				}
				tc.v.Set("code", code)
				id := tc.client
				if tc.secret == "" {
					id = ""
				}
				r := exchange(id, tc.secret, tc.v)
				if r.status != 400 || r.json(t)["error"] != tc.want || r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("token/%s: %d %s, want %s", tc.name, r.status, r.body, tc.want)
				}
			}
			// A code of app1 redeemed by app2 (a public client allowed the grant).
			app2Code := codeFor(t, e, b, base("app2", badLoopback, "code_challenge", challenge2))
			if r := exchange("", "", url.Values{"client_id": {"app1"}, "client_secret": {secret1}, "code": {app2Code},
				"redirect_uri": {badLoopback}, "code_verifier": {verifier}}); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
				t.Errorf("token/code-of-another-client: %d %s", r.status, r.body)
			}
			if fams, _ := e.store.ListLiveFamilies(t.Context(), 1, storage.LiveFamilies{Now: e.clock.Now()}); len(fams) != 0 {
				t.Fatalf("refused exchanges issued %d sessions", len(fams))
			}

			// A replayed code: refused, and what the first redemption got is revoked.
			code := codeFor(t, e, b, codeParams)
			first := exchange("app1", secret1, url.Values{"code": {code}, "redirect_uri": {badRP}, "code_verifier": {verifier}})
			if first.status != 200 {
				t.Fatalf("first redemption: %d %s", first.status, first.body)
			}
			tok := first.json(t)
			again := exchange("app1", secret1, url.Values{"code": {code}, "redirect_uri": {badRP}, "code_verifier": {verifier}})
			if again.status != 400 || again.json(t)["error"] != "invalid_grant" {
				t.Fatalf("replay: %d %s", again.status, again.body)
			}
			if r := e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "app1", secret1); r.status != 400 {
				t.Fatalf("refresh after the replay: %d %s", r.status, r.body)
			}
			ui := e.do(http.MethodGet, "/oauth2/userinfo", "", "Authorization: Bearer "+tok["access_token"].(string))
			if ui.status != 401 || !strings.Contains(ui.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("userinfo with the replayed code's access token: %d %v", ui.status, ui.header)
			}
			// response_mode=form_post: an auto-submitting form to the redirect URI.
			fp := b.noFollow().get(e.url + "/oauth2/authorize?" + base("app1", badRP, "response_mode", "form_post").Encode())
			if fp.status != 200 || !strings.Contains(fp.body, `action="https://rp.example/callback"`) ||
				!strings.Contains(fp.body, `name="code"`) || !strings.Contains(fp.body, `name="state" value="st&amp;=ü x"`) ||
				!strings.Contains(fp.header.Get("Content-Security-Policy"), "script-src 'nonce-") {
				t.Fatalf("form_post: %d %v %s", fp.status, fp.header, fp.body)
			}
			_ = app1
			_ = app2
		})
	}
}

// TestOIDCUserinfoErrors: RFC 6750 §3 answers.
func TestOIDCUserinfoErrors(t *testing.T) {
	e := newOIDCEnv(t, stores[0].open(t))
	e.register("Alice", "alice@example.com", "correct-horse-battery")
	access, _ := e.login("alice@example.com", "correct-horse-battery") // /api token: no openid scope
	for _, tc := range []struct {
		name    string
		headers []string
		body    string
		status  int
		www     string
	}{
		{"no-token", nil, "", 401, `Bearer realm="idp"`},
		{"garbage", []string{"Authorization: Bearer garbage"}, "", 401, `error="invalid_token"`},
		{"basic-scheme", []string{"Authorization: Basic eDp5"}, "", 400, `error="invalid_request"`},
		{"no-openid-scope", []string{"Authorization: Bearer " + access}, "", 403, `error="insufficient_scope"`},
		{"two-methods", []string{"Authorization: Bearer " + access, "Content-Type: application/x-www-form-urlencoded"}, "access_token=" + access, 400, `error="invalid_request"`},
	} {
		method := http.MethodGet
		if tc.body != "" {
			method = http.MethodPost
		}
		r := e.do(method, "/oauth2/userinfo", tc.body, tc.headers...)
		if r.status != tc.status || !strings.Contains(r.header.Get("WWW-Authenticate"), tc.www) {
			t.Errorf("userinfo/%s: %d %q", tc.name, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
}

// TestOIDCJanitor: the janitor deletes expired codes, requests, dead
// browser sessions and old grant links.
func TestOIDCJanitor(t *testing.T) {
	e := newOIDCEnv(t, stores[0].open(t))
	ctx := t.Context()
	now := e.clock.Now()
	_ = e.store.CreateBrowserSession(ctx, storage.BrowserSession{ID: "s", SecretHash: "h", CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)})
	_ = e.store.CreateAuthorizationCode(ctx, storage.AuthorizationCode{Hash: "c", ClientID: "a", Data: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	_ = e.store.CreateAuthorizationRequest(ctx, storage.AuthorizationRequest{ID: "r", ClientID: "a", Data: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	_ = e.store.CreateGrantLink(ctx, storage.GrantLink{FamilyID: "f", BrowserSessionID: "s", ClientID: "a", UserID: 1, AuthTime: now, CreatedAt: now})
	if _, _, err := e.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetBrowserSession(ctx, "s"); err != nil {
		t.Fatalf("live session deleted: %v", err)
	}
	e.clock.Advance(e.srv.cfg.Tokens.SessionTTL + e.srv.cfg.Tokens.RevokedRetention + time.Hour)
	if _, _, err := e.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetBrowserSession(ctx, "s"); err == nil {
		t.Error("dead browser session kept")
	}
	if _, err := e.store.GetAuthorizationCode(ctx, "c"); err == nil {
		t.Error("expired code kept")
	}
	if _, err := e.store.GetAuthorizationRequest(ctx, "r"); err == nil {
		t.Error("expired request kept")
	}
	if _, err := e.store.GetGrantLink(ctx, "f"); err == nil {
		t.Error("old grant link kept")
	}
}

// TestOIDCPasswordChangeEndsSSO: a password set after the sign-in voids
// the browser session, as it voids refresh families.
func TestOIDCPasswordChangeEndsSSO(t *testing.T) {
	e := newOIDCEnv(t, stores[0].open(t))
	e.register("Alice", "alice@example.com", "correct-horse-battery")
	e.mustClient(clients.Spec{ID: "app1", Type: storage.ClientConfidential, FirstParty: true,
		GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{badRP}, Scopes: []string{"openid"}})
	_, challenge := pkce()
	q := url.Values{"client_id": {"app1"}, "redirect_uri": {badRP}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	b := newBrowser(t)
	codeFor(t, e, b, q) // signs in
	q.Set("prompt", "none")
	if codeFor(t, e, b, q) == "" {
		t.Fatal("prompt=none with a session")
	}
	e.clock.Advance(time.Second)
	u, err := e.store.GetUserByEmail(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Users.SetPassword(t.Context(), u.ID, "another-long-password"); err != nil {
		t.Fatal(err)
	}
	p := b.noFollow().get(e.url + "/oauth2/authorize?" + q.Encode())
	if loc, _ := url.Parse(p.header.Get("Location")); p.status != http.StatusSeeOther || loc.Query().Get("error") != "login_required" {
		t.Fatalf("after a password change: %d %s", p.status, p.header.Get("Location"))
	}
}
