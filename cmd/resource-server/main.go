// Command resource-server is a small API that trusts idp's access tokens
// with nothing but idp's public keys: the example to copy into your own
// service, and the far end of idp's end-to-end tests.
//
// It knows only idp's issuer URL. It reads jwks_uri from the issuer's
// discovery document (or takes --jwks-url), caches the JWKS as its
// Cache-Control max-age says, refetches it once when a token names an
// unknown kid (rate-limited), and verifies access tokens as RFC 8725 asks.
// It has no database and no private key, and it deliberately imports no
// idp package — only the standard library, jwx and x/sync — so it reads
// like a third party's code. verifier.go is the part to reuse.
//
// Usage:
//
//	resource-server --issuer http://127.0.0.1:8080 [--addr 127.0.0.1:9090]
//
// Every flag can also come from the environment: --min-refetch-interval
// is RS_MIN_REFETCH_INTERVAL, and so on. A flag wins over the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(os.Stderr, opts)
	if err := run(ctx, opts, log); err != nil {
		log.Error("resource-server failed", "err", err)
		os.Exit(1)
	}
}

// options is the parsed command line.
type options struct {
	addr      string
	logLevel  slog.Level
	logFormat string // text or json
	verifier  Config
}

// parseFlags reads args, falling back to RS_* variables for flags not given.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("resource-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.verifier.Issuer, "issuer", "", "idp's issuer URL: tokens' iss, and where discovery is read (required)")
	fs.StringVar(&o.verifier.JWKSURL, "jwks-url", "", "the JWKS URL; skips discovery")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9090", "listen address")
	fs.StringVar(&o.verifier.Audience, "audience", "", "when set, a token's aud must contain it")
	fs.DurationVar(&o.verifier.Leeway, "leeway", 30*time.Second, "clock skew allowed on exp, nbf and iat")
	fs.DurationVar(&o.verifier.MinRefetchInterval, "min-refetch-interval", 5*time.Second,
		"at most one JWKS refetch for unknown kids per interval; also the shortest scheduled refresh")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var problems []error
	fs.VisitAll(func(f *flag.Flag) {
		env := "RS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if val := getenv(env); val != "" && !given[f.Name] {
			if err := f.Value.Set(val); err != nil {
				problems = append(problems, fmt.Errorf("%s: %q: %w", env, val, err))
			}
		}
	})
	if o.verifier.Issuer == "" {
		problems = append(problems, errors.New("--issuer (or RS_ISSUER) is required"))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		problems = append(problems, fmt.Errorf("--log-format: %q: want text or json", o.logFormat))
	}
	return o, errors.Join(problems...)
}

func newLogger(w io.Writer, o options) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: o.logLevel}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// run serves until ctx ends (SIGINT/SIGTERM), then shuts down gracefully.
func run(ctx context.Context, o options, log *slog.Logger) error {
	o.verifier.Logger = log
	v, err := NewVerifier(o.verifier)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "issuer", o.verifier.Issuer,
		"audience", o.verifier.Audience, "leeway", o.verifier.Leeway, "min_refetch_interval", o.verifier.MinRefetchInterval)
	return serve(ctx, ln, v, log)
}

func serve(ctx context.Context, ln net.Listener, v *Verifier, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           newHandler(v, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // a request may wait for one JWKS refetch
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return v.Run(ctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
