package oauth2

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestParseBasic(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, header, id, secret string
		ok                       bool
	}{
		{"plain", enc("svc:s3cret"), "svc", "s3cret", true},
		{"form-urlencoded", enc("a%3Ab+c:x%2By+z%25"), "a:b c", "x+y z%", true},
		{"colon-in-secret", enc("svc:a:b"), "svc", "a:b", true},
		{"empty-secret", enc("svc:"), "svc", "", true},
		{"no-colon", enc("svc"), "", "", false},
		{"empty-id", enc(":x"), "", "", false},
		{"bad-escape", enc("svc:%zz"), "", "", false},
		{"not-base64", "!!", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr, ok := parseBasic(tc.header)
			if ok != tc.ok || (ok && (cr.id != tc.id || cr.secret != tc.secret || !cr.hasSecret || !cr.basic)) {
				t.Fatalf("parseBasic = %+v %v", cr, ok)
			}
		})
	}
}

func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"c3ZjOnMzY3JldA==", "", "!!", "Og=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if cr, ok := parseBasic(v); ok && cr.id == "" {
			t.Fatalf("accepted an empty client id from %q", v)
		}
	})
}

func FuzzReadForm(f *testing.F) {
	for _, s := range []string{"grant_type=client_credentials", "a=1&a=2", "resource=x&resource=y", "%zz", "a=&a=", ""} {
		f.Add(s, "application/x-www-form-urlencoded")
	}
	f.Add("{}", "application/json")
	e := echo.New()
	f.Fuzz(func(t *testing.T, body, ct string) {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		fm, oe := readForm(e.NewContext(req, rec), 1<<10)
		if oe != nil {
			if oe.Status < 400 || oe.Status >= 500 || oe.Code != errInvalidRequest {
				t.Fatalf("readForm error %+v", oe)
			}
			return
		}
		for k, v := range fm.one {
			if v == "" || multiValued[k] {
				t.Fatalf("form.one[%q] = %q", k, v)
			}
		}
	})
}
