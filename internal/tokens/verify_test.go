package tokens_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/tokens"
)

func TestAccessTokenFormat(t *testing.T) {
	for _, alg := range []string{signer.RS256, signer.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			e := sqliteEnv(t, func(o *tokens.Options) { o.AccessAlg = alg })
			p := e.login()
			h, c := decode(t, p.Access)
			wantKID := e.rsa.KID
			if alg == signer.EdDSA {
				wantKID = e.ed.KID
			}
			if len(h) != 3 || h["alg"] != alg || h["kid"] != wantKID || h["typ"] != "at+jwt" {
				t.Errorf("header = %v", h)
			}
			now := t0.Unix() // iat is truncated: never in the future
			want := map[string]string{
				"token_type": "access", "exp": strconv.FormatInt(now+300, 10), "iat": strconv.FormatInt(now, 10),
				"user_id": strconv.FormatInt(e.user.ID, 10), "iss": issuer,
				"sub": strconv.FormatInt(e.user.ID, 10), "email": "alice@example.com",
			}
			for k, v := range want {
				if got, _ := c[k].(interface{ String() string }); got == nil && c[k] != v || got != nil && got.String() != v {
					t.Errorf("claim %s = %v, want %s", k, c[k], v)
				}
			}
			if _, ok := c["user_id"].(json.Number); !ok {
				t.Errorf("user_id is %T, want a JSON integer", c["user_id"])
			}
			if _, ok := c["aud"]; ok {
				t.Error("aud present without configured audience")
			}
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c["jti"].(string)) {
				t.Errorf("jti = %v", c["jti"])
			}
			if len(c) != 9 {
				t.Errorf("claims = %v", c)
			}
			if sid, _ := c["sid"].(string); len(sid) != 32 {
				t.Errorf("sid = %v, want the session (family) id", c["sid"])
			}
			// SimpleJWT's claim order comes first.
			payload := strings.Split(p.Access, ".")[1]
			if !strings.HasPrefix(decodeRaw(t, payload), `{"token_type":"access","exp":`) {
				t.Errorf("payload starts %q", decodeRaw(t, payload)[:30])
			}

			ac, err := e.svc.VerifyAccess(context.Background(), p.Access)
			if err != nil {
				t.Fatal(err)
			}
			if ac.UserID != e.user.ID || ac.Email != e.user.Email || ac.JTI != c["jti"] || ac.KID != wantKID || ac.SessionID != c["sid"] ||
				ac.IssuedAt.Unix() != now || ac.ExpiresAt.Unix() != now+300 {
				t.Errorf("claims = %+v", ac)
			}
		})
	}
}

func decodeRaw(t *testing.T, seg string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestRefreshTokenFormat(t *testing.T) {
	e := sqliteEnv(t, nil)
	p := e.login()
	h, c := decode(t, p.Refresh)
	if h["alg"] != "RS256" || h["kid"] != e.rsa.KID || h["typ"] != "rt+jwt" {
		t.Errorf("header = %v", h)
	}
	f := e.family(p.Refresh)
	if c["token_type"] != "refresh" || c["aud"] != issuer || c["iss"] != issuer || c["fid"] != f.ID ||
		c["jti"] != f.CurrentJTI || c["auth_time"].(json.Number).String() != strconv.FormatInt(t0.Unix(), 10) ||
		c["exp"].(json.Number).String() != strconv.FormatInt(t0.Add(24*time.Hour).Unix(), 10) {
		t.Errorf("claims = %v, family = %+v", c, f)
	}
	if f.Generation != 0 || f.UserAgent != "test/1.0" || f.IP != "192.0.2.1" || f.CurrentKID != e.rsa.KID ||
		!f.ExpiresAt.Equal(f.CreatedAt.Add(30*24*time.Hour)) || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(f.ID) {
		t.Errorf("family = %+v", f)
	}
	if c["jti"] == mustClaims(t, p.Access)["jti"] {
		t.Error("access and refresh share a jti")
	}
}

func mustClaims(t *testing.T, tok string) map[string]any { _, c := decode(t, tok); return c }

// TestVerifyAccessRejects covers every way an access token is refused.
func TestVerifyAccessRejects(t *testing.T) {
	e := sqliteEnv(t, nil)
	p := e.login()
	pubDER, _ := x509.MarshalPKIXPublicKey(e.rsa.PublicKey())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, _ := json.Marshal(e.rsa.Public)
	parts := strings.Split(p.Access, ".")

	hmacForged := func(secret []byte) string {
		payload, _ := json.Marshal(e.accessClaims())
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, e.rsa.KID)
		_ = h.Set(jws.TypeKey, "at+jwt")
		out, err := jws.Sign(payload, jws.WithKey(jwa.HS256, secret, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	withClaim := func(name string, v any) string {
		c := e.accessClaims()
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
		return forge(t, e.rsa, jwa.RS256, "at+jwt", "", c)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	now := t0.Unix()

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", p.Access, nil},
		{"valid/forged-with-own-key", withClaim("jti", "abc"), nil},
		{"garbage", "not-a-token", tokens.ErrTokenInvalid},
		{"empty", "", tokens.ErrTokenInvalid},
		{"two-segments", parts[0] + "." + parts[1], tokens.ErrTokenInvalid},
		{"tampered-signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 10), tokens.ErrTokenInvalid},
		{"tampered-payload", parts[0] + "." + b64([]byte(`{"token_type":"access","exp":9999999999,"iat":1,"jti":"x","user_id":2,"iss":"`+issuer+`"}`)) + "." + parts[2], tokens.ErrTokenInvalid},
		{"padded-signature", p.Access + "==", tokens.ErrTokenInvalid},
		{"stray-trailing-bits", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "R", tokens.ErrTokenInvalid},
		{"json-serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, tokens.ErrTokenInvalid},
		{"alg-none-empty-signature", unsigned(map[string]any{"alg": "none", "kid": e.rsa.KID, "typ": "at+jwt"}, e.accessClaims(), ""), tokens.ErrTokenInvalid},
		{"alg-none-with-signature", unsigned(map[string]any{"alg": "none", "kid": e.rsa.KID, "typ": "at+jwt"}, e.accessClaims(), parts[2]), tokens.ErrTokenInvalid},
		{"hs256-forged-with-public-key-pem", hmacForged(pubPEM), tokens.ErrTokenInvalid},
		{"hs256-forged-with-public-jwk", hmacForged(pubJWK), tokens.ErrTokenInvalid},
		{"header-alg-ps256-on-rs256-key", forge(t, e.rsa, jwa.PS256, "at+jwt", "", e.accessClaims()), tokens.ErrTokenInvalid},
		{"header-alg-rs512-on-rs256-key", forge(t, e.rsa, jwa.RS512, "at+jwt", "", e.accessClaims()), tokens.ErrTokenInvalid},
		{"rsa-signed-with-eddsa-kid", forge(t, e.rsa, jwa.RS256, "at+jwt", e.ed.KID, e.accessClaims()), tokens.ErrTokenInvalid},
		{"eddsa-signed-with-rsa-kid", forge(t, e.ed, jwa.EdDSA, "at+jwt", e.rsa.KID, e.accessClaims()), tokens.ErrTokenInvalid},
		{"header-alg-lies-signature-by-key-alg", headerLies(t, e, "RS512"), tokens.ErrTokenInvalid},
		{"header-alg-lowercase", headerLies(t, e, "rs256"), tokens.ErrTokenInvalid},
		{"header-alg-matches-control", headerLies(t, e, "RS256"), nil},
		{"unknown-kid", forge(t, e.rsa, jwa.RS256, "at+jwt", "no-such-kid", e.accessClaims()), tokens.ErrTokenInvalid},
		{"no-kid", forge(t, e.rsa, jwa.RS256, "at+jwt", "-", e.accessClaims()), tokens.ErrTokenInvalid},
		{"wrong-iss", withClaim("iss", "https://evil.test"), tokens.ErrTokenInvalid},
		{"no-iss", withClaim("iss", nil), tokens.ErrTokenInvalid},
		{"aud-without-configured-audience", withClaim("aud", "api"), tokens.ErrTokenInvalid},
		{"no-exp", withClaim("exp", nil), tokens.ErrTokenInvalid},
		{"exp-as-string", withClaim("exp", strconv.FormatInt(now+300, 10)), tokens.ErrTokenInvalid},
		{"expired-beyond-leeway", withClaim("exp", now-31), tokens.ErrTokenInvalid},
		{"expired-within-leeway", withClaim("exp", now-29), nil},
		{"iat-future-beyond-leeway", withClaim("iat", now+31), tokens.ErrTokenInvalid},
		{"iat-future-within-leeway", withClaim("iat", now+29), nil},
		{"no-iat", withClaim("iat", nil), tokens.ErrTokenInvalid},
		{"nbf-future", withClaim("nbf", now+60), tokens.ErrTokenInvalid},
		{"nbf-past", withClaim("nbf", now-60), nil},
		{"no-jti", withClaim("jti", nil), tokens.ErrTokenInvalid},
		{"no-token-type", withClaim("token_type", nil), tokens.ErrTokenInvalid},
		{"typ-at-but-token-type-refresh", withClaim("token_type", "refresh"), tokens.ErrTokenInvalid},
		{"typ-jwt", forge(t, e.rsa, jwa.RS256, "JWT", "", e.accessClaims()), tokens.ErrTokenInvalid},
		{"refresh-used-as-access", p.Refresh, tokens.ErrWrongType},
		{"missing-user-id", withClaim("user_id", nil), tokens.ErrNoUserID},
		{"string-user-id", withClaim("user_id", strconv.FormatInt(e.user.ID, 10)), tokens.ErrNoUserID},
		{"fractional-user-id", withClaim("user_id", 1.5), tokens.ErrNoUserID},
		{"sub-differs-from-user-id", withClaim("sub", "999"), tokens.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.VerifyAccess(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{tokens.ErrTokenInvalid, tokens.ErrWrongType, tokens.ErrNoUserID} {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("err = %v is also %v", err, other)
				}
			}
		})
	}
}

func TestVerifyAccessClock(t *testing.T) {
	e := sqliteEnv(t, nil)
	p := e.login()
	for _, tt := range []struct {
		name  string
		at    time.Duration // after login
		valid bool
	}{
		{"fresh", 0, true},
		{"at-exp", 5 * time.Minute, true},
		{"within-leeway", 5*time.Minute + 29*time.Second, true},
		{"past-leeway", 5*time.Minute + 30*time.Second, false},
		{"an-hour-later", time.Hour, false},
		{"verifier-clock-behind-within-leeway", -29 * time.Second, true},
		{"verifier-clock-behind-beyond-leeway", -32 * time.Second, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// exp and iat are whole seconds: count from the truncated login time.
			e.clock.Set(t0.Truncate(time.Second).Add(tt.at))
			_, err := e.svc.VerifyAccess(context.Background(), p.Access)
			if tt.valid != (err == nil) {
				t.Fatalf("err = %v, want valid=%v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, tokens.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

func TestAudience(t *testing.T) {
	e := sqliteEnv(t, func(o *tokens.Options) { o.Audience = []string{"api"} })
	p := e.login()
	if c := mustClaims(t, p.Access); c["aud"] != "api" {
		t.Fatalf("aud = %v", c["aud"])
	}
	if _, err := e.svc.VerifyAccess(context.Background(), p.Access); err != nil {
		t.Fatal(err)
	}
	multi := e.with(func(o *tokens.Options) { o.Audience = []string{"api", "admin"} })
	mp, err := multi.Login(context.Background(), e.user, tokens.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if aud, _ := mustClaims(t, mp.Access)["aud"].([]any); len(aud) != 2 {
		t.Fatalf("aud = %v", mustClaims(t, mp.Access)["aud"])
	}
	for _, tt := range []struct {
		name string
		svc  *tokens.Service
		tok  string
		ok   bool
	}{
		{"multi-roundtrip", multi, mp.Access, true},
		{"other-audience", e.with(func(o *tokens.Options) { o.Audience = []string{"other"} }), p.Access, false},
		{"no-audience-configured", e.with(func(o *tokens.Options) { o.Audience = nil }), p.Access, false},
		{"missing-aud", e.svc, forge(t, e.rsa, jwa.RS256, "at+jwt", "", e.accessClaims()), false},
		{"subset", multi, p.Access, false},
		{"other-issuer", e.with(func(o *tokens.Options) { o.Issuer = "https://other.test" }), p.Access, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.svc.VerifyAccess(context.Background(), tt.tok)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, tokens.ErrTokenInvalid)) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRevokedKeyRejects(t *testing.T) {
	e := sqliteEnv(t, nil)
	p := e.login()
	e.keys.revoke(e.rsa.KID)
	for name, f := range map[string]func() error{
		"verify-access": func() error { _, err := e.svc.VerifyAccess(context.Background(), p.Access); return err },
		"verify":        func() error { return e.svc.Verify(context.Background(), p.Refresh) },
		"refresh":       func() error { _, err := e.refresh(p.Refresh); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := f(); !errors.Is(err, tokens.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	e := sqliteEnv(t, nil)
	for _, tt := range []struct {
		name string
		mod  func(*tokens.Options)
		want string
	}{
		{"no-keys", func(o *tokens.Options) { o.Keys = nil }, "Keys is required"},
		{"no-families", func(o *tokens.Options) { o.Families = nil }, "Families is required"},
		{"no-users", func(o *tokens.Options) { o.Users = nil }, "Users is required"},
		{"no-issuer", func(o *tokens.Options) { o.Issuer = "" }, "Issuer is required"},
		{"bad-alg", func(o *tokens.Options) { o.AccessAlg = "HS256" }, `AccessAlg "HS256"`},
		{"negative-grace", func(o *tokens.Options) { o.RefreshGrace = -time.Second }, "RefreshGrace -1s"},
		{"negative-ttl", func(o *tokens.Options) { o.AccessTTL = -time.Second }, "AccessTTL -1s"},
		{"reserved-user-id-claim", func(o *tokens.Options) { o.UserIDClaim = "sub" }, `UserIDClaim "sub"`},
		{"empty-audience", func(o *tokens.Options) { o.Audience = []string{""} }, "Audience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := e.opts
			tt.mod(&o)
			_, err := tokens.New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("several-problems-at-once", func(t *testing.T) {
		_, err := tokens.New(tokens.Options{})
		for _, want := range []string{"Keys", "Families", "Users", "Issuer"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to mention %s", err, want)
			}
		}
	})
}

func TestCustomUserIDClaim(t *testing.T) {
	e := sqliteEnv(t, func(o *tokens.Options) { o.UserIDClaim = "uid" })
	p := e.login()
	c := mustClaims(t, p.Access)
	if _, ok := c["user_id"]; ok || c["uid"] == nil {
		t.Fatalf("claims = %v", c)
	}
	if ac, err := e.svc.VerifyAccess(context.Background(), p.Access); err != nil || ac.UserID != e.user.ID {
		t.Fatalf("VerifyAccess = %+v, %v", ac, err)
	}
	if _, err := e.refresh(p.Refresh); err != nil {
		t.Fatal(err)
	}
	// A service still expecting user_id finds no user id.
	other := e.with(func(o *tokens.Options) { o.UserIDClaim = "" })
	if _, err := other.VerifyAccess(context.Background(), p.Access); !errors.Is(err, tokens.ErrNoUserID) {
		t.Fatalf("err = %v, want ErrNoUserID", err)
	}
}

// headerLies signs, with the RSA key under RS256, a token whose header
// claims alg: only the header/key algorithm check can reject it.
func headerLies(t *testing.T, e *env, alg string) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": e.rsa.KID, "typ": "at+jwt"})
	c, _ := json.Marshal(e.accessClaims())
	input := b64(h) + "." + b64(c)
	s, err := jws.NewSigner(jwa.RS256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign([]byte(input), e.rsa.Signer())
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}
