package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (applies migrations and creates the first signing key if needed)",
		Long: `Run the HTTP server. It applies pending migrations, loads the signing keys (generating the
first one on a fresh database), and serves until SIGINT or SIGTERM, then lets in-flight
requests finish (http.shutdown_timeout). An invalid configuration is refused with every
problem listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, store, log, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			keks, err := server.ResolveKEKs(cfg, log)
			if err != nil {
				return err
			}
			srv, err := server.New(ctx, server.Options{Config: cfg, Store: store, KEKs: keks, Logger: log, Version: version})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
			}
			return srv.Run(ctx, ln)
		},
	}
}

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (safe to run from several instances at once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, store, _, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer store.Close()
			fmt.Fprintf(a.stdout, "migrations applied (%s)\n", store.Backend())
			return nil
		},
	}
}
