package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// MetricsHandler serves /metrics (and nothing else), or is nil when
// metrics.addr is empty.
func (s *Server) MetricsHandler() http.Handler {
	if s.metrics == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	return mux
}

// listenMetrics opens the metrics listener: the injected one, else one on
// metrics.addr; nil when metrics are off.
func (s *Server) listenMetrics() (net.Listener, error) {
	if s.metrics == nil {
		return nil, nil
	}
	if s.metricsLn != nil {
		return s.metricsLn, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Metrics.Addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s: %w", s.cfg.Metrics.Addr, err)
	}
	return ln, nil
}

// serveMetrics serves /metrics on ln until ctx ends. Scrapes are short:
// no drain, the listener just closes.
func (s *Server) serveMetrics(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.MetricsHandler(),
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    8 << 10,
	}
	s.log.Info("serving metrics", "addr", ln.Addr().String())
	stopped := make(chan struct{})
	defer func() { <-stopped }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // runs first: a failed Serve stops the goroutine too
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			_ = hs.Close()
		}
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
