package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The hot paths: decoding a login body, and a request through the whole
// middleware chain (request id, access log, recover, headers, handler,
// error renderer) over fakes, so the figures are httpapi's own cost.

func BenchmarkDecodeBody(b *testing.B) {
	for _, bc := range []struct{ name, ct, raw string }{
		{"json", "application/json", `{"email":"alice@example.com","password":"s3cret-pass"}`},
		{"form", "application/x-www-form-urlencoded", "email=alice%40example.com&password=s3cret-pass"},
		{"json-parse-error", "application/json", `{"email": "alice@example.com", "password": `},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.raw)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
				r.Header.Set("Content-Type", bc.ct)
				_, _ = decodeBody(r, 64<<10)
			}
		})
	}
}

func BenchmarkHandlers(b *testing.B) {
	f := newFixture(b)
	for _, bc := range []struct {
		name string
		r    req
		want int
	}{
		{"login", req{path: "/api/token/", body: `{"email":"alice@example.com","password":"s3cret-pass"}`}, 200},
		{"login-bad-credentials-401", req{path: "/api/token/", body: `{"email":"alice@example.com","password":"wrong"}`}, 401},
		{"refresh", req{path: "/api/token/refresh/", body: `{"refresh":"good-refresh"}`}, 200},
		{"logged-user", req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + tokAlice}}, 200},
		{"logged-user-bad-token-401", req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer garbage"}}, 401},
		{"jwks-304", req{method: "GET", path: "/.well-known/jwks.json", headers: []string{"If-None-Match: " + testJWKS.ETag}}, 304},
		{"not-found-404", req{method: "GET", path: "/nope"}, 404},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hr := newRequest(b, bc.r)
				rec := httptest.NewRecorder()
				f.e.ServeHTTP(rec, hr)
				if rec.Code != bc.want {
					b.Fatalf("%d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
				}
			}
		})
	}
}
