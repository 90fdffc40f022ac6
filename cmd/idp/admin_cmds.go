package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

// CLI parity with the admin API: users get|update|search, sessions
// list|revoke, audit list. They talk to the database directly.

func optBool(cmd *cobra.Command, name string, v bool) *bool {
	if !cmd.Flags().Changed(name) {
		return nil
	}
	return &v
}

func (a *app) getUserCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get ID|EMAIL",
		Short: "Show one user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			us, closeStore, err := a.usersService(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			u, err := userByArg(ctx, us, args[0])
			if err != nil {
				return err
			}
			return a.printUsers([]storage.User{u}, asJSON, true)
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) printUsers(us []storage.User, asJSON, one bool) error {
	rows := []userRow{}
	for _, u := range us {
		rows = append(rows, rowOf(u))
	}
	if asJSON {
		if one && len(rows) == 1 {
			return a.printJSON(rows[0])
		}
		return a.printJSON(rows)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tACTIVE\tSTAFF\tSUPERUSER\tJOINED\tLAST LOGIN")
	for _, r := range rows {
		last := "never"
		if r.LastLogin != nil {
			last = r.LastLogin.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%t\t%t\t%s\t%s\n", r.ID, r.Email, r.Name, r.IsActive, r.IsStaff, r.IsSuperuser, r.DateJoined.Format(time.RFC3339), last)
	}
	return tw.Flush()
}

func (a *app) updateUserCmd() *cobra.Command {
	var asJSON, active, staff, super bool
	var name, email string
	cmd := &cobra.Command{
		Use:   "update ID|EMAIL [--name N] [--email E] [--active=BOOL] [--staff=BOOL] [--superuser=BOOL]",
		Short: "Change a user's name, email or flags (deactivating ends their sessions)",
		Long: `Change a user's name, email or flags, as PATCH /admin/api/users/{id} does. Deactivating
ends every session of the user. Refused if no active superuser would be left.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			us, closeStore, err := a.usersService(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			u, err := userByArg(ctx, us, args[0])
			if err != nil {
				return err
			}
			ch := users.Change{IsActive: optBool(cmd, "active", active), IsStaff: optBool(cmd, "staff", staff), IsSuperuser: optBool(cmd, "superuser", super)}
			if cmd.Flags().Changed("name") {
				ch.Name = &name
			}
			if cmd.Flags().Changed("email") {
				ch.Email = &email
			}
			updated, err := us.Update(ctx, u.ID, ch)
			var ve *users.ValidationError
			switch {
			case errors.As(err, &ve):
				return errors.New(formatValidation(ve))
			case errors.Is(err, storage.ErrConflict):
				return errors.New(users.MsgEmailTaken)
			case errors.Is(err, storage.ErrLastSuperuser):
				return errors.New("refused: no active superuser would be left")
			case err != nil:
				return err
			}
			return a.printUsers([]storage.User{updated}, asJSON, true)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&email, "email", "", "new email")
	cmd.Flags().BoolVar(&active, "active", true, "activate (true) or deactivate (false)")
	cmd.Flags().BoolVar(&staff, "staff", false, "grant or withdraw staff")
	cmd.Flags().BoolVar(&super, "superuser", false, "grant or withdraw superuser")
	jsonFlag(cmd, &asJSON)
	return cmd
}

// searchUsers is `users list --query/--active/--staff`: the admin search.
func (a *app) searchUsers(ctx context.Context, q storage.UserQuery, asJSON bool) error {
	us, closeStore, err := a.usersService(ctx)
	if err != nil {
		return err
	}
	defer closeStore()
	var all []storage.User
	for {
		q.Limit = 500
		page, err := us.Search(ctx, q)
		if err != nil {
			return err
		}
		for _, u := range page {
			all = append(all, u.User)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Position
	}
	return a.printUsers(all, asJSON, false)
}

func (a *app) sessionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sessions", Short: "List and end users' login sessions"}
	refuseUnknownSubcommands(cmd)
	var asJSON bool
	list := &cobra.Command{
		Use:   "list ID|EMAIL",
		Short: "List a user's live sessions, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, store, us, err := a.openUsers(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			u, err := userByArg(ctx, us, args[0])
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			fs, err := store.ListLiveFamilies(ctx, u.ID, storage.LiveFamilies{Now: now, IdleCutoff: now.Add(-cfg.Tokens.RefreshTTL)})
			if err != nil {
				return err
			}
			type row struct {
				ID        string    `json:"id"`
				Created   time.Time `json:"created"`
				LastUsed  time.Time `json:"last_used"`
				Expires   time.Time `json:"expires"`
				UserAgent string    `json:"user_agent"`
				IP        string    `json:"ip"`
			}
			rows := []row{}
			for _, f := range fs {
				exp := f.RotatedAt.Add(cfg.Tokens.RefreshTTL)
				if f.ExpiresAt.Before(exp) {
					exp = f.ExpiresAt
				}
				rows = append(rows, row{f.ID, f.CreatedAt, f.RotatedAt, exp, f.UserAgent, f.IP})
			}
			if asJSON {
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tLAST USED\tEXPIRES\tIP\tUSER AGENT")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Created.Format(time.RFC3339), r.LastUsed.Format(time.RFC3339), r.Expires.Format(time.RFC3339), r.IP, r.UserAgent)
			}
			return tw.Flush()
		},
	}
	jsonFlag(list, &asJSON)
	var all bool
	revoke := &cobra.Command{
		Use:   "revoke SESSION_ID | --all ID|EMAIL",
		Short: "End one session, or every session of a user with --all",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, store, _, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			now := time.Now().UTC()
			if all {
				us, err := server.NewUsers(cfg, store, time.Now, a.logger(cfg))
				if err != nil {
					return err
				}
				u, err := userByArg(ctx, us, args[0])
				if err != nil {
					return err
				}
				n, err := store.RevokeUserFamilies(ctx, u.ID, now, "admin_cli")
				if err != nil {
					return err
				}
				_ = store.RecordAudit(ctx, storage.AuditEvent{At: now, Type: "admin.sessions.ended", UserID: u.ID, TargetType: "user",
					TargetID: strconv.FormatInt(u.ID, 10), Detail: fmt.Sprintf("%d sessions ended (CLI)", n)})
				fmt.Fprintf(a.stdout, "ended %d sessions of %s\n", n, u.Email)
				return nil
			}
			f, err := store.GetFamily(ctx, args[0])
			if err != nil {
				return fmt.Errorf("session %s: %w", args[0], err)
			}
			ok, err := store.RevokeFamily(ctx, f.ID, now, "admin_cli")
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("session %s had already ended", f.ID)
			}
			_ = store.RecordAudit(ctx, storage.AuditEvent{At: now, Type: "admin.session.ended", UserID: f.UserID, FamilyID: f.ID,
				TargetType: "session", TargetID: f.ID, Detail: "CLI"})
			fmt.Fprintf(a.stdout, "ended session %s\n", f.ID)
			return nil
		},
	}
	revoke.Flags().BoolVar(&all, "all", false, "end every session of the user named by the argument")
	cmd.AddCommand(list, revoke)
	return cmd
}

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail"}
	refuseUnknownSubcommands(cmd)
	var asJSON bool
	var userID int64
	var typ, since, until string
	var limit int
	list := &cobra.Command{
		Use:   "list [--user ID] [--type T] [--since RFC3339] [--until RFC3339] [--limit N]",
		Short: "List audit events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := storage.AuditQuery{UserID: userID, Type: typ, Limit: limit}
			for _, p := range []struct {
				s string
				t *time.Time
			}{{since, &q.Since}, {until, &q.Until}} {
				if p.s == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, p.s)
				if err != nil {
					return fmt.Errorf("%q is not an RFC 3339 time", p.s)
				}
				*p.t = t
			}
			ctx := cmd.Context()
			_, store, _, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			rs, err := store.SearchAudit(ctx, q)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(rs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tTYPE\tACTOR\tUSER\tTARGET\tIP\tDETAIL")
			for _, r := range rs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.At.Format(time.RFC3339), r.Type,
					orDash(r.ActorEmail), orDash(r.UserEmail), orDash(r.TargetType+" "+r.TargetID), orDash(r.IP), r.Detail)
			}
			return tw.Flush()
		},
	}
	list.Flags().Int64Var(&userID, "user", 0, "only events of this user id (as subject or actor)")
	list.Flags().StringVar(&typ, "type", "", "only events of this type, e.g. admin.user.updated")
	list.Flags().StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	list.Flags().StringVar(&until, "until", "", "only events before this RFC 3339 time")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many events")
	jsonFlag(list, &asJSON)
	cmd.AddCommand(list)
	return cmd
}

func orDash(s string) string {
	if s == "" || s == " " {
		return "-"
	}
	return s
}
