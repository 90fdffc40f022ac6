package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// BenchmarkHTTP measures every endpoint end to end: a real HTTP client
// against the real server stack (Echo, decoding, core, store), in
// parallel, on both stores. Passwords use the default (OWASP minimum)
// argon2id parameters, so login measures what production pays.
//
//	make bench BENCH=HTTP
func BenchmarkHTTP(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		b.Run(backend.name, func(b *testing.B) {
			benchEndpoints(b, backend.open(b))
		})
	}
}

func benchEndpoints(b *testing.B, store storage.Store) {
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://idp.test"
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	post := func(b *testing.B, path, body string, want int) []byte {
		resp, err := client.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	get := func(b *testing.B, path, auth string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	login := func(b *testing.B) (access, refresh string) {
		var p struct{ Access, Refresh string }
		if err := json.Unmarshal(post(b, "/api/token/", `{"email":"bench@example.com","password":"s3cret-pass"}`, 200), &p); err != nil {
			b.Fatal(err)
		}
		return p.Access, p.Refresh
	}
	post(b, "/api/register/", `{"name":"Bench","email":"bench@example.com","password":"s3cret-pass"}`, 200)

	b.Run("register", func(b *testing.B) {
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				post(b, "/api/register/", fmt.Sprintf(`{"name":"R","email":"r%d-%d@example.com","password":"s3cret-pass"}`, b.N, i), 200)
			}
		})
	})
	b.Run("login", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				login(b)
			}
		})
	})
	b.Run("refresh", func(b *testing.B) {
		var mu sync.Mutex
		var all []time.Duration
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			_, refresh := login(b) // one session per goroutine, rotated in a chain
			var lat []time.Duration
			for pb.Next() {
				var p struct{ Refresh string }
				t0 := time.Now()
				out := post(b, "/api/token/refresh/", `{"refresh":"`+refresh+`"}`, 200)
				lat = append(lat, time.Since(t0))
				if err := json.Unmarshal(out, &p); err != nil {
					b.Fatal(err)
				}
				refresh = p.Refresh
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
		reportLatency(b, all) // p50-ms, p99-ms (flood_test.go)
	})
	access, _ := login(b)
	b.Run("verify", func(b *testing.B) {
		body := `{"token":"` + access + `"}`
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, "/api/token/verify/", body, 200)
			}
		})
	})
	b.Run("logged-user", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, "/api/logged-user/", access)
			}
		})
	})
	b.Run("jwks", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, "/.well-known/jwks.json", "")
			}
		})
	})
}
