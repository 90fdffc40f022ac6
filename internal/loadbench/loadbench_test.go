package loadbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func TestResultStatistics(t *testing.T) {
	r := Result{Elapsed: 2 * time.Second, Status: map[string]int64{"200": 100, "503": 3, "429": 2, "net": 1}}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	if got := r.Rate(); got != 50 {
		t.Errorf("Rate = %v, want 50 (200s only)", got)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := r.Pct(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := r.Errors(); got != "429:2 503:3 net:1" {
		t.Errorf("Errors = %q", got)
	}
	if (Result{}).Pct(99) != 0 || (Result{Status: map[string]int64{"200": 1}}).Errors() != "-" {
		t.Error("empty result")
	}
}

func TestRunCountsEveryStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := srv.Client()
	ops := []op{
		func(ctx context.Context) int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ok", nil)
			return do(c, req, nil)
		},
		func(ctx context.Context) int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/busy", nil)
			return do(c, req, nil)
		},
	}
	r := run(context.Background(), "t", ops, 200*time.Millisecond)
	if r.Status["200"] == 0 || r.Status["503"] == 0 || r.Requests != r.Status["200"]+r.Status["503"]+r.Status["net"] {
		t.Fatalf("statuses %v, requests %d", r.Status, r.Requests)
	}
	if int64(len(r.Latencies)) != r.Requests {
		t.Fatalf("%d latencies for %d requests", len(r.Latencies), r.Requests)
	}
}

func TestProcReadings(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	u, s, err := cpuTimes(pid)
	if err != nil || u < 0 || s < 0 {
		t.Fatalf("cpuTimes: %v %v %v", u, s, err)
	}
	rss, err := memKiB(pid, "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS: %v %v", rss, err)
	}
	if _, err := memKiB(pid, "NoSuchField"); err == nil {
		t.Fatal("missing field: no error")
	}
}
