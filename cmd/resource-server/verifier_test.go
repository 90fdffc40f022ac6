package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// oddKeys are published next to the good ones, and must never verify.
type oddKeys struct {
	noAlg  jwk.Key // rsa-b's public key, kid "noalg-1", no alg
	hmac   jwk.Key // an oct key with alg HS256, kid "hmac-1"
	secret []byte
	enc    jwk.Key // rsa-b's public key, kid "enc-1", use "enc"
}

func newOddKeys(t testing.TB) oddKeys {
	b := testKeys()["rsa-b"]
	noAlg, err := b.pub.Clone()
	must(t, err)
	must(t, noAlg.Remove(jwk.AlgorithmKey))
	must(t, noAlg.Set(jwk.KeyIDKey, "noalg-1"))
	enc, err := b.pub.Clone()
	must(t, err)
	must(t, enc.Set(jwk.KeyIDKey, "enc-1"))
	must(t, enc.Set(jwk.KeyUsageKey, jwk.ForEncryption))
	secret := []byte("a shared secret has no place in a public JWKS")
	hmac, err := jwk.FromRaw(secret)
	must(t, err)
	must(t, hmac.Set(jwk.KeyIDKey, "hmac-1"))
	must(t, hmac.Set(jwk.AlgorithmKey, jwa.HS256))
	return oddKeys{noAlg: noAlg, hmac: hmac, secret: secret, enc: enc}
}

func rsaPublicPEM(t testing.TB, k testKey) []byte {
	var raw any
	must(t, k.pub.Raw(&raw))
	der, err := x509.MarshalPKIXPublicKey(raw)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// with returns claims with changes applied (nil value: delete).
func with(claims map[string]any, changes map[string]any) map[string]any {
	c := maps.Clone(claims)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestVerify(t *testing.T) {
	keys := testKeys()
	rsa, ed, ec := keys["rsa"], keys["ed"], keys["ec"]
	odd := newOddKeys(t)
	f := newFakeIssuer(t, rsa.pub, ed.pub, ec.pub, odd.noAlg, odd.hmac, odd.enc)
	v, _, _ := startVerifier(t, f, nil)
	iss, now := f.URL, testNow
	good := accessClaims(iss, now)
	valid := signAccess(t, rsa, good)
	segs := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"accept/RS256", valid, nil},
		{"accept/EdDSA", signAccess(t, ed, good), nil},
		{"accept/ES256", signAccess(t, ec, good), nil},
		{"accept/exp-within-leeway", signAccess(t, rsa, with(good, map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), nil},
		{"accept/iat-within-leeway", signAccess(t, rsa, with(good, map[string]any{"iat": now.Add(10 * time.Second).Unix()})), nil},
		{"accept/nbf-past", signAccess(t, rsa, with(good, map[string]any{"nbf": now.Add(-time.Minute).Unix()})), nil},
		{"accept/no-iat", signAccess(t, rsa, with(good, map[string]any{"iat": nil})), nil},
		{"accept/typ-media-type", sign(t, jwa.RS256, rsa.priv, "rsa-1", "application/at+jwt", good), nil},

		{"form/empty", "", ErrMalformed},
		{"form/garbage", "garbage", ErrMalformed},
		{"form/two-segments", segs[0] + "." + segs[1], ErrMalformed},
		{"form/four-segments", valid + ".x", ErrMalformed},
		{"form/not-base64", "!!!.???.***", ErrMalformed},
		{"form/header-not-json", base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + segs[1] + "." + segs[2], ErrMalformed},
		{"form/json-serialization", `{"payload":"` + segs[1] + `","protected":"` + segs[0] + `","signature":"` + segs[2] + `"}`, ErrMalformed},
		{"form/too-large", signAccess(t, rsa, with(good, map[string]any{"pad": strings.Repeat("x", maxTokenSize)})), ErrMalformed},
		{"form/payload-not-object", signRaw(t, rsa, []byte(`[1,2]`)), ErrMalformed},
		{"form/crit-header", signCrit(t, rsa, good), ErrMalformed},
		{"form/exp-not-a-number", signAccess(t, rsa, with(good, map[string]any{"exp": "tomorrow"})), ErrMalformed},

		{"signature/tampered-payload", segs[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, with(good, map[string]any{"user_id": 1}))) + "." + segs[2], ErrSignature},
		{"signature/tampered-signature", segs[0] + "." + segs[1] + "." + flip(segs[2]), ErrSignature},
		{"signature/empty", segs[0] + "." + segs[1] + ".", ErrSignature},
		{"signature/other-key-same-kid", sign(t, jwa.RS256, keys["rsa-b"].priv, "rsa-1", "at+jwt", good), ErrSignature},

		{"alg/none", unsigned(t, map[string]any{"alg": "none", "kid": "rsa-1", "typ": "at+jwt"}, good), ErrAlgorithm},
		{"alg/HS256-with-RSA-public-key", sign(t, jwa.HS256, rsaPublicPEM(t, rsa), "rsa-1", "at+jwt", good), ErrAlgorithm},
		{"alg/header-RS384-key-RS256", sign(t, jwa.RS384, rsa.priv, "rsa-1", "at+jwt", good), ErrAlgorithm},
		{"alg/header-EdDSA-key-RS256", sign(t, jwa.EdDSA, ed.priv, "rsa-1", "at+jwt", good), ErrAlgorithm},
		{"alg/key-without-alg", sign(t, jwa.RS256, keys["rsa-b"].priv, "noalg-1", "at+jwt", good), ErrAlgorithm},
		{"alg/HS256-key-in-jwks", sign(t, jwa.HS256, odd.secret, "hmac-1", "at+jwt", good), ErrAlgorithm},
		{"alg/encryption-key", sign(t, jwa.RS256, keys["rsa-b"].priv, "enc-1", "at+jwt", good), ErrAlgorithm},

		{"kid/unknown", sign(t, jwa.RS256, rsa.priv, "nobody", "at+jwt", good), ErrUnknownKey},
		{"kid/missing", sign(t, jwa.RS256, rsa.priv, "", "at+jwt", good), ErrUnknownKey},

		{"time/expired", signAccess(t, rsa, with(good, map[string]any{"exp": now.Add(-time.Hour).Unix()})), ErrExpired},
		{"time/expired-just-beyond-leeway", signAccess(t, rsa, with(good, map[string]any{"exp": now.Add(-30 * time.Second).Unix()})), ErrExpired},
		{"time/no-exp", signAccess(t, rsa, with(good, map[string]any{"exp": nil})), ErrExpired},
		{"time/nbf-future", signAccess(t, rsa, with(good, map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), ErrNotYetValid},
		{"time/iat-future", signAccess(t, rsa, with(good, map[string]any{"iat": now.Add(31 * time.Second).Unix()})), ErrNotYetValid},

		{"iss/wrong", signAccess(t, rsa, with(good, map[string]any{"iss": "https://evil.example"})), ErrIssuer},
		{"iss/trailing-slash", signAccess(t, rsa, with(good, map[string]any{"iss": iss + "/"})), ErrIssuer},
		{"iss/missing", signAccess(t, rsa, with(good, map[string]any{"iss": nil})), ErrIssuer},

		{"type/refresh-token", sign(t, jwa.RS256, rsa.priv, "rsa-1", "rt+jwt", with(good, map[string]any{"token_type": "refresh", "aud": iss, "fid": "f1"})), ErrWrongType},
		{"type/access-typ-refresh-claim", signAccess(t, rsa, with(good, map[string]any{"token_type": "refresh"})), ErrWrongType},
		{"type/refresh-typ-access-claim", sign(t, jwa.RS256, rsa.priv, "rsa-1", "rt+jwt", good), ErrWrongType},
		{"type/typ-JWT", sign(t, jwa.RS256, rsa.priv, "rsa-1", "JWT", good), ErrWrongType},
		{"type/no-typ", sign(t, jwa.RS256, rsa.priv, "rsa-1", "", good), ErrWrongType},
		{"type/no-token-type", signAccess(t, rsa, with(good, map[string]any{"token_type": nil})), ErrNoType},
		{"type/token-type-not-string", signAccess(t, rsa, with(good, map[string]any{"token_type": 1})), ErrNoType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if claims["user_id"] != json.Number("7") || claims["email"] != "alice@example.com" {
					t.Fatalf("claims = %v", claims)
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not *Error", err)
			}
			if claims != nil {
				t.Fatal("claims returned with an error")
			}
		})
	}
}

func TestVerifyAudience(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	const aud = "https://orders.example"
	v, _, _ := startVerifier(t, f, func(c *Config) { c.Audience = aud })
	good := accessClaims(f.URL, testNow)
	tests := []struct {
		name string
		aud  any // nil: no aud claim
		typ  string
		want error
	}{
		{"aud/string", aud, "at+jwt", nil},
		{"aud/list-containing", []string{"https://other.example", aud}, "at+jwt", nil},
		{"aud/missing", nil, "at+jwt", ErrAudience},
		{"aud/wrong", "https://other.example", "at+jwt", ErrAudience},
		{"aud/list-without", []string{"https://other.example"}, "at+jwt", ErrAudience},
		{"aud/empty-list", []string{}, "at+jwt", ErrAudience},
		{"aud/not-a-string", 42, "at+jwt", ErrAudience},
		{"aud/case-differs", strings.ToUpper(aud), "at+jwt", ErrAudience},
		// A refresh token is "wrong type" whatever its aud (idp sets it to the issuer).
		{"aud/refresh-token", f.URL, "rt+jwt", ErrWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := with(good, map[string]any{"aud": tt.aud})
			if tt.typ == "rt+jwt" {
				c["token_type"] = "refresh"
			}
			_, err := v.Verify(context.Background(), sign(t, jwa.RS256, rsa.priv, "rsa-1", tt.typ, c))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyUsesInjectedClock(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	v, clk, _ := startVerifier(t, f, nil)
	tok := signAccess(t, rsa, accessClaims(f.URL, testNow)) // exp: +5 min
	steps := []struct {
		name    string
		advance time.Duration
		want    error
	}{
		{"clock/fresh", 0, nil},
		{"clock/exp-passed-within-leeway", 5*time.Minute + 29*time.Second, nil},
		{"clock/beyond-leeway", time.Second, ErrExpired},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
	}
}

func TestUnknownKidRefetchesOnce(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	v, clk, logs := startVerifier(t, f, nil)
	claims := accessClaims(f.URL, testNow)
	unknown := func(kid string) error {
		_, err := v.Verify(context.Background(), sign(t, jwa.RS256, rsa.priv, kid, "at+jwt", claims))
		return err
	}
	steps := []struct {
		name    string
		advance time.Duration
		kid     string
		fetches int64 // JWKS fetches so far, including the first
	}{
		{"refetch/first-unknown-kid-fetches", 0, "ghost-1", 2},
		{"refetch/second-within-interval-does-not", 4 * time.Second, "ghost-2", 2},
		{"refetch/after-interval-fetches-again", time.Second, "ghost-3", 3},
		{"refetch/same-kid-again-rate-limited", 0, "ghost-3", 3},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if err := unknown(s.kid); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("%s: err = %v, want ErrUnknownKey", s.name, err)
		}
		if got := f.jwksFetches.Load(); got != s.fetches {
			t.Fatalf("%s: %d JWKS fetches, want %d", s.name, got, s.fetches)
		}
	}
	if !strings.Contains(logs.String(), `trigger="unknown kid" keys=1 kids=[rsa-1]`) {
		t.Fatalf("no fetch log line with the kids:\n%s", logs)
	}
}

func TestGarbageKidBurstFetchesAtMostOnce(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	v, _, _ := startVerifier(t, f, nil)
	claims := accessClaims(f.URL, testNow)
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = sign(t, jwa.RS256, rsa.priv, fmt.Sprintf("garbage-%d", i), "at+jwt", claims)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	for _, tok := range tokens {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	}
	if got := f.jwksFetches.Load(); got != 2 {
		t.Fatalf("%d JWKS fetches for a burst of 100 garbage kids, want the first + exactly 1", got)
	}
	// Good tokens still verify, without fetching.
	if _, err := v.Verify(context.Background(), signAccess(t, rsa, claims)); err != nil {
		t.Fatal(err)
	}
	if got := f.jwksFetches.Load(); got != 2 {
		t.Fatalf("%d JWKS fetches", got)
	}
}

func TestKeyRotation(t *testing.T) {
	keys := testKeys()
	oldKey, newKey := keys["rsa"], keys["rsa-b"]
	f := newFakeIssuer(t, oldKey.pub)
	v, clk, _ := startVerifier(t, f, nil)
	claims := accessClaims(f.URL, testNow)

	f.publish(oldKey.pub, newKey.pub) // idp rotates; our cache (max-age 1 h) has not seen it
	steps := []struct {
		name    string
		token   string
		fetches int64
	}{
		{"rotation/new-key-accepted-after-one-refetch", signAccess(t, newKey, claims), 2},
		{"rotation/new-key-again-no-fetch", signAccess(t, newKey, claims), 2},
		{"rotation/old-key-still-accepted", signAccess(t, oldKey, claims), 2},
	}
	for _, s := range steps {
		if _, err := v.Verify(context.Background(), s.token); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.jwksFetches.Load(); got != s.fetches {
			t.Fatalf("%s: %d fetches, want %d", s.name, got, s.fetches)
		}
	}

	// The old key is withdrawn: its tokens fail once the JWKS is refetched.
	f.publish(newKey.pub)
	clk.Advance(5 * time.Second)
	if _, err := v.Verify(context.Background(), sign(t, jwa.RS256, newKey.priv, "ghost", "at+jwt", claims)); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), signAccess(t, oldKey, claims)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("withdrawn key: err = %v, want ErrUnknownKey", err)
	}
}

// A garbage kid that used up the refetch makes a genuinely new key wait
// for the next interval: the price of not letting garbage hammer idp. (idp
// publishes keys 2 × max-age before signing with them, so a verifier that
// honours max-age never needs this path for idp's own rotations.)
func TestRotationAfterGarbageWaitsForInterval(t *testing.T) {
	keys := testKeys()
	f := newFakeIssuer(t, keys["rsa"].pub)
	v, clk, _ := startVerifier(t, f, nil)
	claims := accessClaims(f.URL, testNow)
	_, _ = v.Verify(context.Background(), sign(t, jwa.RS256, keys["rsa"].priv, "garbage", "at+jwt", claims))
	f.publish(keys["rsa"].pub, keys["rsa-b"].pub)
	tok := signAccess(t, keys["rsa-b"], claims)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within the interval: err = %v, want ErrUnknownKey", err)
	}
	clk.Advance(5 * time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
}

func TestIssuerDownKeepsCachedKeys(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	v, clk, logs := startVerifier(t, f, nil)
	claims := accessClaims(f.URL, testNow)
	f.set(func(f *fakeIssuer) { f.down = true })

	if _, err := v.Verify(context.Background(), signAccess(t, rsa, claims)); err != nil {
		t.Fatalf("idp down, cached key: %v", err)
	}
	// An unknown kid tries to refetch, fails, and changes nothing.
	clk.Advance(time.Minute)
	if _, err := v.Verify(context.Background(), sign(t, jwa.RS256, rsa.priv, "ghost", "at+jwt", claims)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if !strings.Contains(logs.String(), "jwks refetch failed; keeping the keys we have") {
		t.Fatalf("failed refetch not logged:\n%s", logs)
	}
	if _, err := v.Verify(context.Background(), signAccess(t, rsa, claims)); err != nil {
		t.Fatalf("after a failed refetch: %v", err)
	}
}

// startUnready runs a verifier with a real clock and short retry intervals
// without waiting for its keys.
func startUnready(t *testing.T, f *fakeIssuer) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{Issuer: f.URL, MinRefetchInterval: 50 * time.Millisecond, Leeway: time.Minute})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return v
}

func TestStartsWhileIssuerDown(t *testing.T) {
	rsa := testKeys()["rsa"]
	tests := []struct {
		name string
		down func(f *fakeIssuer, down bool)
	}{
		{"start/discovery-down", func(f *fakeIssuer, down bool) { f.down = down }},
		{"start/jwks-down", func(f *fakeIssuer, down bool) { f.jwksDown = down }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeIssuer(t, rsa.pub)
			f.set(func(f *fakeIssuer) { tt.down(f, true) })
			v := startUnready(t, f)
			tok := signAccess(t, rsa, accessClaims(f.URL, time.Now()))
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrNoKeys) {
				t.Fatalf("before any keys: err = %v, want ErrNoKeys", err)
			}
			f.set(func(f *fakeIssuer) { tt.down(f, false) })
			select {
			case <-v.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("keys never loaded after idp came up")
			}
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(f *fakeIssuer)
		issuer  func(f *fakeIssuer) string
		wantErr string
	}{
		{"discovery/ok", nil, nil, ""},
		{"discovery/issuer-mismatch", func(f *fakeIssuer) { f.docIssuer = "https://other.example" }, nil, "names issuer"},
		{"discovery/configured-with-slash", nil, func(f *fakeIssuer) string { return f.URL + "/" }, "names issuer"},
		{"discovery/down", func(f *fakeIssuer) { f.down = true }, nil, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIssuer(t)
			if tt.edit != nil {
				f.set(tt.edit)
			}
			iss := f.URL
			if tt.issuer != nil {
				iss = tt.issuer(f)
			}
			u, err := discover(context.Background(), f.srv.Client(), iss)
			if tt.wantErr == "" {
				if err != nil || u != f.URL+"/.well-known/jwks.json" {
					t.Fatalf("discover = %q, %v", u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewVerifierChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"config/no-issuer", Config{}},
		{"config/relative-issuer", Config{Issuer: "idp.example"}},
		{"config/bad-jwks-url", Config{Issuer: "https://idp.example", JWKSURL: "ftp://x"}},
		{"config/negative-leeway", Config{Issuer: "https://idp.example", Leeway: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// The JWKS is refreshed on the schedule its Cache-Control max-age sets:
// an issuer answering max-age=1 is fetched again every second or so, one
// answering max-age=3600 not at all meanwhile, and the scheduled refresh
// brings in keys without any unknown-kid refetch.
func TestJWKSMaxAgeHonoured(t *testing.T) {
	keys := testKeys()
	short := newFakeIssuer(t, keys["rsa"].pub)
	short.set(func(f *fakeIssuer) { f.maxAge = 1 })
	long := newFakeIssuer(t, keys["rsa"].pub)
	fastFloor := func(c *Config) { c.MinRefetchInterval = 0 } // floor: 1 s
	vShort, _, logs := startVerifier(t, short, fastFloor)
	startVerifier(t, long, fastFloor)

	// Use up the unknown-kid refetch (the test clock is frozen, so it
	// stays used up): from now on only the schedule can bring new keys.
	claims := accessClaims(short.URL, testNow)
	_, _ = vShort.Verify(context.Background(), sign(t, jwa.RS256, keys["rsa"].priv, "garbage", "at+jwt", claims))
	short.publish(keys["rsa"].pub, keys["rsa-b"].pub)
	base := short.jwksFetches.Load()

	deadline := time.After(10 * time.Second)
	for short.jwksFetches.Load() < base+2 {
		select {
		case <-short.fetched:
		case <-deadline:
			t.Fatalf("max-age=1: %d scheduled refreshes in 10 s, want 2; logs:\n%s", short.jwksFetches.Load()-base, logs)
		}
	}
	if got := long.jwksFetches.Load(); got != 1 {
		t.Fatalf("max-age=3600: %d fetches, want 1", got)
	}
	if _, err := vShort.Verify(context.Background(), signAccess(t, keys["rsa-b"], claims)); err != nil {
		t.Fatalf("key published before a scheduled refresh: %v", err)
	}
	if !strings.Contains(logs.String(), `trigger=scheduled keys=2 kids="[rsa-1 rsa-2]"`) {
		t.Fatalf("no log line for the scheduled refresh:\n%s", logs)
	}
}

func signRaw(t testing.TB, k testKey, payload []byte) string {
	return signBytes(t, k.alg, k.priv, payload, map[string]any{jws.KeyIDKey: k.pub.KeyID(), jws.TypeKey: "at+jwt"})
}

func signCrit(t testing.TB, k testKey, claims map[string]any) string {
	return signBytes(t, k.alg, k.priv, mustJSON(t, claims),
		map[string]any{jws.KeyIDKey: k.pub.KeyID(), jws.TypeKey: "at+jwt", jws.CriticalKey: []string{"exp"}})
}

// flip changes one character in the middle of a base64url segment.
func flip(seg string) string {
	b := []byte(seg)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
