package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
)

// fakeClock is the injected clock: tests move time, never sleep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testConfig is the default configuration with cheap password hashing.
func testConfig() config.Config {
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://idp.test"
	cfg.Passwords.Argon2 = config.Argon2{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	return cfg
}

func testKEK(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// env is one idp served over real HTTP by httptest.
type env struct {
	t      testing.TB
	srv    *Server
	store  storage.Store
	clock  *fakeClock
	url    string
	client *http.Client
}

func newEnv(t testing.TB, store storage.Store, mutate ...func(*config.Config)) *env {
	t.Helper()
	return newEnvKEK(t, store, testKEK(t), mutate...)
}

// newEnvKEK is newEnv with a given KEK (several instances on one store).
func newEnvKEK(t testing.TB, store storage.Store, kek []byte, mutate ...func(*config.Config)) *env {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	clock := newClock()
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{kek}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, srv: srv, store: store, clock: clock, url: ts.URL, client: ts.Client()}
}

type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into a generic map (fails the test on error).
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

// do sends a request. body is sent as JSON unless a Content-Type header is
// given; headers are "Name: value" strings.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	// Every JSON answer ends with one newline; body is the JSON without it.
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if !bytes.HasSuffix(b, []byte("\n")) {
			e.t.Errorf("%s %s: JSON body does not end with a newline: %q", method, path, b)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (e *env) post(path, body string, headers ...string) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, body, headers...)
}

// register creates an account through the API.
func (e *env) register(name, email, password string) response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "email": email, "password": password})
	r := e.post("/api/register/", string(b))
	if r.status != http.StatusOK {
		e.t.Fatalf("register %s: %d %s", email, r.status, r.body)
	}
	return r
}

// login returns a token pair.
func (e *env) login(email, password string) (access, refresh string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	r := e.post("/api/token/", string(b))
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	m := r.json(e.t)
	return m["access"].(string), m["refresh"].(string)
}

// claims decodes a JWT's payload without verifying it.
func claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jwt)
	}
	return decodeSegment(t, parts[1])
}

// header decodes a JWT's protected header.
func header(t testing.TB, jwt string) map[string]any {
	t.Helper()
	return decodeSegment(t, strings.Split(jwt, ".")[0])
}

func decodeSegment(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("segment: %v", err)
	}
	return m
}

// tamper flips one character of the signature.
func tamper(jwt string) string {
	i := strings.LastIndexByte(jwt, '.') + 5
	c := byte('A')
	if jwt[i] == 'A' {
		c = 'B'
	}
	return jwt[:i] + string(c) + jwt[i+1:]
}
