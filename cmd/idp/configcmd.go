package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and list every problem at once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			store := "sqlite " + cfg.Database.SQLitePath
			if cfg.Database.URL != "" {
				store = "postgres"
			}
			fmt.Fprintf(a.stdout, "configuration OK (env %s, listen %s, store %s, issuer %s)\n", cfg.Env, cfg.HTTP.Addr, store, cfg.IssuerURL())
			return nil
		},
	})
	return cmd
}
