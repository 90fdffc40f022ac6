package httpapi

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/signer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs\n got  %s\n want %s", path, got, want)
	}
}

func TestJWKS(t *testing.T) {
	etag := testJWKS.ETag
	tests := []struct {
		name        string
		method      string
		ifNoneMatch string
		status      int
	}{
		{name: "get", status: 200},
		{name: "exact-match", ifNoneMatch: etag, status: 304},
		{name: "list-match", ifNoneMatch: `"other", ` + etag + `, "third"`, status: 304},
		{name: "list-no-spaces", ifNoneMatch: `"other",` + etag, status: 304},
		{name: "weak-match", ifNoneMatch: "W/" + etag, status: 304},
		{name: "weak-in-list", ifNoneMatch: `W/"other", W/` + etag, status: 304},
		{name: "star", ifNoneMatch: "*", status: 304},
		{name: "no-match", ifNoneMatch: `"stale"`, status: 200},
		{name: "no-match-list", ifNoneMatch: `"a", W/"b"`, status: 200},
		{name: "unquoted-is-no-match", ifNoneMatch: "jwks-3f2a", status: 200},
		{name: "empty-header", ifNoneMatch: "", status: 200},
		{name: "head-match", method: "HEAD", ifNoneMatch: etag, status: 304},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			var h []string
			if tc.ifNoneMatch != "" {
				h = append(h, "If-None-Match: "+tc.ifNoneMatch)
			}
			r := f.do(t, req{method: method, path: "/.well-known/jwks.json", headers: h})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if got := r.header.Get("ETag"); got != etag {
				t.Errorf("ETag %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != "public, max-age=300, must-revalidate" {
				t.Errorf("Cache-Control %q", got)
			}
			switch tc.status {
			case 200:
				if r.body != string(testJWKS.Body) || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("body %q, Content-Type %q", r.body, r.header.Get("Content-Type"))
				}
			case 304:
				if r.body != "" {
					t.Errorf("304 with a body %q", r.body)
				}
			}
		})
	}
}

func TestJWKSMaxAge(t *testing.T) {
	for _, tc := range []struct {
		age  time.Duration
		want string
	}{
		{0, "public, max-age=0, must-revalidate"},
		{-time.Minute, "public, max-age=0, must-revalidate"},
		{1500 * time.Millisecond, "public, max-age=1, must-revalidate"},
		{time.Hour, "public, max-age=3600, must-revalidate"},
	} {
		t.Run(tc.age.String(), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.JWKSMaxAge = tc.age })
			r := f.do(t, req{method: "GET", path: "/.well-known/jwks.json"})
			if got := r.header.Get("Cache-Control"); got != tc.want {
				t.Errorf("Cache-Control %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJWKSWeakETagFromSigner(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Keys = fakeKeys{signer.JWKS{Body: []byte(`{"keys":[]}`), ETag: `W/"w1"`}} })
	for _, inm := range []string{`"w1"`, `W/"w1"`} {
		if r := f.do(t, req{method: "GET", path: "/.well-known/jwks.json", headers: []string{"If-None-Match: " + inm}}); r.status != 304 {
			t.Errorf("If-None-Match %s: %d", inm, r.status)
		}
	}
}

// Over a real connection, as net/http drops HEAD bodies.
func TestJWKSHeadOverHTTP(t *testing.T) {
	srv := httptest.NewServer(newFixture(t).e)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodHead, srv.URL+"/.well-known/jwks.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("ETag") != testJWKS.ETag {
		t.Errorf("%d %q ETag %q", res.StatusCode, b, res.Header.Get("ETag"))
	}
}

func TestETagMatches(t *testing.T) {
	for _, tc := range []struct {
		header, etag string
		want         bool
	}{
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"a"`, `W/"a"`, true},
		{` "b" ,  "a" `, `"a"`, true},
		{`*`, `"a"`, true},
		{`"b"`, `"a"`, false},
		{``, `"a"`, false},
		{`*`, ``, false},
		{`"a"`, ``, false},
		{`,`, `"a"`, false},
	} {
		if got := etagMatches(tc.header, tc.etag); got != tc.want {
			t.Errorf("etagMatches(%q, %q) = %v", tc.header, tc.etag, got)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var deadline time.Duration
	readyErr := func(err error) func(*Options) {
		return func(o *Options) {
			o.Ready = func(ctx context.Context) error {
				d, ok := ctx.Deadline()
				if !ok {
					deadline = -1
				} else {
					deadline = time.Until(d)
				}
				return err
			}
		}
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Options)
		path   string
		status int
		want   string
	}{
		{name: "healthz", path: "/healthz", status: 200, want: `{"status":"ok"}`},
		{name: "healthz-ignores-readiness", edit: readyErr(errors.New("down")), path: "/healthz", status: 200, want: `{"status":"ok"}`},
		{name: "readyz-without-check", path: "/readyz", status: 200, want: `{"status":"ready"}`},
		{name: "readyz-ready", edit: readyErr(nil), path: "/readyz", status: 200, want: `{"status":"ready"}`},
		{name: "readyz-unavailable", edit: readyErr(errors.New("ping postgres: dial tcp 10.0.0.5:5432: " + secret)), path: "/readyz", status: 503,
			want: `{"detail":"Service temporarily unavailable, try again later.","status":"unavailable"}`},
		{name: "readyz-timeout", edit: readyErr(context.DeadlineExceeded), path: "/readyz", status: 503,
			want: `{"detail":"Service temporarily unavailable, try again later.","status":"unavailable"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deadline = 0
			var logs logBuffer
			edits := []func(*Options){func(o *Options) { o.Logger = logs.logger() }}
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			f := newFixture(t, edits...)
			r := f.do(t, req{method: "GET", path: tc.path})
			if r.status != tc.status || r.body != tc.want {
				t.Fatalf("%s, want %d %s", r, tc.status, tc.want)
			}
			checkInvariants(t, r, "GET")
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tc.path == "/readyz" && tc.edit != nil && (deadline <= 0 || deadline > 2*time.Second) {
				t.Errorf("readiness check ran with deadline %v, want ≤ 2s", deadline)
			}
			if tc.status == 503 {
				// The cause is for the operator's log only.
				if rec := logs.find(t, "request failed"); rec["status"] != float64(503) {
					t.Errorf("log record %v", rec)
				}
			}
		})
	}
}

// TestJWKSFastPathMatchesRoutedAnswer: the fast path (plain GET/HEAD)
// answers exactly what the routed handler does; a request it leaves alone
// (here one with Origin) takes the routed path.
func TestJWKSFastPathMatchesRoutedAnswer(t *testing.T) {
	srv := httptest.NewServer(newFixture(t).e)
	defer srv.Close()
	fetch := func(method string, h ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/.well-known/jwks.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, tc := range []struct {
		method string
		h      []string
	}{
		{"GET", nil},
		{"HEAD", nil},
		{"GET", []string{"If-None-Match", testJWKS.ETag}},
		{"GET", []string{"X-Request-Id", "given-id"}},
	} {
		fast, fastBody := fetch(tc.method, tc.h...)
		routed, routedBody := fetch(tc.method, append([]string{"Origin", "https://elsewhere.example"}, tc.h...)...)
		if fast.StatusCode != routed.StatusCode || fastBody != routedBody {
			t.Errorf("%s %v: fast %d %q, routed %d %q", tc.method, tc.h, fast.StatusCode, fastBody, routed.StatusCode, routedBody)
		}
		for _, h := range []http.Header{fast.Header, routed.Header} {
			if len(h.Values("X-Request-Id")) != 1 {
				t.Errorf("%s %v: X-Request-Id %q", tc.method, tc.h, h.Values("X-Request-Id"))
			}
			h.Del("Date")
		}
		if len(tc.h) == 0 || tc.h[0] != "X-Request-Id" {
			fast.Header.Del("X-Request-Id")
			routed.Header.Del("X-Request-Id")
		}
		if !reflect.DeepEqual(fast.Header, routed.Header) {
			t.Errorf("%s %v: headers differ:\nfast   %v\nrouted %v", tc.method, tc.h, fast.Header, routed.Header)
		}
	}
}

// TestJWKSFastPathFollowsKeyChanges: a new key set is served at once.
func TestJWKSFastPathFollowsKeyChanges(t *testing.T) {
	keys := &switchKeys{}
	keys.doc.Store(&signer.JWKS{Body: []byte(`{"keys":[1]}`), ETag: `"one"`})
	f := newFixture(t, func(o *Options) { o.Keys = keys })
	if r := f.do(t, req{method: "GET", path: "/.well-known/jwks.json"}); r.header.Get("ETag") != `"one"` {
		t.Fatalf("ETag %q", r.header.Get("ETag"))
	}
	keys.doc.Store(&signer.JWKS{Body: []byte(`{"keys":[2]}`), ETag: `"two"`})
	r := f.do(t, req{method: "GET", path: "/.well-known/jwks.json", headers: []string{`If-None-Match: "one"`}})
	if r.status != 200 || r.header.Get("ETag") != `"two"` || !strings.Contains(r.body, `[2]`) {
		t.Fatalf("after the change: %d ETag %q body %q", r.status, r.header.Get("ETag"), r.body)
	}
}

type switchKeys struct{ doc atomic.Pointer[signer.JWKS] }

func (k *switchKeys) JWKS() signer.JWKS { return *k.doc.Load() }
