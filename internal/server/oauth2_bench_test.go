package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
)

// BenchmarkOAuth2 is the load benchmark of the OAuth 2.0 surface: 16
// concurrent clients (keep-alive connections) against a live idp on
// 127.0.0.1, on both stores, counting errors (any non-200 fails it). It
// reports req/s. client_credentials signs with the configured access
// algorithm (RS256 by default; the EdDSA case shows the signing cost).
//
//	make bench BENCH=OAuth2 BENCHTIME=5s
func BenchmarkOAuth2(b *testing.B) {
	for _, st := range stores {
		for _, alg := range []string{"RS256", "EdDSA"} {
			b.Run(st.name+"/client_credentials/"+alg, func(b *testing.B) {
				benchOAuth2(b, st.open(b), alg, false)
			})
		}
		b.Run(st.name+"/introspect", func(b *testing.B) {
			benchOAuth2(b, st.open(b), "RS256", true)
		})
	}
}

const benchClients = 16

func benchOAuth2(b *testing.B, store storage.Store, alg string, introspect bool) {
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://idp.test"
	cfg.Keys.AccessAlgorithm = alg
	cfg.Log.Level = "error"
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := srv.Clients.Create(context.Background(), clients.Spec{ID: "bench", Type: storage.ClientConfidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"email"}, Audiences: []string{"https://api.example"}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients * 2}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	call := func(path, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("bench", secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, out
	}
	path, body := "/oauth2/token", "grant_type=client_credentials"
	if introspect {
		status, out := call("/oauth2/token", body)
		if status != 200 {
			b.Fatalf("token: %d %s", status, out)
		}
		tok := string(out[strings.Index(string(out), `"access_token":"`)+16:])
		tok = tok[:strings.IndexByte(tok, '"')]
		path, body = "/oauth2/introspect", "token="+url.QueryEscape(tok)
	}
	var failures atomic.Int64
	b.SetParallelism((benchClients + 1) / max(1, procs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, out := call(path, body); status != 200 || (introspect && !strings.Contains(string(out), `"active":true`)) {
				failures.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
}

func procs() int { return runtime.GOMAXPROCS(0) }
