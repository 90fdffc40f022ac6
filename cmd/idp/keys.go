package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage signing keys (talks to the database directly) and key-encryption keys",
		Long: `Manage signing keys. Each algorithm in use has a ring: one active key that signs, a next
key published in the JWKS ahead of its turn, and retired keys published until every token
they signed has expired. Running instances pick up changes within keys.check_interval.

A kid is a base64url JWK thumbprint and may start with "-": put "--" before it
(idp keys revoke --reason "leaked" -- -0TzS…).`,
	}
	cmd.AddCommand(
		a.keysListCmd(),
		a.keysRotateCmd(),
		a.keysRetireCmd(),
		a.keysRevokeCmd(),
		a.keysGenerateCmd(),
		a.keysImportCmd(),
		a.keysExportCmd(),
		a.keysRewrapCmd(),
		&cobra.Command{
			Use:   "generate-kek",
			Short: "Print a new random key-encryption key (base64) for IDP_KEYS_ENCRYPTION_KEY",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				k, err := signer.GenerateKEK()
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, k)
				return nil
			},
		},
	)
	return cmd
}

// lifecycle opens the store and returns the key lifecycle. withKEK loads
// the key-encryption keys (needed to make or re-seal keys).
func (a *app) lifecycle(ctx context.Context, withKEK bool) (*signer.Lifecycle, storage.Store, error) {
	cfg, store, log, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	l := &signer.Lifecycle{
		Store:    store,
		Policy:   server.KeyPolicy(cfg),
		Families: store,
		Audit:    store,
		Logger:   log,
	}
	if withKEK {
		// Only serve generates the development KEK: a command that made a
		// new one here would seal keys the server cannot open.
		if dev := server.DevelopmentKEK(cfg); dev != "" {
			if _, err := os.Stat(dev); errors.Is(err, os.ErrNotExist) {
				store.Close()
				return nil, nil, fmt.Errorf("no development key-encryption key at %s (keys.kek_file; idp serve generates it): "+
					"run idp from the directory idp serve runs in, or set IDP_KEYS_ENCRYPTION_KEY", dev)
			}
		}
		keks, err := server.ResolveKEKs(cfg, log)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		l.KEKs = keks
	}
	return l, store, nil
}

// changeKeys runs a key-changing operation with the key-encryption keys
// loaded and reports what it changed (also what it changed before failing).
func (a *app) changeKeys(ctx context.Context, asJSON bool, op func(*signer.Lifecycle) ([]signer.Event, error)) error {
	l, store, err := a.lifecycle(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	events, err := op(l)
	if len(events) > 0 || err == nil {
		if perr := a.printEvents(events, asJSON); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// keyEvent is a change as --json prints it.
type keyEvent struct {
	Type   string `json:"type"`
	Alg    string `json:"alg"`
	KID    string `json:"kid"`
	Detail string `json:"detail"`
}

// printEvents reports what a command changed.
func (a *app) printEvents(events []signer.Event, asJSON bool) error {
	if asJSON {
		out := make([]keyEvent, 0, len(events))
		for _, e := range events {
			out = append(out, keyEvent{e.Type, e.Alg, e.KID, e.Detail})
		}
		return a.printJSON(out)
	}
	if len(events) == 0 {
		fmt.Fprintln(a.stdout, "nothing changed")
	}
	for _, e := range events {
		fmt.Fprintf(a.stdout, "%-22s %-6s %s  %s\n", e.Type, e.Alg, e.KID, e.Detail)
	}
	return nil
}

func (a *app) keysListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List signing keys with their state and schedule",
		Long: `List every signing key with its state and schedule. ACTIVATES is when the key began or
is due to sign, RETIRES when it stopped or is due to stop signing, LEAVES JWKS when it is
removed from the published key set (for an active or next key: projected from the current
schedule, moving if rotations are made by hand).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, store, err := a.lifecycle(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer store.Close()
			keys, err := l.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(keys)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATES\tRETIRES\tLEAVES JWKS\tAGE")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State,
					stamp(k.Created), stamp(k.Activates), stamp(k.Retires), expiry(k), k.Age)
			}
			return tw.Flush()
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func expiry(k signer.KeyInfo) string {
	if k.State == storage.KeyRevoked {
		return "revoked " + stamp(k.Revoked)
	}
	return stamp(k.Expires)
}

func (a *app) keysRotateCmd() *cobra.Command {
	var alg string
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate [--alg ALG] [--force]",
		Short: "Promote the next key of every ring (or of --alg) now, if published long enough",
		Long: `Promote the next key of a ring now and retire the active key (it stays in the JWKS until
every token it signed has expired). Without --alg, every configured ring is rotated
(keys.access_algorithm and keys.refresh_algorithm). A ring whose next key has been published
for less than keys.prepublish is skipped — a resource server whose cached JWKS predates it
would reject the new key's first tokens until it refetches — and the command then fails
naming every ring it skipped (the others are rotated).

--force rotates anyway (with no next key, a brand-new key signs at once). Use it only when
the active key must stop signing now and a short window of rejected tokens at verifiers with
stale caches is acceptable; to withdraw a compromised key, use revoke.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			var rings []string
			for _, r := range server.KeyPolicy(cfg).Rings {
				if !slices.Contains(rings, r) {
					rings = append(rings, r)
				}
			}
			if alg != "" {
				if !slices.Contains(rings, alg) {
					return fmt.Errorf("--alg %s: no such ring; the configured rings are %s", alg, strings.Join(rings, ", "))
				}
				rings = []string{alg}
			}
			l, store, err := a.lifecycle(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer store.Close()
			if alg == "" {
				fmt.Fprintf(a.stderr, "rotating every ring: %s (--alg picks one)\n", strings.Join(rings, ", "))
			}
			if force {
				fmt.Fprintln(a.stderr, "warning: forced rotation; verifiers whose cached JWKS lacks the new key reject its tokens until they refetch")
			}
			var all []signer.Event
			var skipped []string
			for _, ring := range rings {
				events, err := l.Rotate(cmd.Context(), ring, force)
				all = append(all, events...)
				if errors.Is(err, signer.ErrTooEarly) {
					skipped = append(skipped, fmt.Sprintf("  %s: %v", ring, err))
					continue
				}
				if err != nil {
					_ = a.printEvents(all, asJSON)
					return fmt.Errorf("rotate %s: %w", ring, err)
				}
			}
			if len(all) > 0 || len(skipped) == 0 {
				if err := a.printEvents(all, asJSON); err != nil {
					return err
				}
			}
			if len(skipped) > 0 {
				return fmt.Errorf("skipped %d of %d rings:\n%s\n(--force rotates anyway; verifiers with a stale JWKS then reject the new key's tokens until they refetch)",
					len(skipped), len(rings), strings.Join(skipped, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "", "ring to rotate (default: every configured ring)")
	cmd.Flags().BoolVar(&force, "force", false, "rotate even if the next key has not been published long enough")
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) keysRetireCmd() *cobra.Command {
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "retire [--force] [--] KID",
		Short: "Stop a key signing: an active key is rotated out, a next key withdrawn",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changeKeys(cmd.Context(), asJSON, func(l *signer.Lifecycle) ([]signer.Event, error) {
				return l.Retire(cmd.Context(), args[0], force)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "retire an active key even if its successor has not been published long enough")
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) keysRevokeCmd() *cobra.Command {
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke --reason TEXT [--] KID",
		Short: "Withdraw a compromised key at once: its tokens are rejected, its sessions revoked",
		Long: `Withdraw a key at once: it leaves the JWKS, idp rejects every token it signed (instances
notice within keys.check_interval), its private key is erased, the sessions whose current
refresh token it signed are revoked, and if it was active the next key takes over
immediately. Resource servers stop accepting its tokens when they refetch the JWKS (at most
jwks.max_age later).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is empty: say why the key is revoked (it is recorded in the audit log)")
			}
			return a.changeKeys(cmd.Context(), asJSON, func(l *signer.Lifecycle) ([]signer.Event, error) {
				return l.Revoke(cmd.Context(), args[0], reason)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the key is revoked (required; recorded in the audit log)")
	_ = cmd.MarkFlagRequired("reason")
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) keysGenerateCmd() *cobra.Command {
	var alg string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "generate --alg ALG",
		Short: "Add a next key to a ring (published now, signs when the schedule reaches it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(signer.Algorithms, alg) {
				return fmt.Errorf("--alg %q: want one of %s", alg, strings.Join(signer.Algorithms, ", "))
			}
			return a.changeKeys(cmd.Context(), asJSON, func(l *signer.Lifecycle) ([]signer.Event, error) {
				return l.Generate(cmd.Context(), alg)
			})
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "", "algorithm of the ring: RS256, EdDSA or ES256 (required)")
	_ = cmd.MarkFlagRequired("alg")
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) keysImportCmd() *cobra.Command {
	var alg string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE.pem",
		Short: "Import a private key (PKCS#8, PKCS#1 or SEC 1 PEM) as a next key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pemBytes, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			return a.changeKeys(cmd.Context(), asJSON, func(l *signer.Lifecycle) ([]signer.Event, error) {
				events, err := l.Import(cmd.Context(), pemBytes, alg)
				if err != nil {
					err = fmt.Errorf("import %s: %w", args[0], err)
				}
				return events, err
			})
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "", "algorithm (default: inferred — RS256 for RSA, EdDSA for Ed25519, ES256 for P-256)")
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) keysExportCmd() *cobra.Command {
	var (
		public bool
		format string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "export [--format jwks|pem] [--out DIR]",
		Short: "Export the published public keys as a JWKS or PEM files",
		Long: `Export the public keys idp publishes (next, active and retired) — for resource servers
that are configured with keys instead of fetching the JWKS. Private keys are never exported.
With --out, writes DIR/jwks.json or DIR/<kid>.pem; otherwise prints to standard output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("public") && !public {
				return errors.New("--public=false: private keys are never exported")
			}
			if format != "jwks" && format != "pem" {
				return fmt.Errorf("--format %q: want jwks or pem", format)
			}
			l, store, err := a.lifecycle(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer store.Close()
			keys, jwks, err := l.Published(cmd.Context())
			if err != nil {
				return err
			}
			write := func(name string, b []byte) error {
				if out == "" {
					_, err := a.stdout.Write(b)
					return err
				}
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				p := filepath.Join(out, name)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return err
				}
				fmt.Fprintln(a.stderr, "wrote", p)
				return nil
			}
			if format == "jwks" {
				return write("jwks.json", append(jwks.Body, '\n'))
			}
			for _, k := range keys {
				b, err := signer.PublicPEM(k)
				if err != nil {
					return err
				}
				if out == "" {
					fmt.Fprintf(a.stdout, "# kid=%s alg=%s state=%s\n", k.KID, k.Alg, k.State)
				}
				if err := write(k.KID+".pem", b); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&public, "public", true, "export public keys (the only kind idp exports; kept for scripts that pass it)")
	cmd.Flags().StringVar(&format, "format", "jwks", "jwks or pem")
	cmd.Flags().StringVar(&out, "out", "", "directory to write into (e.g. keys/); default standard output")
	return cmd
}

func (a *app) keysRewrapCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Re-seal every private key under the first key-encryption key",
		Long: `Re-seal every private signing key under the first of keys.encryption_keys. To rotate the
KEK: put the new KEK first and keep the old one after it, run rewrap, then drop the old one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.changeKeys(cmd.Context(), asJSON, func(l *signer.Lifecycle) ([]signer.Event, error) {
				return l.Rewrap(cmd.Context())
			})
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}
