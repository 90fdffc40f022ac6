package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/storage"
)

// CLI parity with GET/DELETE /admin/api/users/{id}/consents: a user's
// remembered OpenID Connect consents, and withdrawing one (which ends the
// refresh families the client got under it).

type consentRow struct {
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Granted  time.Time `json:"granted"`
}

func (a *app) consentCmds() []*cobra.Command {
	var listJSON, withdrawJSON bool
	list := &cobra.Command{
		Use:   "consents ID|EMAIL",
		Short: "List a user's remembered consents to OAuth 2.0 clients",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, store, us, err := a.openUsers(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			u, err := userByArg(ctx, us, args[0])
			if err != nil {
				return err
			}
			cs, err := authorize.New(authorize.Options{Store: store}).Consents(ctx, u.ID)
			if err != nil {
				return fmt.Errorf("list consents: %w", err)
			}
			rows := []consentRow{}
			for _, c := range cs {
				scopes := c.Scopes
				if scopes == nil {
					scopes = []string{}
				}
				rows = append(rows, consentRow{c.ClientID, scopes, c.GrantedAt.UTC()})
			}
			if listJSON {
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT\tGRANTED\tSCOPES")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ClientID, r.Granted.Format(time.RFC3339), strings.Join(r.Scopes, " "))
			}
			return tw.Flush()
		},
	}
	jsonFlag(list, &listJSON)
	withdraw := &cobra.Command{
		Use:   "withdraw-consent ID|EMAIL CLIENT_ID",
		Short: "Withdraw a user's consent to a client; ends the sessions the client got under it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, store, us, err := a.openUsers(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			u, err := userByArg(ctx, us, args[0])
			if err != nil {
				return err
			}
			clientID := args[1]
			n, err := authorize.New(authorize.Options{Store: store}).WithdrawConsent(ctx, u.ID, clientID)
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("user %d <%s> has no consent to client %q: %w", u.ID, u.Email, clientID, err)
			}
			if err != nil {
				return fmt.Errorf("withdraw consent: %w", err)
			}
			_ = store.RecordAudit(ctx, storage.AuditEvent{At: time.Now().UTC(), Type: "admin.consent.withdrawn", UserID: u.ID,
				TargetType: "user", TargetID: strconv.FormatInt(u.ID, 10),
				Detail: fmt.Sprintf("consent to client %s withdrawn; %d sessions ended (CLI)", clientID, n)})
			if withdrawJSON {
				return a.printJSON(map[string]any{"user_id": u.ID, "client_id": clientID, "revoked_sessions": n})
			}
			fmt.Fprintf(a.stdout, "withdrew consent of %s to %s; ended %d sessions\n", u.Email, clientID, n)
			return nil
		},
	}
	jsonFlag(withdraw, &withdrawJSON)
	return []*cobra.Command{list, withdraw}
}
