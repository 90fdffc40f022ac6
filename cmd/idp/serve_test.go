package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/signer"
)

// freeAddr returns a loopback address with a port nothing listens on (it
// was free a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// serving is one `idp serve` running in the test process.
type serving struct {
	t    *testing.T
	url  string
	logs *syncBuffer
	stop context.CancelFunc
	done chan error
}

// serve starts `idp serve` on addr and waits until /healthz answers.
func serve(t *testing.T, addr string) *serving {
	t.Helper()
	t.Setenv("IDP_HTTP_ADDR", addr)
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{t: t, url: "http://" + addr, logs: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	root := newRoot(strings.NewReader(""), io.Discard, s.logs)
	root.SetArgs([]string{"serve"})
	go func() { s.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of cancellation")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy within 60s (last error %v); logs:\n%s", err, s.logs)
		}
		select {
		case err := <-s.done:
			s.done <- err // for Cleanup
			t.Fatalf("serve exited before answering: %v; logs:\n%s", err, s.logs)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}

// shutdown cancels serve's context and returns what the command returned.
func (s *serving) shutdown() error {
	s.t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatalf("serve did not return within 30s of cancellation; logs:\n%s", s.logs)
		return nil
	}
}

// call sends a JSON request and decodes a JSON object answer.
func (s *serving) call(method, path, body, bearer string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatalf("%s %s: %d, body not a JSON object: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// kids returns the kids of the published JWKS, in order.
func (s *serving) kids() []string {
	s.t.Helper()
	_, m := s.call(http.MethodGet, "/.well-known/jwks.json", "", "")
	keys, _ := m["keys"].([]any)
	var out []string
	for _, k := range keys {
		kid, _ := k.(map[string]any)["kid"].(string)
		out = append(out, kid)
	}
	return out
}

func jwtHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return m
}

func TestServe(t *testing.T) {
	dir := sandbox(t)
	const email, password = "erin@example.com", "Erin's-long-passphrase-7"

	// First run: a fresh directory. The store, the KEK and the first
	// signing key are all created.
	addr := freeAddr(t)
	s := serve(t, addr)
	st, body := s.call(http.MethodPost, "/api/register/", `{"name":"Erin","email":"`+email+`","password":"`+password+`"}`, "")
	if st != http.StatusOK || body["email"] != email {
		t.Fatalf("register: %d %v", st, body)
	}
	st, body = s.call(http.MethodPost, "/api/token/", `{"email":"`+email+`","password":"`+password+`"}`, "")
	access, _ := body["access"].(string)
	refresh, _ := body["refresh"].(string)
	if st != http.StatusOK || access == "" || refresh == "" {
		t.Fatalf("login: %d %v", st, body)
	}
	if st, body := s.call(http.MethodGet, "/api/logged-user/", "", access); st != http.StatusOK || body["email"] != email {
		t.Fatalf("logged-user: %d %v", st, body)
	}
	kids := s.kids()
	if kid, _ := jwtHeader(t, access)["kid"].(string); !slices.Contains(kids, kid) {
		t.Fatalf("JWKS kids %v lack %q, the access token's", kids, kid)
	}

	// The CLI sees the login on the same data while the server runs.
	got := listUsers(t)
	if len(got) != 1 || got[0].Email != email || got[0].LastLogin == nil {
		t.Errorf("users list while serving: %+v (want %s with a last_login)", got, email)
	}

	if err := s.shutdown(); err != nil {
		t.Fatalf("serve returned %v after cancellation, want nil; logs:\n%s", err, s.logs)
	}
	if listening(addr) {
		t.Error("still listening after serve returned")
	}
	logs := s.logs.String()
	for _, w := range []string{"generated a development key-encryption key", "serving", "shutting down", "stopped"} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q:\n%s", w, logs)
		}
	}
	for _, secret := range []string{password, access, refresh} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs reveal a secret (%.12s…)", secret)
		}
	}

	kekPath := filepath.Join(dir, "keys", "kek")
	fi, err := os.Stat(kekPath)
	if err != nil {
		t.Fatalf("development KEK: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keys/kek mode %04o, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(filepath.Dir(kekPath)); err != nil || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("keys/ directory: %v, mode %v: want no group/other access", err, di.Mode())
	}
	kek, err := os.ReadFile(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.ParseKEK(string(kek)); err != nil {
		t.Errorf("keys/kek: %v", err)
	}
	if strings.Contains(logs, strings.TrimSpace(string(kek))) {
		t.Error("logs reveal the generated KEK")
	}

	// Second run on the same data and address (the development issuer is
	// derived from it): same KEK, same signing key, and the first run's
	// tokens still work.
	s2 := serve(t, addr)
	if kids2 := s2.kids(); !slices.Equal(kids2, kids) {
		t.Errorf("second run publishes %v, want the first run's keys %v", kids2, kids)
	}
	if st, body := s2.call(http.MethodGet, "/api/logged-user/", "", access); st != http.StatusOK || body["email"] != email {
		t.Errorf("first run's access token on the second run: %d %v", st, body)
	}
	st, body = s2.call(http.MethodPost, "/api/token/refresh/", `{"refresh":"`+refresh+`"}`, "")
	if st != http.StatusOK || body["access"] == nil {
		t.Errorf("first run's refresh token on the second run: %d %v", st, body)
	}
	if err := s2.shutdown(); err != nil {
		t.Fatalf("second serve returned %v", err)
	}
	if strings.Contains(s2.logs.String(), "generated a development key-encryption key") {
		t.Errorf("second run did not reuse keys/kek:\n%s", s2.logs)
	}
	if !strings.Contains(logs, "created    store data/idp.db, development KEK keys/kek, first signing keys  (first run)") {
		t.Errorf("the first run's start-up block does not say what it created:\n%s", logs)
	}
	if strings.Contains(s2.logs.String(), "created  ") {
		t.Errorf("the second run claims to have created something:\n%s", s2.logs)
	}
	for i, l := range []string{logs, s2.logs.String()} {
		if n := strings.Count(l, "DEVELOPMENT key in keys/kek"); n != 1 {
			t.Errorf("run %d warned %d times about the development KEK, want once:\n%s", i+1, n, l)
		}
	}
	if kek2, err := os.ReadFile(kekPath); err != nil || string(kek2) != string(kek) {
		t.Errorf("keys/kek changed between runs (err %v)", err)
	}

	// Promoting this directory to production by copying the development
	// KEK into the configuration is refused.
	t.Setenv("IDP_ENV", "production")
	t.Setenv("IDP_TOKENS_ISSUER", "https://idp.example.com")
	t.Setenv("IDP_KEYS_ENCRYPTION_KEY", strings.TrimSpace(string(kek)))
	t.Setenv("IDP_HTTP_ADDR", addr)
	r := idp(t, nil, "serve")
	if r.err == nil || !strings.Contains(r.err.Error(), "development KEK") {
		t.Errorf("production with the development KEK: %v, want a refusal", r.err)
	}
	if strings.Contains(r.all(), strings.TrimSpace(string(kek))) {
		t.Error("the refusal reveals the KEK")
	}
	if listening(addr) {
		t.Error("production with the development KEK is listening")
	}
}

func TestServeRefuses(t *testing.T) {
	kek, err := signer.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		// want are substrings of the error.
		want []string
		// problems: the error is a *config.Problems.
		problems bool
	}{
		{
			name:     "invalid-configuration",
			env:      map[string]string{"IDP_LOG_LEVEL": "loud", "IDP_TOKENS_ACCESS_TTL": "48h", "IDP_KEYS_RSA_BITS": "1024"},
			want:     []string{`log.level: "loud"`, `tokens.access_ttl: "48h0m0s"`, `keys.rsa_bits: "1024"`},
			problems: true,
		},
		{
			name:     "production-without-kek",
			env:      map[string]string{"IDP_ENV": "production", "IDP_TOKENS_ISSUER": "https://idp.example.com"},
			want:     []string{"keys.encryption_keys", "required in production", "IDP_KEYS_ENCRYPTION_KEY", "idp keys generate-kek"},
			problems: true,
		},
		{
			name:     "production-with-bad-kek",
			env:      map[string]string{"IDP_ENV": "production", "IDP_TOKENS_ISSUER": "https://idp.example.com", "IDP_KEYS_ENCRYPTION_KEY": "dG9vLXNob3J0"},
			want:     []string{"keys.encryption_keys[0]: (value hidden): must decode to 32 bytes"},
			problems: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := sandbox(t)
			addr := freeAddr(t)
			t.Setenv("IDP_HTTP_ADDR", addr)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := idp(t, nil, "serve")
			if r.err == nil {
				t.Fatal("serve returned nil")
			}
			var p *config.Problems
			if tc.problems != errors.As(r.err, &p) {
				t.Errorf("error %T, *config.Problems: %t, want %t", r.err, !tc.problems, tc.problems)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, r.err)
				}
			}
			if strings.Contains(r.all(), kek) || strings.Contains(r.all(), "dG9vLXNob3J0") {
				t.Errorf("output reveals a KEK:\n%s", r.all())
			}
			if listening(addr) {
				t.Errorf("something listens on %s", addr)
			}
			for _, p := range []string{"keys", "data"} {
				if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s/ was created (err %v): a refused start must leave nothing behind", p, err)
				}
			}
		})
	}

	t.Run("kek-file-readable-by-others", func(t *testing.T) {
		dir := sandbox(t)
		t.Setenv("IDP_HTTP_ADDR", freeAddr(t))
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", "kek"), []byte(kek+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := idp(t, nil, "serve")
		if r.err == nil || !strings.Contains(r.err.Error(), "chmod 600") {
			t.Fatalf("serve with a world-readable keys/kek: err %v, want a refusal telling to chmod 600", r.err)
		}
		if strings.Contains(r.all(), kek) {
			t.Errorf("output reveals the KEK:\n%s", r.all())
		}
	})

	t.Run("production-with-kek-serves", func(t *testing.T) {
		dir := sandbox(t)
		t.Setenv("IDP_ENV", "production")
		t.Setenv("IDP_TOKENS_ISSUER", "https://idp.example.com")
		t.Setenv("IDP_KEYS_ENCRYPTION_KEY", kek)
		s := serve(t, freeAddr(t))
		if st, m := s.call(http.MethodGet, "/readyz", "", ""); st != http.StatusOK {
			t.Errorf("readyz: %d %v", st, m)
		}
		if len(s.kids()) == 0 {
			t.Error("empty JWKS")
		}
		if err := s.shutdown(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "keys")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keys/ created although a KEK is configured (err %v)", err)
		}
		if strings.Contains(s.logs.String(), kek) {
			t.Error("logs reveal the KEK")
		}
	})
}

func TestServeAddressInUse(t *testing.T) {
	sandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("IDP_HTTP_ADDR", ln.Addr().String())
	r := idp(t, nil, "serve")
	if r.err == nil || !strings.Contains(r.err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("serve on a busy address: %v, want a listen error naming the address", r.err)
	}
}

// TestServeAdminAddr: admin.addr moves the admin surface to a listener
// serve opens before the start-up block, which names it; a taken
// admin.addr stops serve with the key's name.
func TestServeAdminAddr(t *testing.T) {
	sandbox(t)
	adminAddr := freeAddr(t)
	t.Setenv("IDP_ADMIN_ADDR", adminAddr)
	s := serve(t, freeAddr(t))
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(s.url + "/admin/login"); st != http.StatusNotFound {
		t.Errorf("console on the public listener: %d, want 404", st)
	}
	if st := get("http://" + adminAddr + "/admin/login"); st != http.StatusOK {
		t.Errorf("console on the admin listener: %d, want 200", st)
	}
	if w := "admin      http://" + adminAddr + "/admin/  (admin.addr; not served on the public listener)"; !strings.Contains(s.logs.String(), w) {
		t.Errorf("start-up block lacks %q:\n%s", w, s.logs)
	}
	if err := s.shutdown(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if listening(adminAddr) {
		t.Error("admin listener still open after serve returned")
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv("IDP_ADMIN_ADDR", taken.Addr().String())
	t.Setenv("IDP_HTTP_ADDR", freeAddr(t))
	root := newRoot(strings.NewReader(""), io.Discard, io.Discard)
	root.SetArgs([]string{"serve"})
	err = root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "(admin.addr)") {
		t.Errorf("serve with a taken admin.addr: %v, want an error naming admin.addr", err)
	}
}
