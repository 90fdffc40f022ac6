package e2e

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// snippetLeeway is the clock skew the README's snippets tolerate.
const snippetLeeway = 10 * time.Second

// Refusal reasons as each verifier words them.
var (
	expiredErr    = []string{"ERR_JWT_EXPIRED", "ExpiredSignatureError", `"exp" not satisfied`, "token_not_valid"}
	unknownKidErr = []string{"ERR_JWKS_NO_MATCHING_KEY", "Unable to find a signing key", "failed to find key with key ID", "token_not_valid"}
)

// TestInterop has real third-party verifiers check idp's access tokens
// with only idp's live JWKS, for RS256 and EdDSA access tokens: a fresh
// token is accepted; a tampered one, an expired one, one signed by a
// revoked key (after the verifier's JWKS refresh), a refresh token and
// forged headers are refused; tokens keep verifying across a rotation.
// SimpleJWT 5.2.2 cannot verify EdDSA at all: with EdDSA access tokens it
// refuses everything, which the test asserts.
func TestInterop(t *testing.T) {
	needE2E(t)
	needInterop(t)
	for _, alg := range []string{"RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			testInterop(t, alg)
		})
	}
}

func testInterop(t *testing.T, alg string) {
	const accessTTL = 6 * time.Second
	// Each token type has its own ring: refresh tokens take the other
	// deterministic algorithm.
	refreshAlg := "EdDSA"
	if alg == "EdDSA" {
		refreshAlg = "RS256"
	}
	d := newDeployment(t, map[string]string{
		"IDP_KEYS_ACCESS_ALGORITHM":  alg,
		"IDP_KEYS_REFRESH_ALGORITHM": refreshAlg,
		"IDP_TOKENS_ACCESS_TTL":      accessTTL.String(),
		"IDP_TOKENS_LEEWAY":          snippetLeeway.String(),
	})
	idp := d.start(t, "idp")
	email, password := newUser(t, idp.api, "interop-"+strings.ToLower(alg))
	first, err := idp.login(email, password)
	must(t, err)
	if h := headerOf(t, first.Access); h.Alg != alg || h.Typ != "at+jwt" {
		t.Fatalf("access token header %+v, want alg %s typ at+jwt", h, alg)
	}
	userID := claimsOf(t, first.Access)["user_id"]

	vs := make(map[string]*verifier)
	for _, name := range verifierNames {
		vs[name] = startVerifier(t, name, d.issuer, alg, d.jwksMaxAge)
	}
	t.Cleanup(func() {
		for _, name := range verifierNames {
			t.Logf("%s %s", alg, vs[name].summary())
		}
	})
	// accepts: whether v can verify idp's access tokens of alg at all.
	accepts := func(v *verifier) bool { return alg == "RS256" || v.name != drfName }
	drf := vs[drfName]
	if eddsa, _ := drf.hello["eddsa"].(string); !strings.Contains(eddsa, "Unrecognized algorithm type 'EdDSA'") {
		t.Errorf("SimpleJWT with ALGORITHM EdDSA: %q, want it refused (5.2.2 cannot verify EdDSA)", eddsa)
	}
	each := func(f func(v *verifier)) {
		for _, name := range verifierNames {
			f(vs[name])
		}
	}

	// (a) A fresh access token.
	each(func(v *verifier) {
		a := v.expect(t, "fresh access token", first.Access, accepts(v))
		if a.OK && a.UserID != userID {
			t.Errorf("%s: user_id %v, want %v", v.name, a.UserID, userID)
		}
	})

	// (b) Tokens that must be refused.
	kid0 := kidOf(first.Access)
	claims := claimsOf(t, first.Access)
	claims["user_id"] = userID.(float64) + 1
	parts := strings.Split(first.Access, ".")
	sig := []byte(parts[2])
	// Another base64url character in the middle: a wrong signature.
	if mid := len(sig) / 2; sig[mid] == 'A' {
		sig[mid] = 'B'
	} else {
		sig[mid] = 'A'
	}
	forged := map[string]string{
		"tampered claims":    reencode(t, first.Access, 1, claims),
		"tampered signature": parts[0] + "." + parts[1] + "." + string(sig),
		"refresh token":      first.Refresh,
		"alg none":           unsigned(reencode(t, first.Access, 0, map[string]string{"alg": "none", "kid": kid0, "typ": "at+jwt"})),
	}
	if rk := kidOf(first.Refresh); rk != kid0 {
		// The refresh ring's key (with RS256 access tokens: an Ed25519 key).
		// With EdDSA access tokens both kinds of token share one ring.
		forged["kid of the refresh ring"] = reencode(t, first.Access, 0, map[string]string{"alg": alg, "kid": rk, "typ": "at+jwt"})
	}
	for _, label := range slices.Sorted(maps.Keys(forged)) {
		each(func(v *verifier) {
			a := v.expect(t, label, forged[label], false)
			if v.name == drfName && a.Status == 500 {
				t.Logf("%s: %s: answered 500 (%s), not 401", v.name, label, a.Error)
			}
		})
	}

	// SimpleJWT's default JWTAuthentication needs the user row locally; the
	// stateless class does not.
	if alg == "RS256" {
		drf.expectWith(t, "JWTAuthentication, no local user row", first.Access, map[string]any{"view": "local"}, false, "user_not_found")
		if a := drf.ask(t, map[string]any{"op": "create_user", "id": userID, "email": "local-copy@example.com"}); !a.OK {
			t.Fatalf("create local user: %+v", a)
		}
		a := drf.expectWith(t, "JWTAuthentication, local user row", first.Access, map[string]any{"view": "local"}, true)
		if a.Body["email"] != "local-copy@example.com" {
			t.Errorf("JWTAuthentication answered %v, want the local row", a.Body)
		}
	}

	// (c) Across a rotation: tokens of the retired key and of the new
	// active key all verify with the verifiers' cached JWKS.
	const batch = 5
	var pre, post []string
	chain := first
	for range batch {
		chain, err = idp.refresh(chain.Refresh)
		must(t, err)
		if kidOf(chain.Access) != kid0 {
			t.Fatalf("pre-rotation token signed by %s, want %s", kidOf(chain.Access), kid0)
		}
		pre = append(pre, chain.Access)
	}
	d.mustCLI(t, "keys", "rotate", "--force", "--alg", alg)
	pollUntil(t, "a token signed by the new key", 20*time.Millisecond, 10*time.Second, func() bool {
		chain, err = idp.refresh(chain.Refresh)
		must(t, err)
		return kidOf(chain.Access) != kid0
	})
	kid1 := kidOf(chain.Access)
	post = append(post, chain.Access)
	for len(post) < batch {
		chain, err = idp.refresh(chain.Refresh)
		must(t, err)
		post = append(post, chain.Access)
	}
	each(func(v *verifier) {
		for i := range batch {
			v.expect(t, "after rotation: token of the new key", post[i], accepts(v))
			v.expect(t, "after rotation: token of the retired key", pre[i], accepts(v))
		}
	})

	// (b) A token signed by a revoked key: idp refuses it within
	// keys.check_interval, the verifiers once their JWKS cache refreshes.
	revokedToken := post[0]
	d.mustCLI(t, "keys", "revoke", "--reason", "e2e interop test", "--", kid1) // "--": a kid may start with "-"
	revoked := time.Now()
	idpWindow := pollUntil(t, "idp refuses the revoked key's token", 20*time.Millisecond, d.checkEvery+5*time.Second, func() bool {
		st, err := idp.verify(revokedToken)
		must(t, err)
		return st == 401
	})
	pollUntil(t, "the revoked key leaves the JWKS", 20*time.Millisecond, 5*time.Second, func() bool {
		_, kids, err := idp.jwks()
		must(t, err)
		return !slices.Contains(kids, kid1)
	})
	t.Logf("%s: revoked key refused by idp %s after `idp keys revoke` returned", alg, idpWindow.Round(time.Millisecond))
	each(func(v *verifier) {
		if v.name == drfName {
			return // below
		}
		// The snippets cache the JWKS for jwks.max_age: poll until refused.
		for v.check(t, revokedToken, nil).OK {
			if time.Since(revoked) > d.jwksMaxAge+d.checkEvery+10*time.Second {
				v.failures++
				t.Errorf("%s: still accepts the revoked key's token %s after revocation", v.name, time.Since(revoked))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		window := time.Since(revoked)
		v.expect(t, "token of a revoked key", revokedToken, false, unknownKidErr...)
		t.Logf("%s: %s refuses the revoked key's token %s after revocation (its cache: %s)", alg, v.name, window.Round(time.Millisecond), d.jwksMaxAge)
	})
	if alg == "RS256" {
		// SimpleJWT's PyJWKClient caches the JWKS for 300 s per process, and
		// 5.2.2 has no setting for it: a running DRF service still accepts
		// the revoked key until then. A fresh process (a refetch) refuses it.
		drf.expect(t, "token of a revoked key, JWKS cached before revocation (SimpleJWT caches 300 s)", revokedToken, true)
		drf.p.stop()
		fresh := startVerifier(t, drfName, d.issuer, alg, d.jwksMaxAge)
		fresh.checked, fresh.failures = drf.checked, drf.failures
		fresh.expect(t, "token of a revoked key, JWKS fetched after revocation", revokedToken, false, unknownKidErr...)
		vs[drfName], drf = fresh, fresh
	} else {
		drf.expect(t, "token of a revoked key", revokedToken, false)
	}
	// The key that took over is accepted everywhere. (A new login: with
	// EdDSA access tokens, refresh tokens share the revoked key's ring, and
	// revoking a key ends the sessions whose refresh token it signed.)
	next, err := idp.login(email, password)
	must(t, err)
	if k := kidOf(next.Access); k == kid1 || k == kid0 {
		t.Fatalf("after revoking %s, idp signs with %s", kid1, k)
	}
	each(func(v *verifier) { v.expect(t, "token of the key that took over", next.Access, accepts(v)) })

	// (b) An expired token, of a key still published (retired, not
	// revoked): refused once exp + the verifiers' leeway has passed.
	if wait := time.Until(expOf(t, first.Access).Add(snippetLeeway + time.Second)); wait > 0 {
		time.Sleep(wait) // the behaviour under test is the passing of time
	}
	_, kids, err := idp.jwks()
	must(t, err)
	if !slices.Contains(kids, kid0) {
		t.Fatalf("retired key %s left the JWKS before its tokens expired", kid0)
	}
	each(func(v *verifier) { v.expect(t, "expired access token", first.Access, false, expiredErr...) })
	st, err := idp.verify(first.Access)
	must(t, err)
	if st != 401 {
		t.Errorf("idp verify of the expired token: %d, want 401", st)
	}
}

// unsigned drops the signature of token, keeping the final dot.
func unsigned(token string) string { return token[:strings.LastIndex(token, ".")+1] }
