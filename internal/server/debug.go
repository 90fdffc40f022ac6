package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"time"
)

// debugHandler serves Go's profiles under /debug/pprof/ — only on the
// debug listener (debug.addr), never on the public one.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveDebug runs the debug listener until ctx ends. A listen failure is
// returned (the operator asked for it), so serve stops rather than run
// without it silently.
func (s *Server) serveDebug(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           debugHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		// A CPU profile or trace takes ?seconds=N (default 30).
		WriteTimeout: 5 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	s.log.Warn("debug listener serving pprof", "addr", ln.Addr().String())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("debug listener: %w", err)
	}
	return nil
}

// releaseStartupMemory collects start-up garbage and returns it to the
// OS once, before serving: the dummy password hash computed at start (one
// argon2id run, 19 MiB at the default parameters) would otherwise stay in
// the idle process's RSS until the heap grows enough for a collection
// (measured: 45 MB RSS idle, 19 of it that hash). One forced collection of
// a heap of a few MiB, never on a request path.
func releaseStartupMemory() { debug.FreeOSMemory() }
