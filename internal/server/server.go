// Package server wires idp together and runs it: it opens the store named
// by the configuration, applies migrations, builds the signer, the users
// and tokens services and the HTTP API, and runs the HTTP server and the
// background loops under one errgroup with graceful shutdown. It is the
// only package that reads config.Config besides cmd/idp; the packages it
// wires receive their own Options.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/admin"
	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/httpapi"
	"github.com/idp/idp/internal/metrics"
	"github.com/idp/idp/internal/oauth2"
	"github.com/idp/idp/internal/opensslrsa"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// Options are a Server's parts that do not come from the configuration.
type Options struct {
	Config config.Config
	// Store is open and migrated.
	Store storage.Store
	// KEKs seal and unseal signing keys (see ResolveKEKs).
	KEKs   [][]byte
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil: time.Now.
	Now func() time.Time
	// disableSessionCheck turns the session check off (benchmarks only).
	disableSessionCheck bool
	// Version labels idp_build_info ("": from the build information).
	Version string
	// MetricsListener, if set, serves /metrics instead of a listener
	// opened on metrics.addr (tests). Ignored when metrics.addr is empty.
	MetricsListener net.Listener
	// AdminListener, if set, serves the admin API and console instead of
	// a listener opened on admin.addr (serve opens it before the start-up
	// block; tests inject one). Ignored when admin.addr is empty.
	AdminListener net.Listener
}

// Server is a wired idp.
type Server struct {
	cfg    config.Config
	store  storage.Store
	log    *slog.Logger
	Signer *signer.Signer
	Users  *users.Service
	Tokens *tokens.Service
	Guard  *throttle.Guard
	// Login is the one password-login path, for every surface.
	Login   *authn.Service
	Clients *clients.Registry
	revoked *tokens.RevokedSessions
	now     func() time.Time
	probe   writeProbe
	handler http.Handler
	// metrics is nil when metrics.addr is empty.
	metrics   *metrics.Metrics
	metricsLn net.Listener
	// adminLn is the injected admin listener (see Options.AdminListener).
	adminLn net.Listener
	oidc    oidcParts
	// rsaImpl names what makes RS256 signatures, for the start-up banner.
	rsaImpl string
}

// New builds every service over an open, migrated store. It generates the
// first signing key if the store has none.
func New(ctx context.Context, opts Options) (*Server, error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := rekeyEmails(ctx, opts.Store, log); err != nil {
		return nil, err
	}
	// The session check of idp's own endpoints; revocations made through
	// families reach it at once.
	revoked, err := tokens.NewRevokedSessions(tokens.RevokedOptions{
		Store:    opts.Store,
		Families: opts.Store,
		Poll:     cfg.Sessions.RevocationPoll,
		Horizon:  cfg.Tokens.AccessTTL + cfg.Tokens.Leeway,
		Now:      now,
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	if err := revoked.Sync(ctx); err != nil {
		return nil, err
	}
	families := revoked.Families(opts.Store)
	if opts.disableSessionCheck {
		revoked = nil
	}
	met := newMetrics(cfg, opts.Store, opts.Version, now)
	// Audit events feed the metrics' security counters on their way to
	// the store.
	var audit storage.Audit = opts.Store
	var observeHashWait func(time.Duration)
	if met != nil {
		audit = met.Audit(opts.Store)
		observeHashWait = met.HashWaited
	}
	rsaImpl, err := configureRSA(cfg.Keys.RSAImplementation)
	if err != nil {
		return nil, err
	}
	sig, err := signer.New(ctx, signer.Options{
		Store:    opts.Store,
		KEKs:     opts.KEKs,
		Policy:   KeyPolicy(cfg),
		Families: families,
		Audit:    audit,
		Now:      now,
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	us, err := newUsers(cfg, opts.Store, families, audit, observeHashWait, now, log)
	if err != nil {
		return nil, err
	}
	ts, err := tokens.New(tokens.Options{
		Keys:         sig,
		Families:     families,
		Users:        opts.Store,
		Audit:        audit,
		Denied:       opts.Store,
		Issuer:       cfg.IssuerURL(),
		Audience:     cfg.Tokens.Audience,
		AccessAlg:    cfg.Keys.AccessAlgorithm,
		RefreshAlg:   cfg.Keys.RefreshAlgorithm,
		AccessTTL:    cfg.Tokens.AccessTTL,
		RefreshTTL:   cfg.Tokens.RefreshTTL,
		SessionTTL:   cfg.Tokens.SessionTTL,
		RefreshGrace: cfg.Tokens.RefreshGrace,
		Leeway:       cfg.Tokens.Leeway,
		UserIDClaim:  cfg.Tokens.UserIDClaim,
		Revoked:      revoked,
		// token/verify/: strict unless configured as the tutorial app.
		VerifySignatureOnly: cfg.Sessions.VerifyMode == config.VerifySignature,
		Now:                 now,
		Logger:              log,
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	guard, err := NewGuard(cfg, opts.Store, now, log)
	if err != nil {
		return nil, err
	}
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			proxies = append(proxies, pfx)
		}
	}
	login, err := authn.New(authn.Options{Users: us, Guard: guard, DeviceKeys: deriveKeys(opts.KEKs, "device cookie v1"),
		IdentifierKey: firstKey(deriveKeys(opts.KEKs, "log identifier v1")), Now: now})
	if err != nil {
		return nil, err
	}
	r := cfg.Registration
	regLimit, err := throttle.NewRegistrations(opts.Store, throttle.RegistrationPolicy{
		PerIP: int64(r.PerIP), PerIPWindow: r.PerIPWindow, GlobalPerMinute: r.GlobalPerMinute, GlobalBurst: r.GlobalBurst,
	}, now)
	if err != nil {
		return nil, err
	}
	registry, err := NewClients(cfg, opts.Store, now)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: opts.Store, rsaImpl: rsaImpl, log: log, Signer: sig, Users: us, Tokens: ts, Guard: guard, Login: login,
		Clients: registry, revoked: revoked, now: now, metrics: met, metricsLn: opts.MetricsListener,
		adminLn: opts.AdminListener}
	var apiTokens httpapi.Tokens = ts
	var apiLogin httpapi.Login = login
	if met != nil {
		attachMetrics(met, sig, us)
		apiTokens = meteredTokens{Tokens: ts, m: met, accessAlg: cfg.Keys.AccessAlgorithm, refreshAlg: cfg.Keys.RefreshAlgorithm}
		apiLogin = meteredLogin{next: login, m: met}
	}
	s.oidc = s.newOIDC(proxies)
	oauth := s.oauth2Options()
	oauth.OIDC, oauth.Now = s.oauth2OIDC(s.oidc), now
	if met != nil {
		oauth.Tokens = meteredGrants{Tokens: oauth.Tokens, m: met, accessAlg: cfg.Keys.AccessAlgorithm}
		if oauth.Passwords != nil {
			oauth.Passwords = meteredLogin{next: oauth.Passwords, m: met}
		}
	}
	var outer echo.MiddlewareFunc
	if cfg.Admin.Addr != "" {
		outer = separateListeners
	}
	if met != nil {
		// Outermost: it sees routing, every middleware, the JWKS fast path
		// and the status the error handler renders.
		outer = chain(met.HTTP, outer)
	}
	api := httpapi.New(httpapi.Options{
		Users:            us,
		Tokens:           apiTokens,
		Sessions:         ts,
		Login:            apiLogin,
		Registrations:    regLimit,
		Keys:             sig,
		Ready:            s.ready,
		Unavailable:      opts.Store.Unavailable,
		Issuer:           cfg.IssuerURL(),
		AccessAlgorithms: []string{cfg.Keys.AccessAlgorithm},
		UserIDClaim:      cfg.Tokens.UserIDClaim,
		APIPrefix:        cfg.HTTP.APIPrefix,
		MaxBodyBytes:     cfg.HTTP.MaxBodyBytes,
		JWKSMaxAge:       cfg.JWKS.MaxAge,
		TrustedProxies:   proxies,
		Discovery:        oauth2.MetadataFields(oauth),
		Logger:           log,
		CORS:             httpapi.CORS{AllowedOrigins: cfg.CORS.AllowedOrigins, MaxAge: cfg.CORS.MaxAge},
		Outer:            outer,
	})
	oauth2.Mount(api, oauth)
	s.mountLogin(api, s.oidc)
	admin.Mount(api, s.adminOptions(proxies))
	s.handler = api
	return s, nil
}

// chain is the middleware running outer, then inner (nil: none).
func chain(outer, inner echo.MiddlewareFunc) echo.MiddlewareFunc {
	if inner == nil {
		return outer
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc { return outer(inner(next)) }
}

// KeyPolicy is the signing-key schedule the configuration asks for. A
// retired key stays published for the longest lifetime of the tokens it
// signed, plus the leeway verifiers allow and the time other instances may
// go on signing with it before they notice the rotation.
func KeyPolicy(cfg config.Config) signer.Policy {
	slack := cfg.Tokens.Leeway + cfg.Keys.CheckInterval
	retention := map[string]time.Duration{}
	keep := func(alg string, lifetime time.Duration) {
		retention[alg] = max(retention[alg], lifetime+slack)
	}
	keep(cfg.Keys.AccessAlgorithm, cfg.Tokens.AccessTTL)
	keep(cfg.Keys.RefreshAlgorithm, cfg.Tokens.RefreshTTL)
	// ID tokens are always RS256 (OIDC Core §15.1: every RP supports it).
	keep("RS256", cfg.OIDC.IDTokenTTL)
	var rings []string
	for _, alg := range []string{cfg.Keys.AccessAlgorithm, cfg.Keys.RefreshAlgorithm, "RS256"} {
		if !slices.Contains(rings, alg) {
			rings = append(rings, alg)
		}
	}
	public := []string{cfg.Keys.AccessAlgorithm}
	if !slices.Contains(public, "RS256") {
		public = append(public, "RS256")
	}
	return signer.Policy{
		Rings:          rings,
		RSABits:        cfg.Keys.RSABits,
		RotationPeriod: cfg.Keys.RotationPeriod,
		PrePublish:     cfg.Keys.PrePublish,
		Retention:      retention,
		// Refresh tokens are verified by idp alone: their keys stay out of
		// the public JWKS (unless one algorithm signs both). Access tokens
		// and ID tokens (RS256) are verified by others.
		Public: public,
	}
}

// NewUsers builds the accounts service (shared with the CLI). Password
// changes and deactivations revoke the user's sessions.
func NewUsers(cfg config.Config, store storage.Store, now func() time.Time, log *slog.Logger) (*users.Service, error) {
	return newUsers(cfg, store, store, store, nil, now, log)
}

func newUsers(cfg config.Config, store storage.Store, families storage.Families, audit storage.Audit, observeHashWait func(time.Duration), now func() time.Time, log *slog.Logger) (*users.Service, error) {
	us, err := users.New(users.Options{
		Store:           store,
		Families:        families,
		Audit:           audit,
		ObserveHashWait: observeHashWait,
		Argon2: users.Argon2Params{
			MemoryKiB:   cfg.Passwords.Argon2.MemoryKiB,
			Iterations:  cfg.Passwords.Argon2.Iterations,
			Parallelism: cfg.Passwords.Argon2.Parallelism,
		},
		MinPasswordLength:   cfg.Passwords.MinLength,
		MaxConcurrentHashes: cfg.Passwords.MaxConcurrentHashes,
		MaxHashWait:         cfg.Passwords.MaxHashWait,
		Now:                 now,
		Logger:              log,
	})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return us, nil
}

// NewGuard builds the login brute-force protection.
func NewGuard(cfg config.Config, store storage.Store, now func() time.Time, log *slog.Logger) (*throttle.Guard, error) {
	l := cfg.Login
	g, err := throttle.New(throttle.Options{
		Store: store,
		Audit: store,
		Policy: throttle.Policy{
			Window:       l.Window,
			PairLimit:    l.MaxFailuresPerAccountIP,
			IPLimit:      l.MaxFailuresPerIP,
			AccountLimit: l.MaxFailuresPerAccount,
			Block:        l.Block,
			MaxBlock:     l.MaxBlock,
			AccountBlock: l.AccountBlock,
		},
		Now:    now,
		Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("login throttle: %w", err)
	}
	return g, nil
}

// Flush runs the janitor once: dead sessions, stale login-throttle state
// and audit events older than audit.retention are deleted in batches.
func (s *Server) Flush(ctx context.Context) (sessions, throttles int64, err error) {
	sessions, err = s.Tokens.Flush(ctx, s.cfg.Tokens.FlushBatch, s.cfg.Tokens.RevokedRetention)
	if err != nil {
		return sessions, 0, err
	}
	throttles, err = s.Guard.Cleanup(ctx, s.cfg.Tokens.FlushBatch)
	if err != nil {
		return sessions, throttles, err
	}
	if err := s.flushRevoked(ctx); err != nil {
		return sessions, throttles, err
	}
	if err := s.flushOIDC(ctx); err != nil {
		return sessions, throttles, err
	}
	return sessions, throttles, flushAudit(ctx, s.cfg, s.store, s.now(), s.log)
}

// flushAudit deletes audit events older than audit.retention, in batches
// of tokens.flush_batch.
func flushAudit(ctx context.Context, cfg config.Config, store storage.Store, now time.Time, log *slog.Logger) error {
	cutoff := now.Add(-cfg.Audit.Retention)
	var total int64
	for {
		n, err := store.DeleteAuditBefore(ctx, cutoff, cfg.Tokens.FlushBatch)
		total += n
		if err != nil {
			return fmt.Errorf("audit retention: %w", err)
		}
		if n < int64(cfg.Tokens.FlushBatch) {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if total > 0 {
		log.Info("janitor", "audit_events_deleted", total)
	}
	return nil
}

// Flush runs the janitor once over a store, without a running server
// (`idp tokens flush`): the same work as Server.Flush.
func Flush(ctx context.Context, cfg config.Config, store storage.Store, log *slog.Logger) (sessions, throttles int64, err error) {
	guard, err := NewGuard(cfg, store, nil, log)
	if err != nil {
		return 0, 0, err
	}
	sessions, err = tokens.FlushSessions(ctx, store, time.Now(), cfg.Tokens.RefreshTTL, cfg.Tokens.RevokedRetention, cfg.Tokens.FlushBatch)
	if err != nil {
		return sessions, 0, err
	}
	throttles, err = guard.Cleanup(ctx, cfg.Tokens.FlushBatch)
	if err != nil {
		return sessions, throttles, err
	}
	if n, err := tokens.FlushRevokedTokens(ctx, store, time.Now(), cfg.Tokens.FlushBatch); err != nil {
		return sessions, throttles, err
	} else if n > 0 {
		log.Info("flush", "revoked_tokens_deleted", n)
	}
	if err := flushOIDCStore(ctx, cfg, store, time.Now(), log); err != nil {
		return sessions, throttles, err
	}
	return sessions, throttles, flushAudit(ctx, cfg, store, time.Now(), log)
}

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) ready(ctx context.Context) error {
	if !s.Signer.Ready() {
		return errors.New("signing keys not loaded")
	}
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return s.probe.check(ctx, s.now(), s.log, s.store)
}

// Run serves on ln (the admin surface on admin.addr and /metrics on
// metrics.addr, if set) until ctx is cancelled, then shuts down
// gracefully: it stops accepting, answers every request it has read (see
// drainer), all within http.shutdown_timeout; background loops stop, and
// Run returns.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	ln = &closeOnce{Listener: ln}
	// Every listener asked for opens, or none serves.
	listeners := []net.Listener{ln}
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}
	adminLn, err := s.listenAdmin()
	if err != nil {
		closeAll()
		return err
	}
	if adminLn != nil {
		adminLn = &closeOnce{Listener: adminLn}
		listeners = append(listeners, adminLn)
	}
	metricsLn, err := s.listenMetrics()
	if err != nil {
		closeAll()
		return err
	}
	if metricsLn != nil {
		listeners = append(listeners, metricsLn)
	}
	var debugLn net.Listener
	if addr := s.cfg.Debug.Addr; addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("debug listener on %s: %w", addr, err)
		}
		debugLn = l
	}
	// The public and admin listeners share one drainer: a shutdown
	// answers what either has read.
	d := newDrainer()
	hs := s.httpServer(ctx, d, false)
	var ahs *http.Server
	if adminLn != nil {
		ahs = s.httpServer(ctx, d, true)
	}
	releaseStartupMemory()
	g, gctx := errgroup.WithContext(ctx)
	if debugLn != nil {
		g.Go(func() error { return s.serveDebug(gctx, debugLn) })
	}
	serve := func(name string, hs *http.Server, ln net.Listener) {
		g.Go(func() error {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !d.draining.Load() {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	s.log.Info("serving", "addr", ln.Addr().String(), "store", s.store.Backend(), "issuer", s.cfg.IssuerURL())
	serve("http server", hs, ln)
	if ahs != nil {
		s.log.Info("serving the admin surface", "addr", adminLn.Addr().String())
		serve("admin server", ahs, adminLn)
	}
	if metricsLn != nil {
		g.Go(func() error { return s.serveMetrics(gctx, metricsLn) })
	}
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("shutting down", "timeout", s.cfg.HTTP.ShutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
		defer cancel()
		// Stop accepting, then let every connection finish the request it
		// carries before Shutdown closes what is left (idle, quiet ones).
		d.draining.Store(true)
		_ = ln.Close()
		if adminLn != nil {
			_ = adminLn.Close()
		}
		d.drain(sctx)
		var errs []error
		for _, hs := range []*http.Server{hs, ahs} {
			if hs == nil {
				continue
			}
			if err := hs.Shutdown(sctx); err != nil {
				// Requests still running after the timeout are cut off, so
				// that none outlives Run (and the store closed after it).
				_ = hs.Close()
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("graceful shutdown: %w", errors.Join(errs...))
		}
		return nil
	})
	g.Go(func() error {
		s.maintainKeys(gctx)
		return nil
	})
	g.Go(func() error {
		s.janitor(gctx)
		return nil
	})
	g.Go(func() error {
		s.Guard.RunRefusals(gctx, 5*time.Second)
		return nil
	})
	if s.revoked != nil {
		g.Go(func() error {
			s.revoked.Run(gctx)
			return nil
		})
	}
	if w, ok := s.store.(keyWatcher); ok {
		g.Go(func() error {
			s.followKeyChanges(gctx, w)
			return nil
		})
	}
	err = g.Wait()
	s.log.Info("stopped")
	return err
}

// httpServer is the http.Server of the public listener or, with admin,
// of the admin listener: the same handler and limits; the admin one
// marks its requests (see separateListeners).
func (s *Server) httpServer(ctx context.Context, d *drainer, admin bool) *http.Server {
	base := context.WithoutCancel(ctx)
	if admin {
		base = adminContext(base)
	}
	return &http.Server{
		Handler:           d.wrap(s.handler),
		ConnState:         d.track,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// janitor deletes dead sessions and stale throttle state every
// tokens.flush_interval. Several instances may run it at once: each batch
// deletes what is still there.
func (s *Server) janitor(ctx context.Context) {
	every(ctx, s.cfg.Tokens.FlushInterval, func() {
		n, m, err := s.Flush(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("janitor", "err", err)
		case n > 0 || m > 0:
			s.log.Info("janitor", "sessions_deleted", n, "throttles_deleted", m)
		}
	})
}

// maintainKeys rotates keys when due (exactly one instance does it; the
// others find it done) and picks up key changes made by other instances or
// the CLI.
func (s *Server) maintainKeys(ctx context.Context) {
	every(ctx, s.cfg.Keys.CheckInterval, func() {
		if err := s.Signer.Maintain(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("signing key maintenance", "err", err)
		}
	})
}

// keyWatcher is a store that announces signing-key changes (Postgres:
// LISTEN/NOTIFY).
type keyWatcher interface {
	WatchKeyChanges(ctx context.Context, changed func())
}

// followKeyChanges reloads the keys as soon as another instance or the CLI
// changes them, instead of at the next keys.check_interval (which stays
// the fallback when a notification is lost).
func (s *Server) followKeyChanges(ctx context.Context, w keyWatcher) {
	w.WatchKeyChanges(ctx, func() {
		if err := s.Signer.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reload signing keys after a change notification", "err", err)
		}
	})
}

// every runs fn each interval until ctx ends. fn's failures are its own
// to log, never fatal: what is loaded keeps serving.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// configureRSA chooses the process's RS256 implementation
// (keys.rsa_implementation) before any key is loaded, and names it.
func configureRSA(setting string) (string, error) {
	mode, err := opensslrsa.ParseMode(setting)
	if err != nil {
		return "", err
	}
	return opensslrsa.Configure(mode)
}
