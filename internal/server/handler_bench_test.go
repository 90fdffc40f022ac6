package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
)

// BenchmarkHandler measures the server's own cost per request of each
// hot path: the full handler stack (Echo, middleware, core, store)
// called in-process, one request after another, with no HTTP client or
// connection in the loop — so allocs/op are idp's alone (BenchmarkHTTP's
// include the client's). Production settings, metrics on.
//
//	go test -run '^$' -bench Handler -benchmem ./internal/server/
func BenchmarkHandler(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) { benchHandlers(b, st.open(b)) })
	}
}

// benchWriter is a ResponseWriter that keeps nothing: its header map is
// reused, the body counted.
type benchWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body.Reset()
}

func benchHandlers(b *testing.B, store storage.Store) {
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://idp.test"
	cfg.Log.Level = "error"
	cfg.Metrics.Addr = "127.0.0.1:0"
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := srv.Clients.Create(context.Background(), clients.Spec{ID: "bench", Type: storage.ClientConfidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"email"}, Audiences: []string{"https://api.example"}})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	w := &benchWriter{h: http.Header{}}
	// serve answers one request; body is sent as JSON unless ctype says.
	serve := func(tb testing.TB, method, path, ctype string, body []byte, header http.Header) []byte {
		r, err := http.NewRequest(method, "http://idp.test"+path, bytes.NewReader(body))
		if err != nil {
			tb.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:40000"
		for k, v := range header {
			r.Header[k] = v
		}
		if body != nil {
			r.Header.Set("Content-Type", ctype)
		}
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			tb.Fatalf("%s %s: %d %s", method, path, w.status, w.body.Bytes())
		}
		return w.body.Bytes()
	}
	const jsonType = "application/json"
	serve(b, "POST", "/api/register/", jsonType, []byte(`{"name":"Bench","email":"bench@example.com","password":"s3cret-pass"}`), nil)
	var pair struct{ Access, Refresh string }
	if err := json.Unmarshal(serve(b, "POST", "/api/token/", jsonType, []byte(`{"email":"bench@example.com","password":"s3cret-pass"}`), nil), &pair); err != nil {
		b.Fatal(err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + pair.Access}}

	b.Run("refresh", func(b *testing.B) {
		b.ReportAllocs()
		refresh := pair.Refresh
		for b.Loop() {
			var p struct{ Refresh string }
			if err := json.Unmarshal(serve(b, "POST", "/api/token/refresh/", jsonType, []byte(`{"refresh":"`+refresh+`"}`), nil), &p); err != nil {
				b.Fatal(err)
			}
			refresh = p.Refresh
		}
	})
	verify := []byte(`{"token":"` + pair.Access + `"}`)
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, "POST", "/api/token/verify/", jsonType, verify, nil)
		}
	})
	b.Run("logged-user", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, "GET", "/api/logged-user/", "", nil, bearer)
		}
	})
	b.Run("jwks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, "GET", "/.well-known/jwks.json", "", nil, nil)
		}
	})
	cc := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	basic := http.Header{"Authorization": {"Basic " + basicAuth("bench", secret)}}
	b.Run("client_credentials", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, "POST", "/oauth2/token", "application/x-www-form-urlencoded", cc, basic)
		}
	})
}

// basicAuth is the client's HTTP Basic credentials (RFC 6749 §2.3.1:
// form-encoded, then base64).
func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
