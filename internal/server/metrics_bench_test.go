package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// BenchmarkRefreshMetrics is refresh throughput end to end (real HTTP
// client, parallel refresh chains) with metrics off and on, the cost the
// metrics add (issue 15: under 3 %). Compare with benchstat over several
// counts:
//
//	go test -run '^$' -bench RefreshMetrics -count 8 ./internal/server
func BenchmarkRefreshMetrics(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		for _, on := range []bool{false, true} {
			name := backend.name + "/metrics=off"
			if on {
				name = backend.name + "/metrics=on"
			}
			b.Run(name, func(b *testing.B) { benchRefresh(b, backend.open(b), on) })
		}
	}
}

func benchRefresh(b *testing.B, store storage.Store, metricsOn bool) {
	cfg := testConfig()
	if metricsOn {
		cfg.Metrics.Addr = "127.0.0.1:0"
	}
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	post := func(b *testing.B, path, body string) []byte {
		resp, err := client.Post(ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	post(b, "/api/register/", `{"name":"Bench","email":"bench@example.com","password":"s3cret-pass"}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var p struct{ Refresh string }
		if err := json.Unmarshal(post(b, "/api/token/", `{"email":"bench@example.com","password":"s3cret-pass"}`), &p); err != nil {
			b.Fatal(err)
		}
		for pb.Next() {
			out := post(b, "/api/token/refresh/", `{"refresh":"`+p.Refresh+`"}`)
			if err := json.Unmarshal(out, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	if metricsOn {
		// Scraping is part of the cost in production, but rare: once.
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	}
}

// BenchmarkRefreshMetricsAB runs two servers on one store kind, metrics
// off and on, and alternates short bursts of refreshes between them, so
// that the drift of a shared machine falls on both alike. It reports the
// mean time of one refresh on each and the overhead in percent.
//
//	go test -run '^$' -bench RefreshMetricsAB -benchtime 200x ./internal/server
func BenchmarkRefreshMetricsAB(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		b.Run(backend.name, func(b *testing.B) {
			off := newRefresher(b, backend.open(b), false)
			on := newRefresher(b, backend.open(b), true)
			const burst, workers = 10, 4
			var tOff, tOn time.Duration
			b.ResetTimer()
			for i := range b.N {
				first, second := off, on
				if i%2 == 1 {
					first, second = on, off
				}
				d1 := first.burst(b, workers, burst)
				d2 := second.burst(b, workers, burst)
				if first == off {
					tOff, tOn = tOff+d1, tOn+d2
				} else {
					tOn, tOff = tOn+d1, tOff+d2
				}
			}
			n := float64(b.N * burst * workers)
			b.ReportMetric(float64(tOff.Nanoseconds())/n, "ns/refresh-off")
			b.ReportMetric(float64(tOn.Nanoseconds())/n, "ns/refresh-on")
			b.ReportMetric(100*(float64(tOn)-float64(tOff))/float64(tOff), "overhead-%")
		})
	}
}

// refresher is a served idp with one refresh chain per worker.
type refresher struct {
	url    string
	client *http.Client
	chains []string
}

func newRefresher(b *testing.B, store storage.Store, metricsOn bool) *refresher {
	cfg := testConfig()
	if metricsOn {
		cfg.Metrics.Addr = "127.0.0.1:0"
	}
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(tr.CloseIdleConnections)
	r := &refresher{url: ts.URL, client: &http.Client{Transport: tr}}
	r.post(b, "/api/register/", `{"name":"Bench","email":"bench@example.com","password":"s3cret-pass"}`)
	for range 4 {
		var p struct{ Refresh string }
		_ = json.Unmarshal(r.post(b, "/api/token/", `{"email":"bench@example.com","password":"s3cret-pass"}`), &p)
		r.chains = append(r.chains, p.Refresh)
	}
	return r
}

func (r *refresher) post(b *testing.B, path, body string) []byte {
	resp, err := r.client.Post(r.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
	}
	return out
}

// burst runs n refreshes on each of workers chains at once and returns
// the wall time.
func (r *refresher) burst(b *testing.B, workers, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				var p struct{ Refresh string }
				_ = json.Unmarshal(r.post(b, "/api/token/refresh/", `{"refresh":"`+r.chains[w]+`"}`), &p)
				r.chains[w] = p.Refresh
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
