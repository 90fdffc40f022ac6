// Command idp is the identity provider's one binary: `idp serve` runs it,
// the other commands manage it (migrations, users, keys, configuration).
// Flags become configuration (internal/config); the work is done by the
// internal packages. No logic lives here.
//
// Conventions every command follows (see store.go and output.go):
//   - a command that needs the store opens it with (*app).openStore, which
//     never creates or migrates one (only serve and migrate do), and says
//     on stderr which store it uses;
//   - results go to stdout, ending with a newline; --json (jsonFlag,
//     printJSON) makes them one JSON document; logs go to stderr, at warn
//     unless log.level is set;
//   - every mistake exits non-zero with a message on stderr naming the
//     fix, having changed nothing.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		var p *config.Problems
		var quiet silentError
		switch {
		case errors.As(err, &quiet):
		case errors.As(err, &p):
			fmt.Fprintln(os.Stderr, err)
		default:
			fmt.Fprintln(os.Stderr, "idp:", err)
		}
		code := 1
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		os.Exit(code)
	}
}

// silentError fails a command whose output already said why (a --json
// answer on stdout).
type silentError struct{ error }

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
variables and the flags below, in rising precedence (idp config show lists where each value
came from). With no database.url, idp keeps its data in an embedded SQLite file; only
"idp serve" and "idp migrate" create it.`,
		Version:       buildInfo().Line(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
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
		a.clientsCmd(),
		a.sessionsCmd(),
		a.auditCmd(),
		a.configCmd(),
		a.versionCmd(),
		a.healthcheckCmd(),
	)
	// cobra adds completion and help when it executes; add them now so
	// that they refuse mistakes too.
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	strictHelp(root)
	refuseUnknownSubcommands(root)
	return root
}

// resolve loads and validates the configuration, with where each value
// came from.
func (a *app) resolve() (config.Loaded, error) {
	return config.Resolve(config.Sources{Flags: a.root.PersistentFlags()})
}

// config loads and validates the configuration for a command other than
// serve: unless log.level is set, such a command logs only warnings and
// errors, so that log lines never mix with what it prints.
func (a *app) config() (config.Config, error) {
	l, err := a.resolve()
	if err != nil {
		return l.Config, err
	}
	if l.IsDefault("log.level") {
		l.Log.Level = "warn"
	}
	return l.Config, nil
}

// logger is the one logger, on stderr.
func (a *app) logger(cfg config.Config) *slog.Logger {
	return server.NewLogger(cfg.Log, a.stderr)
}
