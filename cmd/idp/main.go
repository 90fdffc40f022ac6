// Command idp is the identity provider's one binary: `idp serve` runs it,
// the other commands manage it (migrations, users, keys, configuration).
// Flags become configuration (internal/config); the work is done by the
// internal packages. No logic lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		var p *config.Problems
		if !errors.As(err, &p) {
			fmt.Fprintln(os.Stderr, "idp:", err)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

// app carries what every command needs: its streams and how to load the
// configuration from the root's persistent flags.
type app struct {
	root   *cobra.Command
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "idp",
		Short: "idp: a standalone identity provider (email + password → JWTs, JWKS)",
		Long: `idp registers users, logs them in with email and password, and issues short-lived
access tokens and rotating refresh tokens signed with asymmetric keys published at
/.well-known/jwks.json.

Configuration comes from configs/idp.yaml (or --config / $IDP_CONFIG), IDP_* environment
variables and the flags below, in rising precedence. With no database.url, idp keeps its
data in an embedded SQLite file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	config.BindFlags(root.PersistentFlags())
	a := &app{root: root, stdin: stdin, stdout: stdout, stderr: stderr}
	root.AddCommand(
		a.serveCmd(),
		a.migrateCmd(),
		a.usersCmd(),
		a.keysCmd(),
		a.tokensCmd(),
		a.configCmd(),
		a.healthcheckCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "idp", version) },
		},
	)
	return root
}

// config loads and validates the configuration.
func (a *app) config() (config.Config, error) {
	return config.LoadValid(config.Sources{Flags: a.root.PersistentFlags()})
}

func (a *app) logger(cfg config.Config) *slog.Logger {
	return server.NewLogger(cfg.Log, a.stderr)
}

// openStore loads the configuration, opens the store and migrates it.
func (a *app) openStore(ctx context.Context) (config.Config, storage.Store, *slog.Logger, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, nil, err
	}
	log := a.logger(cfg)
	store, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return cfg, nil, nil, err
	}
	if err := server.Migrate(ctx, store); err != nil {
		store.Close()
		return cfg, nil, nil, err
	}
	return cfg, store, log, nil
}
