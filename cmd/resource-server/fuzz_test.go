package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// fuzzSeeds are tokens near the valid ones: the fuzzer mutates from here.
func fuzzSeeds(f *testing.F, iss string) []string {
	rsa, ed := testKeys()["rsa"], testKeys()["ed"]
	c := accessClaims(iss, testNow)
	return []string{
		"", "garbage", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.",
		signAccess(f, rsa, c), // valid
		signAccess(f, ed, c),  // valid
		sign(f, jwa.RS256, rsa.priv, "rsa-1", "rt+jwt", with(c, map[string]any{"token_type": "refresh"})),
		sign(f, jwa.RS256, rsa.priv, "unknown", "at+jwt", c),
		unsigned(f, map[string]any{"alg": "none", "kid": "rsa-1"}, c),
		signAccess(f, rsa, with(c, map[string]any{"exp": 1e300, "iat": -1, "nbf": "x", "aud": []any{1, nil}})),
	}
}

// FuzzAuthorization: whatever the Authorization header, /whoami answers
// JSON, never panics, and refuses with 401 + WWW-Authenticate unless the
// token really verifies.
func FuzzAuthorization(f *testing.F) {
	rsa, ed := testKeys()["rsa"], testKeys()["ed"]
	iss := newFakeIssuer(f, rsa.pub, ed.pub)
	v, _, _ := startVerifier(f, iss, nil)
	h := newHandler(v, slog.New(slog.DiscardHandler)) // refusals would fill the log buffer
	for _, tok := range fuzzSeeds(f, iss.URL) {
		for _, prefix := range []string{"Bearer ", "Bearer  ", "bearer ", "Bearer\t", ""} {
			f.Add(prefix + tok)
		}
		f.Add("Bearer " + tok + " extra")
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		req := httptest.NewRequest("GET", "/whoami", nil)
		req.Header["Authorization"] = []string{authorization}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("not JSON: %q", rec.Body)
		}
		switch rec.Code {
		case 200:
			token, _ := bearerToken(authorization)
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Fatalf("200 for a token Verify refuses: %v", err)
			}
		case 401:
			if rec.Header().Get("WWW-Authenticate") != `Bearer realm="api"` || body["detail"] == nil {
				t.Fatalf("401 without WWW-Authenticate or detail: %v %s", rec.Header(), rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzVerify: any string either verifies or is refused with an *Error;
// never a panic.
func FuzzVerify(f *testing.F) {
	rsa, ed := testKeys()["rsa"], testKeys()["ed"]
	iss := newFakeIssuer(f, rsa.pub, ed.pub)
	v, _, _ := startVerifier(f, iss, nil)
	for _, tok := range fuzzSeeds(f, iss.URL) {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		var e *Error
		switch {
		case err == nil:
			if claims["token_type"] != "access" || claims["iss"] != iss.URL {
				t.Fatalf("accepted claims %v", claims)
			}
		case !errors.As(err, &e):
			t.Fatalf("err %T %v is not *Error", err, err)
		case strings.Contains(e.KID, token) && len(token) > 64:
			t.Fatal("the token leaked into the error")
		}
	})
}
