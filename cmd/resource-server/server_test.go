package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

const (
	bodyNotProvided = `{"detail":"Authentication credentials were not provided."}`
	bodyBadHeader   = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
	bodyInvalid     = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	bodyWrongType   = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
	bodyNoType      = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has no type"}]}`
)

func do(h http.Handler, method, path, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	v, _, logs := startVerifier(t, f, nil)
	h := newHandler(v, v.log)
	claims := accessClaims(f.URL, testNow)
	access := signAccess(t, rsa, claims)
	refresh := sign(t, jwa.RS256, rsa.priv, "rsa-1", "rt+jwt", with(claims, map[string]any{"token_type": "refresh", "aud": f.URL}))
	noType := signAccess(t, rsa, with(claims, map[string]any{"token_type": nil}))
	expired := signAccess(t, rsa, with(claims, map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))
	whoami := `{"claims":{"email":"alice@example.com","exp":` + itoa(claims["exp"]) + `,"iat":` + itoa(claims["iat"]) +
		`,"iss":"` + f.URL + `","jti":"0123456789abcdef0123456789abcdef","sub":"7","token_type":"access","user_id":7}}`

	tests := []struct {
		name          string
		method, path  string
		authorization string
		status        int
		body          string
		allow         string
	}{
		{"whoami/ok", "GET", "/whoami", "Bearer " + access, 200, whoami, ""},
		{"whoami/two-spaces", "GET", "/whoami", "Bearer  " + access, 200, whoami, ""},
		{"whoami/tab", "GET", "/whoami", "Bearer\t" + access, 200, whoami, ""},
		{"whoami/head", "HEAD", "/whoami", "Bearer " + access, 200, whoami, ""},
		{"resource/ok", "GET", "/resource", "Bearer " + access, 200, `{"message":"hello alice@example.com","user_id":7}`, ""},

		{"auth/no-header", "GET", "/whoami", "", 401, bodyNotProvided, ""},
		{"auth/lowercase-bearer", "GET", "/whoami", "bearer " + access, 401, bodyNotProvided, ""},
		{"auth/token-scheme", "GET", "/whoami", "Token " + access, 401, bodyNotProvided, ""},
		{"auth/jwt-scheme", "GET", "/resource", "JWT " + access, 401, bodyNotProvided, ""},
		{"auth/bearer-alone", "GET", "/whoami", "Bearer", 401, bodyBadHeader, ""},
		{"auth/bearer-spaces", "GET", "/whoami", "Bearer   ", 401, bodyBadHeader, ""},
		{"auth/three-parts", "GET", "/whoami", "Bearer " + access + " extra", 401, bodyBadHeader, ""},
		{"auth/garbage", "GET", "/whoami", "Bearer garbage", 401, bodyInvalid, ""},
		{"auth/expired", "GET", "/resource", "Bearer " + expired, 401, bodyInvalid, ""},
		{"auth/refresh-token", "GET", "/whoami", "Bearer " + refresh, 401, bodyWrongType, ""},
		{"auth/no-token-type", "GET", "/whoami", "Bearer " + noType, 401, bodyNoType, ""},

		// Authentication first, then the method (as DRF does).
		{"method/post-without-token", "POST", "/whoami", "", 401, bodyNotProvided, ""},
		{"method/post-with-token", "POST", "/whoami", "Bearer " + access, 405, `{"detail":"Method \"POST\" not allowed."}`, "GET, HEAD"},
		{"method/delete-resource", "DELETE", "/resource", "Bearer " + access, 405, `{"detail":"Method \"DELETE\" not allowed."}`, "GET, HEAD"},
		{"method/post-healthz", "POST", "/healthz", "", 405, `{"detail":"Method \"POST\" not allowed."}`, "GET, HEAD"},

		{"other/healthz", "GET", "/healthz", "", 200, `{"status":"ok"}`, ""},
		{"other/readyz", "GET", "/readyz", "", 200, `{"status":"ready"}`, ""},
		{"other/unknown-path", "GET", "/nope", "", 404, `{"detail":"Not found."}`, ""},
		{"other/whoami-slash", "GET", "/whoami/", "Bearer " + access, 404, `{"detail":"Not found."}`, ""},
		{"other/root", "GET", "/", "", 404, `{"detail":"Not found."}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(h, tt.method, tt.path, tt.authorization)
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Fatalf("%s %s: %d %s\nwant %d %s", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			wantWWW := ""
			if tt.status == 401 {
				wantWWW = `Bearer realm="api"`
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != wantWWW {
				t.Fatalf("WWW-Authenticate %q, want %q", got, wantWWW)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}

	// Every refusal was logged with its reason, never with the token.
	out := logs.String()
	for _, want := range []string{
		`msg="token refused" method=GET path=/whoami`,
		`reason="not an access token" detail="token_type \"refresh\"" kid=rsa-1`,
		`reason="token expired"`,
		`reason="malformed token"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, tok := range []string{access, refresh, expired, "garbage"} {
		if strings.Contains(out, tok) {
			t.Fatalf("a token reached the log:\n%s", out)
		}
	}
}

func TestHandlerWithoutKeys(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	f.set(func(f *fakeIssuer) { f.down = true })
	v := startUnready(t, f)
	h := newHandler(v, slog.New(slog.DiscardHandler))
	tok := signAccess(t, rsa, accessClaims(f.URL, time.Now()))
	tests := []struct {
		name          string
		path          string
		authorization string
		status        int
		body          string
	}{
		{"nokeys/valid-token-503", "/whoami", "Bearer " + tok, 503, `{"detail":"Service temporarily unavailable, try again later."}`},
		{"nokeys/no-token-still-401", "/whoami", "", 401, bodyNotProvided},
		{"nokeys/malformed-still-401", "/whoami", "Bearer garbage", 401, bodyInvalid},
		{"nokeys/healthz-alive", "/healthz", "", 200, `{"status":"ok"}`},
		{"nokeys/readyz-503", "/readyz", "", 503, `{"status":"no keys yet"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(h, "GET", tt.path, tt.authorization)
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
			if tt.status == 503 && tt.path == "/whoami" && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, token string
		problem       bool
	}{
		{"Bearer abc", "abc", false},
		{" Bearer abc ", "abc", false},
		{"Bearer\r\n\tabc", "abc", false},
		{"Bearer\u00a0abc", "", true}, // NBSP is not ASCII whitespace: one part
		{"", "", true},
		{"Basic abc", "", true},
		{"BEARER abc", "", true},
		{"Bearer a b", "", true},
	}
	for _, tt := range tests {
		token, problem := bearerToken(tt.header)
		if token != tt.token || (problem != nil) != tt.problem {
			t.Errorf("bearerToken(%q) = %q, %v", tt.header, token, problem)
		}
	}
}

func itoa(v any) string { return fmt.Sprint(v) }
