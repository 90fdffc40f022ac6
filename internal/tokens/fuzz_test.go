package tokens_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// fuzzSeeds returns an env, the valid tokens (RS256 access, refresh) and
// seeds for the corpus (among them an EdDSA access token, which must not
// verify: EdDSA is not the access ring's algorithm). The valid tokens are deterministic
// (fixed claims and family; PKCS#1 v1.5 and Ed25519 signatures are
// deterministic), because the fuzzing workers are separate processes that
// must agree on them with the one that wrote the corpus.
func fuzzSeeds(f *testing.F) (*env, []string, []string) {
	e := sqliteEnv(f, nil)
	now := e.clock.Now()
	fam := storage.Family{
		ID: "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", UserID: e.user.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		CurrentJTI: "0123456789abcdef0123456789abcdef", CurrentKID: e.rsa.KID, RotatedAt: now,
	}
	if err := e.store.CreateFamily(context.Background(), fam); err != nil {
		f.Fatal(err)
	}
	refresh := map[string]any{
		"token_type": "refresh", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": fam.CurrentJTI,
		"user_id": e.user.ID, "iss": issuer, "sub": strconv.FormatInt(e.user.ID, 10), "aud": issuer,
		"fid": fam.ID, "auth_time": now.Unix(),
	}
	issued := []string{
		forge(f, e.rsa, jwa.RS256, "at+jwt", "", e.accessClaims()),
		forge(f, e.rsa, jwa.RS256, "rt+jwt", "", refresh),
	}
	for _, tok := range issued {
		if err := e.svc.Verify(context.Background(), tok); err != nil {
			f.Fatalf("seed token invalid: %v", err)
		}
	}
	a := issued[0]
	seeds := append(slices.Clone(issued), forge(f, e.ed, jwa.EdDSA, "at+jwt", "", e.accessClaims()), "", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30",
		a+"=", strings.ToUpper(a), strings.Replace(a, ".", "..", 1), `{"payload":"e30","signatures":[]}`)
	return e, issued, seeds
}

// FuzzVerifyAccess: random and mutated tokens never panic and never verify
// unless they are a token idp issued, unchanged.
func FuzzVerifyAccess(f *testing.F) {
	e, issued, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		ac, err := e.svc.VerifyAccess(context.Background(), tok)
		if err == nil {
			if tok != issued[0] {
				t.Fatalf("a changed token verified: %q", tok)
			}
			if ac.UserID != e.user.ID {
				t.Fatalf("claims = %+v", ac)
			}
			return
		}
		if !errors.Is(err, tokens.ErrTokenInvalid) && !errors.Is(err, tokens.ErrWrongType) && !errors.Is(err, tokens.ErrNoUserID) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzVerify: the same for token/verify/, which also accepts refresh tokens
// and consults their family.
func FuzzVerify(f *testing.F) {
	e, issued, seeds := fuzzSeeds(f)
	valid := map[string]bool{issued[0]: true, issued[1]: true}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		err := e.svc.Verify(context.Background(), tok)
		if err == nil {
			if !valid[tok] {
				t.Fatalf("a changed token verified: %q", tok)
			}
			return
		}
		if !errors.Is(err, tokens.ErrTokenInvalid) && !errors.Is(err, tokens.ErrBlacklisted) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// TestSingleCharacterMutationsNeverVerify changes every character of valid
// tokens, each to a few other characters: none verifies.
func TestSingleCharacterMutationsNeverVerify(t *testing.T) {
	e := sqliteEnv(t, nil)
	p := e.login()
	ed := e.with(func(o *tokens.Options) { o.AccessAlg = "EdDSA" })
	pe, err := ed.Login(context.Background(), e.user, tokens.Client{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"rs256-access": p.Access, "rs256-refresh": p.Refresh, "eddsa-access": pe.Access} {
		t.Run(name, func(t *testing.T) {
			for i := range len(tok) {
				for _, c := range []byte{'A', 'g', '-', '.', '='} {
					if tok[i] == c {
						continue
					}
					m := tok[:i] + string(c) + tok[i+1:]
					if err := e.svc.Verify(context.Background(), m); err == nil {
						t.Fatalf("mutation at %d to %q verified", i, c)
					}
				}
			}
		})
	}
}
