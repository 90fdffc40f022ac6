package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/server"
)

func (a *app) tokensCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "Manage refresh-token sessions"}
	var asJSON bool
	flush := &cobra.Command{
		Use:   "flush",
		Short: "Delete dead sessions (and stale login-throttle state) in batches",
		Long: `Delete the refresh-token sessions that can never be used again — past their absolute
(tokens.session_ttl) or idle (tokens.refresh_ttl) lifetime — and revoked ones older than
tokens.revoked_retention, tokens.flush_batch rows per statement so the table is never
locked for long. The server runs the same job every tokens.flush_interval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, store, log, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			n, m, err := server.Flush(ctx, cfg, store, log)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(map[string]int64{"sessions_deleted": n, "throttles_deleted": m})
			}
			fmt.Fprintf(a.stdout, "deleted %d dead sessions and %d stale login-throttle entries\n", n, m)
			return nil
		},
	}
	jsonFlag(flush, &asJSON)
	cmd.AddCommand(flush)
	return cmd
}
