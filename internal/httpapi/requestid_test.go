package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming []string // nil: no header
		echoed   bool
	}{
		{name: "absent"},
		{name: "empty", incoming: []string{""}},
		{name: "well-formed", incoming: []string{"abc-123_XYZ.9"}, echoed: true},
		{name: "uuid", incoming: []string{"0b6c2a9e-7f3d-4c1e-9a57-2f3e4d5c6b7a"}, echoed: true},
		{name: "64-chars", incoming: []string{strings.Repeat("a", 64)}, echoed: true},
		{name: "65-chars-replaced", incoming: []string{strings.Repeat("a", 65)}},
		{name: "huge-replaced", incoming: []string{strings.Repeat("a", 8<<10)}},
		{name: "space-replaced", incoming: []string{"a b"}},
		{name: "slash-replaced", incoming: []string{"a/b"}},
		{name: "newline-replaced", incoming: []string{"a\nX-Injected: 1"}},
		{name: "quote-replaced", incoming: []string{`a"b`}},
		{name: "non-ascii-replaced", incoming: []string{"réq"}},
		{name: "invalid-utf8-replaced", incoming: []string{"a\xffb"}},
		{name: "first-of-several-used", incoming: []string{"first", "second"}, echoed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var seen string
			f.e.GET("/test", func(c echo.Context) error {
				seen = RequestID(c.Request().Context())
				return c.NoContent(http.StatusNoContent)
			})
			hr := httptest.NewRequest(http.MethodGet, "/test", nil)
			if tc.incoming != nil {
				hr.Header["X-Request-Id"] = tc.incoming
			}
			rec := httptest.NewRecorder()
			f.e.ServeHTTP(rec, hr)
			got := rec.Header().Get(headerRequestID)
			if vs := rec.Header().Values(headerRequestID); len(vs) != 1 {
				t.Errorf("X-Request-Id values %q", vs)
			}
			if tc.echoed {
				if got != tc.incoming[0] {
					t.Errorf("X-Request-Id %q, want %q echoed", got, tc.incoming[0])
				}
			} else if !generatedID.MatchString(got) {
				t.Errorf("X-Request-Id %q, want a generated id", got)
			}
			if seen != got {
				t.Errorf("context id %q, header %q", seen, got)
			}
		})
	}
	t.Run("generated-ids-differ", func(t *testing.T) {
		f := newFixture(t)
		a := f.do(t, req{method: "GET", path: "/healthz"}).header.Get(headerRequestID)
		b := f.do(t, req{method: "GET", path: "/healthz"}).header.Get(headerRequestID)
		if a == b {
			t.Errorf("two requests got the same id %q", a)
		}
	})
	t.Run("on-errors-too", func(t *testing.T) {
		r := newFixture(t).do(t, req{method: "GET", path: "/nope", headers: []string{"X-Request-Id: trace-1"}})
		if r.status != 404 || r.header.Get(headerRequestID) != "trace-1" {
			t.Errorf("%s id %q", r, r.header.Get(headerRequestID))
		}
	})
	t.Run("no-id-outside-a-request", func(t *testing.T) {
		if id := RequestID(context.Background()); id != "" {
			t.Errorf("%q", id)
		}
	})
}

func TestLogHandler(t *testing.T) {
	t.Run("every-record-of-a-request", func(t *testing.T) {
		var logs logBuffer
		f := newFixture(t, func(o *Options) { o.Logger = logs.logger() })
		f.users.authenticate = func(string, string) (storage.User, error) {
			return storage.User{}, errors.New("db down")
		}
		r := f.do(t, req{path: "/api/token/", body: `{"email":"alice@example.com","password":"s3cret-pass"}`, headers: []string{"X-Request-Id: req-42"}})
		if r.status != 500 {
			t.Fatalf("%s", r)
		}
		recs := logs.records(t)
		if len(recs) < 2 {
			t.Fatalf("want the failure and the access log, got %v", recs)
		}
		for _, rec := range recs {
			if rec["request_id"] != "req-42" {
				t.Errorf("record without the request id: %v", rec)
			}
		}
		access := logs.find(t, "request")
		if access["status"] != float64(500) || access["method"] != "POST" || access["path"] != "/api/token/" {
			t.Errorf("access log %v", access)
		}
		if strings.Contains(logs.buf.String(), "s3cret-pass") {
			t.Error("the password reached the log")
		}
	})
	t.Run("access-log-status-of-api-errors", func(t *testing.T) {
		var logs logBuffer
		f := newFixture(t, func(o *Options) { o.Logger = logs.logger() })
		f.do(t, req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer garbage"}})
		if rec := logs.find(t, "request"); rec["status"] != float64(401) {
			t.Errorf("access log %v", rec)
		}
	})
	t.Run("with-attrs-and-group-keep-it", func(t *testing.T) {
		var logs logBuffer
		ctx := context.WithValue(context.Background(), requestIDKey{}, "ctx-1")
		log := logs.logger()
		log.With("a", 1).InfoContext(ctx, "with-attrs")
		log.WithGroup("g").InfoContext(ctx, "with-group", "b", 2)
		log.InfoContext(context.Background(), "no-request")
		if rec := logs.find(t, "with-attrs"); rec["request_id"] != "ctx-1" || rec["a"] != float64(1) {
			t.Errorf("%v", rec)
		}
		if rec := logs.find(t, "with-group"); !strings.Contains(logs.buf.String(), `"ctx-1"`) || rec["g"] == nil {
			t.Errorf("%v", rec)
		}
		if rec := logs.find(t, "no-request"); rec["request_id"] != nil {
			t.Errorf("%v", rec)
		}
	})
	t.Run("enabled-delegates", func(t *testing.T) {
		h := LogHandler(slog.NewJSONHandler(&strings.Builder{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
			t.Error("Enabled not delegated")
		}
	})
}

func TestIPExtractor(t *testing.T) {
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range s {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{name: "no-proxies/xff-ignored", remote: "10.0.0.1:1234", xff: "203.0.113.9", want: "10.0.0.1"},
		{name: "no-proxies/loopback-xff-ignored", remote: "127.0.0.1:1234", xff: "203.0.113.9", want: "127.0.0.1"},
		{name: "no-proxies/ipv6", remote: "[2001:db8::1]:443", xff: "203.0.113.9", want: "2001:db8::1"},
		{name: "trusted/xff-used", trusted: pfx("10.0.0.0/8"), remote: "10.0.0.1:1234", xff: "203.0.113.9", want: "203.0.113.9"},
		{name: "trusted/unmasked-prefix", trusted: pfx("10.1.2.3/8"), remote: "10.9.9.9:1234", xff: "203.0.113.9", want: "203.0.113.9"},
		{name: "trusted/chain-of-proxies", trusted: pfx("10.0.0.0/8"), remote: "10.0.0.1:1234", xff: "198.51.100.1, 10.0.0.2", want: "198.51.100.1"},
		{name: "trusted/client-spoofs-left", trusted: pfx("10.0.0.0/8"), remote: "10.0.0.1:1234", xff: "1.1.1.1, 198.51.100.1", want: "198.51.100.1"},
		{name: "trusted/no-xff", trusted: pfx("10.0.0.0/8"), remote: "10.0.0.1:1234", want: "10.0.0.1"},
		{name: "trusted/peer-not-trusted", trusted: pfx("192.168.0.0/16"), remote: "10.0.0.1:1234", xff: "203.0.113.9", want: "10.0.0.1"},
		{name: "trusted/loopback-not-implicitly-trusted", trusted: pfx("10.0.0.0/8"), remote: "127.0.0.1:1234", xff: "203.0.113.9", want: "127.0.0.1"},
		{name: "trusted/private-not-implicitly-trusted", trusted: pfx("10.0.0.0/8"), remote: "192.168.1.1:1234", xff: "203.0.113.9", want: "192.168.1.1"},
		{name: "trusted/ipv6-proxy", trusted: pfx("2001:db8::/32"), remote: "[2001:db8::1]:443", xff: "2001:db8:ffff::1, 2001:db8::2", want: "2001:db8:ffff::1"},
		{name: "trusted/garbage-xff", trusted: pfx("10.0.0.0/8"), remote: "10.0.0.1:1234", xff: "not-an-ip", want: "10.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hr := httptest.NewRequest(http.MethodGet, "/", nil)
			hr.RemoteAddr = tc.remote
			if tc.xff != "" {
				hr.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := ipExtractor(tc.trusted)(hr); got != tc.want {
				t.Errorf("ip %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("wired-into-sessions", func(t *testing.T) {
		for _, tc := range []struct {
			trusted []netip.Prefix
			want    string
		}{{nil, "10.0.0.1"}, {pfx("10.0.0.0/8"), "203.0.113.9"}} {
			f := newFixture(t, func(o *Options) { o.TrustedProxies = tc.trusted })
			f.do(t, req{path: "/api/token/", body: `{"email":"alice@example.com","password":"s3cret-pass"}`,
				headers: []string{"X-Forwarded-For: 203.0.113.9"}, remote: "10.0.0.1:5555"})
			if got := f.tokens.lastClient().IP; got != tc.want {
				t.Errorf("trusted %v: session IP %q, want %q", tc.trusted, got, tc.want)
			}
		}
	})
}

func TestNewRequestIDsAreDistinctAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if len(id) != 24 || !wellFormedID(id) || seen[id] {
			t.Fatalf("request id %q: malformed or repeated", id)
		}
		seen[id] = true
	}
}
