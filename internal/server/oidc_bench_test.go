package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

// BenchmarkOIDC is the load benchmark of the authorization code flow: 16
// concurrent browsers (keep-alive connections) against a live idp on
// 127.0.0.1, default password hashing, on both stores. It reports
// flows/s; any step failing fails it.
//
//   - full: authorize → login page → login form post (argon2id) → resume →
//     code → token exchange (access + ID token), each with a new browser;
//   - sso: the same browser, already signed in, for another app: authorize
//     → code → token exchange (no password hash).
//
// ID tokens are always RS256; the access token takes keys.access_algorithm
// (the EdDSA cases show what the second RSA signature costs).
//
//	make bench BENCH=OIDC BENCHTIME=5s
func BenchmarkOIDC(b *testing.B) {
	for _, st := range stores {
		for _, alg := range []string{"RS256", "EdDSA"} {
			for _, sso := range []bool{false, true} {
				name := "full"
				if sso {
					name = "sso"
				}
				b.Run(fmt.Sprintf("%s/%s/access-%s", st.name, name, alg), func(b *testing.B) {
					benchOIDC(b, st.open(b), alg, sso)
				})
			}
		}
	}
}

var benchReqRe = regexp.MustCompile(`name="(csrf_token|req)" value="([^"]+)"`)

type benchFlow struct {
	base, challenge, verifier string
	email                     string
	busy                      *atomic.Int64
	secrets                   map[string]string
	c                         *http.Client
}

func (f *benchFlow) browser() {
	jar, _ := cookiejar.New(nil)
	c := *f.c
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.c = &c
}

func (f *benchFlow) do(method, u string, form url.Values) (int, string, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := f.c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), string(b), nil
}

// flow runs one authorization; login says whether to expect the form.
func (f *benchFlow) flow(client string, login bool) error {
	q := url.Values{"client_id": {client}, "redirect_uri": {"https://rp.example/" + client}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {f.challenge}, "code_challenge_method": {"S256"}}
	st, loc, _, err := f.do(http.MethodGet, f.base+"/oauth2/authorize?"+q.Encode(), nil)
	if err != nil || st != http.StatusSeeOther {
		return fmt.Errorf("authorize: %d %v", st, err)
	}
	if login {
		st, _, page, err := f.do(http.MethodGet, f.base+loc, nil)
		if err != nil || st != 200 {
			return fmt.Errorf("login page: %d %v", st, err)
		}
		v := url.Values{"email": {f.email}, "password": {"correct-horse-battery"}}
		for _, m := range benchReqRe.FindAllStringSubmatch(page, -1) {
			v.Set(m[1], m[2])
		}
		// 503: every password-hash slot busy (passwords.max_concurrent_hashes);
		// a user presses the button again. Counted, not failed.
		for try := 0; ; try++ {
			st, loc, _, err = f.do(http.MethodPost, f.base+"/login", v)
			if st != http.StatusServiceUnavailable || try == 50 {
				break
			}
			f.busy.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil || st != http.StatusSeeOther {
			return fmt.Errorf("login post: %d %v", st, err)
		}
		if st, loc, _, err = f.do(http.MethodGet, f.base+loc, nil); err != nil || st != http.StatusSeeOther {
			return fmt.Errorf("resume: %d %v", st, err)
		}
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("code") == "" {
		return fmt.Errorf("no code in %q", loc)
	}
	st, _, body, err := f.do(http.MethodPost, f.base+"/oauth2/token", url.Values{"grant_type": {"authorization_code"},
		"code": {u.Query().Get("code")}, "redirect_uri": {"https://rp.example/" + client}, "code_verifier": {f.verifier},
		"client_id": {client}, "client_secret": {f.secrets[client]}})
	if err != nil || st != 200 || !strings.Contains(body, `"id_token"`) {
		return fmt.Errorf("token: %d %v %.200s", st, err, body)
	}
	return nil
}

func benchOIDC(b *testing.B, store storage.Store, alg string, sso bool) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://" + l.Addr().String()
	cfg.Keys.AccessAlgorithm = alg
	cfg.Log.Level = "error"
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// One account per browser: concurrent sign-ins of ONE account from one
	// IP are what the login throttle holds back (login.max_failures_per_account_ip).
	const accounts = 64
	for i := range accounts {
		if _, err := srv.Users.CreateUser(ctx, users.NewUser{Email: fmt.Sprintf("bench%d@example.com", i), Password: "correct-horse-battery"}); err != nil {
			b.Fatal(err)
		}
	}
	var next, busy atomic.Int64
	secrets := map[string]string{}
	for _, id := range []string{"app1", "app2"} {
		_, s, err := srv.Clients.Create(ctx, clients.Spec{ID: id, Type: storage.ClientConfidential, FirstParty: true,
			GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://rp.example/" + id}, Scopes: []string{"openid", "email"}})
		if err != nil {
			b.Fatal(err)
		}
		secrets[id] = s
	}
	ts := &httptest.Server{Listener: l, Config: &http.Server{Handler: srv.Handler()}}
	ts.Start()
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients * 2}
	defer tr.CloseIdleConnections()
	verifier, challenge := pkce()
	b.SetParallelism((benchClients + 1) / max(1, procs()))
	var failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		f := &benchFlow{base: ts.URL, secrets: secrets, challenge: challenge, verifier: verifier, c: &http.Client{Transport: tr},
			email: fmt.Sprintf("bench%d@example.com", next.Add(1)%accounts), busy: &busy}
		f.browser()
		if sso {
			if err := f.flow("app1", true); err != nil { // sign in once
				fail(err)
				return
			}
		}
		for pb.Next() {
			var err error
			if sso {
				err = f.flow("app2", false)
			} else {
				f.browser()
				err = f.flow("app1", true)
			}
			if err != nil {
				fail(err)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
	b.ReportMetric(float64(busy.Load())/float64(b.N), "busy-retries/flow")
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d flows failed; first: %v", n, b.N, firstErr.Load())
	}
}
