package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
)

// newOIDCEnv is newEnv with the issuer equal to the live server's URL, as
// a relying party discovering it (go-oidc) requires.
func newOIDCEnv(t testing.TB, store storage.Store, mutate ...func(*config.Config)) *env {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	ts := &httptest.Server{Listener: l, Config: &http.Server{}}
	e := newEnvWith(t, store, func(c *config.Config) {
		c.Tokens.Issuer = issuer
		for _, m := range mutate {
			m(c)
		}
	})
	ts.Config.Handler = e.srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	e.url, e.client = issuer, ts.Client()
	return e
}

// rp is a relying party built the way applications build one: go-oidc
// (discovery, ID token verification, userinfo) and golang.org/x/oauth2
// (authorization URL, PKCE, code exchange, refresh).
type rp struct {
	t        testing.TB
	srv      *httptest.Server
	conf     oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	ctx      context.Context

	mu      sync.Mutex
	pending map[string]rpFlow // by state
	last    rpResult
	results int
}

type rpFlow struct{ nonce, verifier string }

// rpResult is what a finished sign-in gave the RP.
type rpResult struct {
	Token    *oauth2.Token
	RawID    string
	IDToken  *oidc.IDToken
	Claims   map[string]any
	UserInfo map[string]any
}

// newRP starts an RP on its own port for client id/secret (secret "" for
// a public client) of the idp at e.
func newRP(t testing.TB, e *env, id, secret string, scopes ...string) *rp {
	t.Helper()
	r := &rp{t: t, pending: map[string]rpFlow{}, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, e.client)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	p, err := oidc.NewProvider(r.ctx, e.url)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	r.provider = p
	r.verifier = p.Verifier(&oidc.Config{ClientID: id})
	r.conf = oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: r.srv.URL + "/callback", Scopes: scopes}
	return r
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (r *rp) serve(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case "/start":
		state, nonce, verifier := randomString(16), randomString(16), oauth2.GenerateVerifier()
		r.mu.Lock()
		r.pending[state] = rpFlow{nonce, verifier}
		r.mu.Unlock()
		opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
		for k, v := range req.URL.Query() {
			opts = append(opts, oauth2.SetAuthURLParam(k, v[0]))
		}
		http.Redirect(w, req, r.conf.AuthCodeURL(state, opts...), http.StatusFound)
	case "/callback":
		q := req.URL.Query()
		r.mu.Lock()
		f, ok := r.pending[q.Get("state")]
		delete(r.pending, q.Get("state"))
		r.mu.Unlock()
		if !ok {
			http.Error(w, "rp: unknown state", http.StatusBadRequest)
			return
		}
		if e := q.Get("error"); e != "" {
			http.Error(w, "rp: error "+e+": "+q.Get("error_description"), http.StatusUnauthorized)
			return
		}
		res, err := r.finish(q.Get("code"), f)
		if err != nil {
			http.Error(w, "rp: "+err.Error(), http.StatusBadGateway)
			return
		}
		r.mu.Lock()
		r.last, r.results = res, r.results+1
		r.mu.Unlock()
		fmt.Fprintf(w, "<!DOCTYPE html><title>RP</title><p id=signed-in>signed in as %s</p>", res.UserInfo["email"])
	case "/bye":
		fmt.Fprintf(w, "<!DOCTYPE html><title>RP</title><p id=signed-out>signed out, state %s</p>", req.URL.Query().Get("state"))
	default:
		http.NotFound(w, req)
	}
}

func (r *rp) finish(code string, f rpFlow) (rpResult, error) {
	tok, err := r.conf.Exchange(r.ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return rpResult{}, fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		return rpResult{}, fmt.Errorf("verify ID token: %w", err)
	}
	if idt.Nonce != f.nonce {
		return rpResult{}, fmt.Errorf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return rpResult{}, fmt.Errorf("at_hash: %w", err)
	}
	res := rpResult{Token: tok, RawID: raw, IDToken: idt}
	if err := idt.Claims(&res.Claims); err != nil {
		return rpResult{}, err
	}
	ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return rpResult{}, fmt.Errorf("userinfo: %w", err)
	}
	if err := ui.Claims(&res.UserInfo); err != nil {
		return rpResult{}, err
	}
	if ui.Subject != idt.Subject {
		return rpResult{}, fmt.Errorf("userinfo sub %q, ID token sub %q", ui.Subject, idt.Subject)
	}
	return res, nil
}

func (r *rp) result() (rpResult, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.results
}

// browser is a cookie-keeping HTTP client: the flow without a browser.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (b *browser) read(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: sb.String()}
}

func (b *browser) get(u string) page { b.t.Helper(); return b.read(b.c.Get(u)) }

func (b *browser) postForm(u string, v url.Values) page {
	b.t.Helper()
	return b.read(b.c.PostForm(u, v))
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the page's form.
func (p page) hidden() url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// login fills the hosted login form on p.
func (b *browser) login(base string, p page, email, password string) page {
	b.t.Helper()
	if p.url.Path != "/login" {
		b.t.Fatalf("expected the login page, got %s (%d): %.300s", p.url, p.status, p.body)
	}
	v := p.hidden()
	v.Set("email", email)
	v.Set("password", password)
	return b.postForm(base+"/login", v)
}

// consent answers the consent page on p.
func (b *browser) consent(base string, p page, decision string) page {
	b.t.Helper()
	if p.url.Path != "/login/consent" {
		b.t.Fatalf("expected the consent page, got %s (%d): %.300s", p.url, p.status, p.body)
	}
	v := p.hidden()
	v.Set("decision", decision)
	return b.postForm(base+"/login/consent", v)
}

// oidcClients registers the test's applications: app1 first-party and
// confidential, app2 third-party and public (consent, PKCE required).
func (e *env) oidcClients(rp1, rp2 string) (app1 storage.Client, secret1 string, app2 storage.Client) {
	e.t.Helper()
	app1, secret1 = e.mustClient(clients.Spec{ID: "app1", Name: "App One", Type: storage.ClientConfidential, FirstParty: true,
		GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{rp1 + "/callback"},
		PostLogoutRedirectURIs: []string{rp1 + "/bye"}, Scopes: []string{"openid", "email", "profile", "offline_access"}})
	app2, _ = e.mustClient(clients.Spec{ID: "app2", Name: "App Two", Type: storage.ClientPublic,
		GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectURIs: []string{rp2 + "/callback"},
		PostLogoutRedirectURIs: []string{rp2 + "/bye"}, Scopes: []string{"openid", "email", "offline_access"}})
	return app1, secret1, app2
}
