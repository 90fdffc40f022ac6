package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// testKey is a signing key of the fake issuer.
type testKey struct {
	alg  jwa.SignatureAlgorithm
	priv jwk.Key
	pub  jwk.Key // what the JWKS publishes
}

// loadKey reads testdata/<file> and gives it kid and alg.
func loadKey(file, kid string, alg jwa.SignatureAlgorithm) (testKey, error) {
	pemBytes, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		return testKey{}, err
	}
	priv, err := jwk.ParseKey(pemBytes, jwk.WithPEM(true))
	if err != nil {
		return testKey{}, fmt.Errorf("parse %s: %w", file, err)
	}
	if err := errors.Join(priv.Set(jwk.KeyIDKey, kid), priv.Set(jwk.AlgorithmKey, alg)); err != nil {
		return testKey{}, err
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return testKey{}, err
	}
	return testKey{alg: alg, priv: priv, pub: pub}, pub.Set(jwk.KeyUsageKey, jwk.ForSignature)
}

// testKeys are the fake issuer's keys, loaded once.
var testKeys = sync.OnceValue(func() map[string]testKey {
	keys := map[string]testKey{}
	for name, k := range map[string]struct {
		file, kid string
		alg       jwa.SignatureAlgorithm
	}{
		"rsa":   {"rsa-a.pem", "rsa-1", jwa.RS256},
		"rsa-b": {"rsa-b.pem", "rsa-2", jwa.RS256},
		"ed":    {"ed25519.pem", "ed-1", jwa.EdDSA},
		"ec":    {"ec-p256.pem", "ec-1", jwa.ES256},
	} {
		key, err := loadKey(k.file, k.kid, k.alg)
		if err != nil {
			panic(err) // broken fixtures
		}
		keys[name] = key
	}
	return keys
})

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fakeIssuer plays idp: discovery and a JWKS whose keys, Cache-Control and
// availability the test controls; it counts JWKS fetches.
type fakeIssuer struct {
	srv *httptest.Server
	URL string // the issuer (the server's base URL)

	mu        sync.Mutex
	keys      []jwk.Key
	maxAge    int    // Cache-Control max-age; < 0: no Cache-Control
	down      bool   // answer 503 to everything
	jwksDown  bool   // answer 503 to the JWKS only
	docIssuer string // the issuer the discovery document names ("" = URL)

	jwksFetches atomic.Int64
	fetched     chan struct{} // one value per JWKS fetch (dropped when full)
}

func newFakeIssuer(t testing.TB, keys ...jwk.Key) *fakeIssuer {
	f := &fakeIssuer{keys: keys, maxAge: 3600, fetched: make(chan struct{}, 100)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	// Under the lock: serve reads URL, and may already be running.
	f.mu.Lock()
	f.URL = f.srv.URL
	f.mu.Unlock()
	return f
}

func (f *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		iss := f.docIssuer
		if iss == "" {
			iss = f.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": f.URL + "/.well-known/jwks.json"})
	case "/.well-known/jwks.json":
		if f.jwksDown {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.jwksFetches.Add(1)
		select {
		case f.fetched <- struct{}{}:
		default:
		}
		if f.maxAge >= 0 {
			w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(f.maxAge)+", must-revalidate")
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": f.keys})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeIssuer) publish(keys ...jwk.Key) { f.set(func(f *fakeIssuer) { f.keys = keys }) }

// testNow is the frozen clock of verifier tests.
var testNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time             { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration)    { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock(t time.Time) *clock           { return &clock{t: t} }
func (c *clock) Unix(d time.Duration) int64 { return c.Now().Add(d).Unix() }

// startVerifier runs a verifier against f until the test ends and waits for
// its first JWKS.
func startVerifier(t testing.TB, f *fakeIssuer, edit func(*Config)) (*Verifier, *clock, *syncBuffer) {
	t.Helper()
	clk := newClock(testNow)
	var logs syncBuffer
	cfg := Config{
		Issuer:             f.URL,
		Leeway:             30 * time.Second,
		MinRefetchInterval: 5 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:                clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-v.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("no JWKS loaded; logs:\n%s", logs.String())
	}
	return v, clk, &logs
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// accessClaims are the claims of a valid idp access token at clk's time.
func accessClaims(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss": iss, "sub": "7", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": "0123456789abcdef0123456789abcdef", "token_type": "access", "user_id": 7,
		"email": "alice@example.com",
	}
}

// sign makes a compact JWS of claims with header {alg, kid, typ} (header
// fields given as "" are left out).
func sign(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	h := map[string]any{}
	if kid != "" {
		h[jws.KeyIDKey] = kid
	}
	if typ != "" {
		h[jws.TypeKey] = typ
	}
	return signBytes(t, alg, key, mustJSON(t, claims), h)
}

// signBytes signs payload with the given extra protected header fields.
func signBytes(t testing.TB, alg jwa.SignatureAlgorithm, key any, payload []byte, header map[string]any) string {
	t.Helper()
	if k, ok := key.(jwk.Key); ok {
		// jws.Sign would put the jwk.Key's own kid in the header.
		var raw any
		must(t, k.Raw(&raw))
		key = raw
	}
	h := jws.NewHeaders()
	for k, v := range header {
		must(t, h.Set(k, v))
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	must(t, err)
	return string(tok)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// signAccess signs an access token with k.
func signAccess(t testing.TB, k testKey, claims map[string]any) string {
	return sign(t, k.alg, k.priv, k.pub.KeyID(), "at+jwt", claims)
}

// unsigned makes an alg "none" token (jwx refuses to make one).
func unsigned(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	must(t, err)
	p, err := json.Marshal(claims)
	must(t, err)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}
