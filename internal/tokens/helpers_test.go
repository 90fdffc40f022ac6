package tokens_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/tokens"
)

const issuer = "https://idp.test"

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// staticKeys is a KeySource over fixed keys.
type staticKeys struct {
	mu        sync.Mutex
	active    map[string]*signer.Key
	published map[string]*signer.Key
}

func (k *staticKeys) SigningKey(alg string) (*signer.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key := k.active[alg]; key != nil {
		return key, nil
	}
	return nil, signer.ErrUnknownKey
}

func (k *staticKeys) VerificationKey(kid string) (*signer.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key := k.published[kid]; key != nil {
		return key, nil
	}
	return nil, signer.ErrUnknownKey
}

func (k *staticKeys) revoke(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.published, kid)
}

var (
	fixtureOnce sync.Once
	rsaKey      *signer.Key
	edKey       *signer.Key
)

func fixtureKey(t testing.TB, name, alg string) *signer.Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", name)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signer.NewKey(alg, priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixtures(t testing.TB) (rsa, ed *signer.Key) {
	fixtureOnce.Do(func() {
		rsaKey = fixtureKey(t, "rsa2048.pem", signer.RS256)
		edKey = fixtureKey(t, "ed25519.pem", signer.EdDSA)
	})
	return rsaKey, edKey
}

// env is one Service over a fresh store, a fixed clock and fixture keys.
type env struct {
	t     testing.TB
	store storage.Store
	clock *clock
	keys  *staticKeys
	svc   *tokens.Service
	opts  tokens.Options
	user  storage.User
	rsa   *signer.Key
	ed    *signer.Key
}

func newEnv(t testing.TB, store storage.Store, mod func(*tokens.Options)) *env {
	t.Helper()
	rsa, ed := fixtures(t)
	e := &env{
		t:     t,
		store: store,
		clock: &clock{t: t0},
		keys: &staticKeys{
			active:    map[string]*signer.Key{signer.RS256: rsa, signer.EdDSA: ed},
			published: map[string]*signer.Key{rsa.KID: rsa, ed.KID: ed},
		},
		rsa: rsa,
		ed:  ed,
	}
	e.opts = tokens.Options{
		Keys:         e.keys,
		Families:     store,
		Users:        store,
		Audit:        store,
		Issuer:       issuer,
		RefreshGrace: 10 * time.Second,
		Now:          e.clock.Now,
	}
	if mod != nil {
		mod(&e.opts)
	}
	var err error
	e.svc, err = tokens.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.user, err = store.CreateUser(context.Background(), storage.User{
		Email: "alice@example.com", Name: "Alice", PasswordHash: "x", IsActive: true,
		DateJoined: t0.Add(-time.Hour), PasswordChangedAt: t0.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// with returns a second Service on the same store, keys and clock.
func (e *env) with(mod func(*tokens.Options)) *tokens.Service {
	e.t.Helper()
	o := e.opts
	mod(&o)
	s, err := tokens.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) login() tokens.Pair {
	e.t.Helper()
	p, err := e.svc.Login(context.Background(), e.user, tokens.Client{IP: "192.0.2.1", UserAgent: "test/1.0"})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) refresh(tok string) (tokens.Pair, error) {
	return e.svc.Refresh(context.Background(), tok, tokens.Client{IP: "192.0.2.1", UserAgent: "test/1.0"})
}

func (e *env) family(tok string) storage.Family {
	e.t.Helper()
	_, claims := decode(e.t, tok)
	f, err := e.store.GetFamily(context.Background(), claims["fid"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// accessClaims are the claims of a valid access token for the env's user.
func (e *env) accessClaims() map[string]any {
	now := e.clock.Now().Unix()
	return map[string]any{
		"token_type": "access", "exp": now + 300, "iat": now, "jti": "0123456789abcdef0123456789abcdef",
		"user_id": e.user.ID, "iss": issuer, "sub": strconv.FormatInt(e.user.ID, 10), "email": e.user.Email,
	}
}

// forge signs claims with key under alg, with header typ and kid (kid
// defaults to the key's; "-" omits it).
func forge(t testing.TB, key *signer.Key, alg jwa.SignatureAlgorithm, typ, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	if kid == "" {
		kid = key.KID
	}
	if kid != "-" {
		_ = h.Set(jws.KeyIDKey, kid)
	}
	_ = h.Set(jws.TypeKey, typ)
	out, err := jws.Sign(payload, jws.WithKey(alg, key.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// unsigned builds a compact token from raw header and claims and a
// signature segment, without signing.
func unsigned(header, claims any, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "." + sig
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// decode returns a token's header and claims without verifying.
func decode(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func sqliteEnv(t testing.TB, mod func(*tokens.Options)) *env {
	return newEnv(t, storagetest.SQLite(t), mod)
}
