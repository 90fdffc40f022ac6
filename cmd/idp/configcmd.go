package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/config"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration (check, show)"}
	cmd.AddCommand(a.configCheckCmd(), a.configShowCmd())
	return cmd
}

// fileRead says which configuration file was read.
func fileRead(l config.Loaded) string {
	if l.File == "" {
		return "none (defaults, IDP_* environment and flags only)"
	}
	return l.File
}

func (a *app) configCheckCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and list every problem at once",
		Long: `Validate the configuration — file, IDP_* environment and flags — and list every problem
at once. Opens no store and changes nothing. Exits 1 when there are problems.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := a.resolve()
			var p *config.Problems
			if err != nil && !(asJSON && errors.As(err, &p)) {
				return err
			}
			if asJSON {
				out := map[string]any{
					"ok":       err == nil,
					"file":     l.File,
					"problems": []string{},
				}
				if p != nil {
					out["problems"] = p.List
				} else {
					out["env"], out["listen"], out["store"], out["issuer"] = l.Env, l.HTTP.Addr, l.StoreName(), l.IssuerURL()
				}
				if perr := a.printJSON(out); perr != nil {
					return perr
				}
				if err != nil {
					return silentError{err}
				}
				return nil
			}
			fmt.Fprintf(a.stdout, "configuration OK (env %s, listen %s, store %s, issuer %s)\nfile: %s\n",
				l.Env, l.HTTP.Addr, l.StoreName(), l.IssuerURL(), fileRead(l))
			return nil
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) configShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration: every key, its value and where it came from",
		Long: `Print every configuration key with its effective value and where that value came from:
default, file PATH, env IDP_… or flag --…. Secrets are redacted: key-encryption keys
entirely, the password of database.url. Opens no store. An invalid configuration is
still shown, then its problems are listed and the command exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := a.resolve()
			var p *config.Problems
			if err != nil && !errors.As(err, &p) {
				return err // unreadable file: nothing to show
			}
			settings := l.Settings()
			if asJSON {
				out := map[string]any{"file": l.File, "settings": settings, "problems": []string{}}
				if p != nil {
					out["problems"] = p.List
				}
				if perr := a.printJSON(out); perr != nil {
					return perr
				}
				if err != nil {
					return silentError{err}
				}
				return nil
			}
			fmt.Fprintf(a.stdout, "# file: %s\n", fileRead(l))
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
			for _, s := range settings {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Text(), s.Source)
			}
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}
