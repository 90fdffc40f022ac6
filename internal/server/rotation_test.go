package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// cachingVerifier is a resource server as a careful one is written: it
// keeps the JWKS for the max-age idp's Cache-Control gives, and (when
// refetchOnUnknown) fetches it again once when a token names a kid it does
// not know. It verifies with the algorithm of the key, never the token's.
type cachingVerifier struct {
	e                *env
	refetchOnUnknown bool
	set              jwk.Set
	fetchedAt        time.Time
	maxAge           time.Duration
	fetches          int
}

func (v *cachingVerifier) fetch(t *testing.T) {
	t.Helper()
	r := v.e.do(http.MethodGet, "/.well-known/jwks.json", "")
	if r.status != http.StatusOK {
		t.Fatalf("JWKS: %d", r.status)
	}
	set, err := jwk.Parse([]byte(r.body))
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	cc := r.header.Get("Cache-Control")
	_, after, ok := strings.Cut(cc, "max-age=")
	secs, err := strconv.Atoi(strings.Split(after, ",")[0])
	if !ok || err != nil {
		t.Fatalf("Cache-Control %q", cc)
	}
	v.set, v.fetchedAt, v.maxAge = set, v.e.clock.Now(), time.Duration(secs)*time.Second
	v.fetches++
}

func (v *cachingVerifier) verify(t *testing.T, token string) error {
	t.Helper()
	if v.set == nil || !v.e.clock.Now().Before(v.fetchedAt.Add(v.maxAge)) {
		v.fetch(t)
	}
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		return err
	}
	kid := msg.Signatures()[0].ProtectedHeaders().KeyID()
	key, ok := v.set.LookupKeyID(kid)
	if !ok && v.refetchOnUnknown {
		v.fetch(t)
		key, ok = v.set.LookupKeyID(kid)
	}
	if !ok {
		return fmt.Errorf("unknown kid %s", kid)
	}
	_, err = jws.Verify([]byte(token), jws.WithKey(key.Algorithm(), key))
	return err
}

// TestVerifiersAcrossRotations drives the clock through four scheduled
// rotations of both rings while clients keep logging in and refreshing.
// Two verifiers that cache the JWKS for its full max-age — one refetching
// on an unknown kid, one never doing so (so only pre-publication can save
// it) — verify every access token issued, and every one still unexpired,
// with zero failures. Then the active access key is revoked: its tokens
// fail at idp at once.
func TestVerifiersAcrossRotations(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, func(c *config.Config) {
			c.JWKS.MaxAge = time.Minute
			c.Keys.CheckInterval = 5 * time.Second
			c.Keys.PrePublish = 2*time.Minute + 5*time.Second
			c.Keys.RotationPeriod = 10 * time.Minute
			c.Tokens.AccessTTL = 2 * time.Minute
			c.Tokens.RefreshTTL = 30 * time.Minute
		})
		if err := testConfigValid(e); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		e.register("Rot", "rot@example.com", "s3cret-pass")
		eager := &cachingVerifier{e: e, refetchOnUnknown: true}
		strict := &cachingVerifier{e: e}

		type issued struct {
			token string
			exp   time.Time
		}
		var live []issued
		kids := map[string]bool{}
		refreshKids := map[string]bool{}
		checked := 0
		_, refresh := e.login("rot@example.com", "s3cret-pass")
		const step = 15 * time.Second
		for elapsed := time.Duration(0); elapsed < 45*time.Minute; elapsed += step {
			e.clock.Advance(step)
			// What every instance's background loop does each check interval.
			if err := e.srv.Signer.Maintain(ctx); err != nil {
				t.Fatalf("maintain at +%s: %v", elapsed, err)
			}
			access, _ := e.login("rot@example.com", "s3cret-pass")
			r := e.post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`)
			if r.status != http.StatusOK {
				t.Fatalf("refresh at +%s: %d %s", elapsed, r.status, r.body)
			}
			m := r.json(t)
			refresh = m["refresh"].(string)
			refreshKids[header(t, refresh)["kid"].(string)] = true
			now := e.clock.Now()
			for _, tok := range []string{access, m["access"].(string)} {
				kids[header(t, tok)["kid"].(string)] = true
				live = append(live, issued{tok, time.Unix(int64(claims(t, tok)["exp"].(float64)), 0)})
			}
			kept := live[:0]
			for _, tok := range live {
				if !now.Before(tok.exp) {
					continue
				}
				kept = append(kept, tok)
				for name, v := range map[string]*cachingVerifier{"eager": eager, "strict": strict} {
					if err := v.verify(t, tok.token); err != nil {
						t.Fatalf("%s verifier rejected a valid token at +%s (kid %s): %v", name, elapsed, header(t, tok.token)["kid"], err)
					}
					checked++
				}
				if r := e.post("/api/token/verify/", `{"token":"`+tok.token+`"}`); r.status != http.StatusOK {
					t.Fatalf("idp rejected its own valid token at +%s: %d %s", elapsed, r.status, r.body)
				}
			}
			live = kept
		}
		if len(kids) < 4 || len(refreshKids) < 4 {
			t.Fatalf("saw %d access and %d refresh signing keys; want at least three rotations of each", len(kids), len(refreshKids))
		}
		t.Logf("%d verifications, %d access keys, %d refresh keys, JWKS fetches: eager %d, strict %d", checked, len(kids), len(refreshKids), eager.fetches, strict.fetches)

		// Revoke the active access key: its tokens fail at idp at once.
		access, _ := e.login("rot@example.com", "s3cret-pass")
		kid := header(t, access)["kid"].(string)
		if _, err := e.srv.Signer.Lifecycle().Revoke(ctx, kid, "test: compromised"); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Signer.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if r := e.do(http.MethodGet, "/api/logged-user/", "", "Authorization: Bearer "+access); r.status != http.StatusUnauthorized {
			t.Errorf("logged-user with a revoked key's token: %d %s", r.status, r.body)
		}
		if r := e.post("/api/token/verify/", `{"token":"`+access+`"}`); r.status != http.StatusUnauthorized {
			t.Errorf("verify of a revoked key's token: %d %s", r.status, r.body)
		}
		if strings.Contains(e.do(http.MethodGet, "/.well-known/jwks.json", "").body, kid) {
			t.Error("the revoked key is still published")
		}
		fresh, _ := e.login("rot@example.com", "s3cret-pass")
		if k := header(t, fresh)["kid"]; k == kid {
			t.Error("still signing with the revoked key")
		}
		if r := e.do(http.MethodGet, "/api/logged-user/", "", "Authorization: Bearer "+fresh); r.status != http.StatusOK {
			t.Errorf("a token of the key that took over: %d %s", r.status, r.body)
		}
	})
}

// testConfigValid makes sure the test's short periods are ones idp
// accepts (the cheap test password hashing aside).
func testConfigValid(e *env) error {
	c := e.srv.cfg
	c.Passwords = config.Default().Passwords
	return c.Validate()
}
