package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCORS(t *testing.T) {
	const app, evil = "https://app.example.com", "https://evil.example.com"
	preflight := func(origin, method, headers string) req {
		h := []string{"Origin: " + origin, "Access-Control-Request-Method: " + method}
		if headers != "" {
			h = append(h, "Access-Control-Request-Headers: "+headers)
		}
		return req{method: http.MethodOptions, path: "/api/token/", headers: h}
	}
	cases := []struct {
		name    string
		origins []string
		req     req
		status  int
		// want headers ("" = must be absent).
		want map[string]string
		// bodyHas: a substring of the body (the handler ran).
		bodyHas string
	}{
		{
			name: "none-configured-preflight-gets-no-cors", req: preflight(app, "POST", "content-type"),
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": ""}, bodyHas: `"name":"Token Obtain Pair"`,
		},
		{
			name: "none-configured-simple-request", req: req{method: "GET", path: "/.well-known/jwks.json", headers: []string{"Origin: " + app}},
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "allowed-preflight", origins: []string{app}, req: preflight(app, "POST", "content-type, authorization"),
			status: 204, want: map[string]string{
				"Access-Control-Allow-Origin":      app,
				"Access-Control-Allow-Methods":     "GET,HEAD,POST,DELETE",
				"Access-Control-Allow-Headers":     "Authorization,Content-Type,X-Request-Id,If-None-Match",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "",
				"Vary":                             "Origin",
			},
		},
		{
			name: "disallowed-preflight", origins: []string{app}, req: preflight(evil, "POST", "content-type"),
			status: 204, want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""},
		},
		{
			name: "origin-match-is-exact", origins: []string{app}, req: preflight("https://app.example.com.evil.com", "POST", ""),
			status: 204, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "allowed-simple-request", origins: []string{app},
			req:    req{method: "GET", path: "/.well-known/jwks.json", headers: []string{"Origin: " + app}},
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Expose-Headers": "WWW-Authenticate,Retry-After,ETag,X-Request-Id", "Vary": "Origin"},
			bodyHas: `"keys"`,
		},
		{
			name: "allowed-post-error-still-carries-cors", origins: []string{app},
			req:    req{path: "/api/token/", body: `{}`, headers: []string{"Origin: " + app}},
			status: 400, want: map[string]string{"Access-Control-Allow-Origin": app},
			bodyHas: `"email":["This field is required."]`,
		},
		{
			name: "disallowed-simple-request-served-without-cors", origins: []string{app},
			req:    req{method: "GET", path: "/.well-known/jwks.json", headers: []string{"Origin: " + evil}},
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "any-origin", origins: []string{"*"}, req: preflight(evil, "POST", ""),
			status: 204, want: map[string]string{"Access-Control-Allow-Origin": evil},
		},
		{
			name: "plain-options-keeps-drf-metadata", origins: []string{app},
			req:    req{method: http.MethodOptions, path: "/api/token/", headers: []string{"Origin: " + app}},
			status: 200, bodyHas: `"name":"Token Obtain Pair"`,
		},
		{
			name: "options-without-origin-keeps-drf-metadata", origins: []string{app},
			req:    req{method: http.MethodOptions, path: "/api/token/"},
			status: 200, want: map[string]string{"Access-Control-Allow-Origin": ""}, bodyHas: `"name":"Token Obtain Pair"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.CORS = CORS{AllowedOrigins: tc.origins, MaxAge: 10 * time.Minute} })
			r := f.do(t, tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r)
			}
			for h, v := range tc.want {
				if got := strings.Join(r.header.Values(h), ","); got != v && !(h == "Vary" && strings.Contains(got, v)) {
					t.Errorf("%s %q, want %q", h, got, v)
				}
			}
			if !strings.Contains(r.body, tc.bodyHas) {
				t.Errorf("body %q lacks %q", r.body, tc.bodyHas)
			}
		})
	}
}
