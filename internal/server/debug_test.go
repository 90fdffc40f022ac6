package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage/storagetest"
)

// The profiler is never on the public listener, and on the debug listener
// only when debug.addr is set.
func TestDebugListener(t *testing.T) {
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	off := newEnv(t, storagetest.SQLite(t))
	if st, _ := get(off.url + "/debug/pprof/"); st != http.StatusNotFound {
		t.Fatalf("pprof on the public listener by default: %d", st)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig()
	cfg.Debug.Addr = addr
	srv, err := New(context.Background(), Options{Config: cfg, Store: storagetest.SQLite(t), KEKs: [][]byte{testKEK(t)}})
	if err != nil {
		t.Fatal(err)
	}
	r := startRun(t, srv)
	if st, body := get("http://" + addr + "/debug/pprof/"); st != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("debug listener: %d %.200s", st, body)
	}
	if st, _ := get(r.url + "/debug/pprof/"); st != http.StatusNotFound {
		t.Fatalf("pprof on the public listener with debug.addr set: %d", st)
	}
	if st, _ := get("http://" + addr + "/api/logged-user/"); st != http.StatusNotFound {
		t.Fatalf("the API on the debug listener: %d", st)
	}
}

func TestDebugAddrValidated(t *testing.T) {
	cfg := config.Default()
	cfg.Debug.Addr = "6060"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "debug.addr") {
		t.Fatalf("Validate: %v", err)
	}
}
