package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func runHealthcheck(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRoot(strings.NewReader(""), &out, io.Discard)
	root.SetArgs(append([]string{"healthcheck"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestHealthcheck: `idp healthcheck` (the image's HEALTHCHECK) passes
// against a serving idp, on a wildcard http.addr too, and fails once it is
// gone. The metrics listener serves /metrics beside it.
func TestHealthcheck(t *testing.T) {
	sandbox(t)
	addr := freeAddr(t)
	metricsAddr := freeAddr(t)
	t.Setenv("IDP_METRICS_ADDR", metricsAddr)
	s := serve(t, addr)
	for _, args := range [][]string{nil, {"--ready"}} {
		if out, err := runHealthcheck(t, args...); err != nil || !strings.HasPrefix(out, "ok http://"+addr) {
			t.Fatalf("healthcheck %v: %q %v", args, out, err)
		}
	}
	_, port, _ := strings.Cut(addr, ":")
	t.Setenv("IDP_HTTP_ADDR", "0.0.0.0:"+port)
	if out, err := runHealthcheck(t); err != nil || !strings.HasPrefix(out, "ok http://127.0.0.1:"+port) {
		t.Fatalf("healthcheck on a wildcard address: %q %v", out, err)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `idp_build_info{`) {
		t.Fatalf("GET /metrics on metrics.addr: %d", resp.StatusCode)
	}
	if resp, err := http.Get(s.url + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public port serves /metrics: %d", resp.StatusCode)
		}
	}
	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := runHealthcheck(t, "--timeout", "1s"); err == nil {
		t.Fatal("healthcheck passed with idp stopped")
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080":   "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"idp.local:9000": "idp.local:9000",
	} {
		if got := probeAddr(in); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
