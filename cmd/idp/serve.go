package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (creates and migrates the store, creates the first signing keys)",
		Long: `Run the HTTP server. It listens on http.addr, creates the store if there is none and
applies pending migrations, loads the signing keys (generating the first ones on a fresh
store), prints what it is serving, and serves until SIGINT or SIGTERM, then lets in-flight
requests finish (http.shutdown_timeout). An invalid configuration is refused with every
problem listed, before anything is created.

With admin.addr set, the admin API and console (/admin/...) are served on that listener of
their own and answer 404 on http.addr; metrics.addr and debug.addr open further listeners.

Password hashes run on passwords.max_concurrent_hashes workers (one per CPU by default),
on threads of lowered priority (Linux). Unless set in the environment, serve raises
GOMAXPROCS by the number of workers and sets GOMEMLIMIT to passwords.memory_limit_mib
(by default 48 MiB plus argon2.memory_kib per worker); it logs both at start.

Without tokens.issuer (development only), the issuer is derived from http.addr: an
unspecified host (:8080, 0.0.0.0:8080) becomes 127.0.0.1, port 0 the port chosen. Tokens
are bound to the issuer: set tokens.issuer to the URL clients reach idp at.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			l, err := a.resolve()
			if err != nil {
				return err
			}
			cfg := l.Config
			log := a.logger(cfg)
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (another idp running? pick another port with --http-addr or IDP_HTTP_ADDR)", cfg.HTTP.Addr, err)
			}
			defer ln.Close()
			var adminLn net.Listener
			if cfg.Admin.Addr != "" {
				if adminLn, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
					return fmt.Errorf("listen on %s (admin.addr): %w", cfg.Admin.Addr, err)
				}
				defer adminLn.Close()
			}
			derived := cfg.IssuerDerived()
			if derived {
				// With port 0 the port is known only now.
				cfg.Tokens.Issuer = config.DeriveIssuer(ln.Addr().String())
			}
			// What this start creates, for the start-up block.
			var created []string
			missing := func(path string) bool { _, err := os.Stat(path); return errors.Is(err, os.ErrNotExist) }
			if cfg.Database.URL == "" && missing(cfg.Database.SQLitePath) {
				created = append(created, "store "+cfg.Database.SQLitePath)
			}
			if dev := server.DevelopmentKEK(cfg); dev != "" && missing(dev) {
				created = append(created, "development KEK "+dev)
			}
			keks, err := server.ResolveKEKs(cfg, log)
			if err != nil {
				return err
			}
			store, err := a.createStore(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer store.Close()
			if keys, err := store.ListSigningKeys(ctx); err == nil && len(keys) == 0 {
				created = append(created, "first signing keys")
			}
			srv, err := server.New(ctx, server.Options{Config: cfg, Store: store, KEKs: keks, Logger: log, Version: version,
				AdminListener: adminLn})
			if err != nil {
				return err
			}
			server.TuneRuntime(cfg, srv.Users.HashWorkers(), log)
			srv.Announce(a.stderr, server.Startup{
				Version:       buildInfo().Line(),
				Listener:      ln.Addr(),
				AdminListener: addrOf(adminLn),
				IssuerDerived: derived,
				DevKEK:        server.DevelopmentKEK(cfg),
				Created:       created,
			})
			return srv.Run(ctx, ln)
		},
	}
}

func (a *app) migrateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the store if needed and apply pending migrations (safe from several instances at once)",
		Long: `Create the store if there is none (the SQLite file, or the schema in an existing
PostgreSQL database) and apply the migrations this binary embeds that are not applied yet.
idp serve does the same at every start; every other command refuses a store that is missing
or not up to date.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			store, err := a.createStore(ctx, cfg, a.logger(cfg))
			if err != nil {
				return err
			}
			defer store.Close()
			version, err := server.SchemaVersion(ctx, store)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"store": cfg.StoreName(), "backend": store.Backend(), "schema_version": version})
			}
			fmt.Fprintf(a.stdout, "migrations applied (%s): schema version %d\n", cfg.StoreName(), version)
			return nil
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}

// addrOf is ln's address, nil for no listener.
func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}
