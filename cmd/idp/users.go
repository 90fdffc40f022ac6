package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

func (a *app) usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage user accounts"}
	cmd.AddCommand(a.createUserCmd(false), a.createUserCmd(true), a.listUsersCmd(), a.importUsersCmd(), a.getUserCmd(), a.updateUserCmd())
	cmd.AddCommand(a.userAdminCmds()...)
	cmd.AddCommand(a.consentCmds()...)
	return cmd
}

func (a *app) createUserCmd(super bool) *cobra.Command {
	var (
		email, name   string
		passwordStdin bool
		staff, admin  bool
		inactive      bool
		asJSON        bool
	)
	use, short := "create", "Create a user (Django's create_user)"
	if super {
		use, short = "createsuperuser", "Create a superuser: staff, superuser and active (Django's create_superuser)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

The password is read from a prompt (typed twice, not echoed) or, with --password-stdin, from
the first line of standard input. It is never taken from a flag, so it never lands in shell
history or the process list.`,
		Example: "  idp users " + use + " --email alice@example.com --name Alice\n" +
			"  printf '%s\\n' \"$PASSWORD\" | idp users " + use + " --email alice@example.com --name Alice --password-stdin",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for _, f := range []struct{ flag, val, what string }{{"email", email, "the user's email address"}, {"name", name, "the user's display name"}} {
				if strings.TrimSpace(f.val) == "" {
					return fmt.Errorf("--%s is empty: give %s", f.flag, f.what)
				}
			}
			password, err := a.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			us, closeStore, err := a.usersService(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			nu := users.NewUser{Email: email, Name: name, Password: password}
			if !super {
				nu.IsStaff, nu.IsAdmin = &staff, &admin
				active := !inactive
				nu.IsActive = &active
			}
			var u storage.User
			if super {
				u, err = us.CreateSuperuser(ctx, nu)
			} else {
				u, err = us.CreateUser(ctx, nu)
			}
			if err != nil {
				var ve *users.ValidationError
				if errors.As(err, &ve) {
					return fmt.Errorf("user not created:\n%s", formatValidation(ve))
				}
				return err
			}
			if asJSON {
				return a.printJSON(rowOf(u))
			}
			fmt.Fprintf(a.stdout, "created user %d <%s>%s\n", u.ID, u.Email, flagsOf(u))
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email address (the login; required)")
	cmd.Flags().StringVar(&name, "name", "", "display name (required, at most 100 characters)")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("name")
	jsonFlag(cmd, &asJSON)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	if !super {
		cmd.Flags().BoolVar(&staff, "staff", false, "mark the user as staff")
		cmd.Flags().BoolVar(&admin, "admin", false, "mark the user as admin (is_admin)")
		cmd.Flags().BoolVar(&inactive, "inactive", false, "create the account deactivated")
	}
	return cmd
}

// readPassword takes the password from stdin's first line or a prompt.
func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: pass --password-stdin and pipe the password in")
	}
	fmt.Fprint(a.stderr, "Password: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(a.stderr, "Password (again): ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("the two passwords differ")
	}
	return string(p1), nil
}

func formatValidation(ve *users.ValidationError) string {
	var b strings.Builder
	for _, f := range ve.Fields {
		for _, m := range f.Messages {
			fmt.Fprintf(&b, "  %s: %s\n", f.Field, m)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func flagsOf(u storage.User) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{u.IsStaff, "staff"}, {u.IsSuperuser, "superuser"}, {u.IsAdmin, "admin"}, {!u.IsActive, "inactive"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	if len(f) == 0 {
		return ""
	}
	return " (" + strings.Join(f, ", ") + ")"
}

func (a *app) listUsersCmd() *cobra.Command {
	var asJSON, active, staff bool
	var query string
	cmd := &cobra.Command{
		Use:   "list [--query Q] [--active=BOOL] [--staff=BOOL]",
		Short: "List users by id (--query: email prefix or name substring, case-insensitive, listed by email)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if query != "" || cmd.Flags().Changed("active") || cmd.Flags().Changed("staff") {
				return a.searchUsers(ctx, storage.UserQuery{Q: query, IsActive: optBool(cmd, "active", active), IsStaff: optBool(cmd, "staff", staff)}, asJSON)
			}
			us, closeStore, err := a.usersService(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			var rows []userRow
			for after := int64(0); ; {
				page, err := us.List(ctx, after, 500)
				if err != nil {
					return err
				}
				for _, u := range page {
					rows = append(rows, rowOf(u))
					after = u.ID
				}
				if len(page) < 500 {
					break
				}
			}
			if asJSON {
				if rows == nil {
					rows = []userRow{}
				}
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tACTIVE\tSTAFF\tSUPERUSER\tADMIN\tJOINED\tLAST LOGIN")
			for _, r := range rows {
				last := "never"
				if r.LastLogin != nil {
					last = r.LastLogin.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%t\t%t\t%t\t%s\t%s\n", r.ID, r.Email, r.Name, r.IsActive, r.IsStaff, r.IsSuperuser, r.IsAdmin, r.DateJoined.Format(time.RFC3339), last)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&query, "query", "q", "", "only users whose email starts with, or name contains, Q")
	cmd.Flags().BoolVar(&active, "active", true, "only active (true) or inactive (false) users")
	cmd.Flags().BoolVar(&staff, "staff", false, "only staff (true) or non-staff (false) users")
	jsonFlag(cmd, &asJSON)
	return cmd
}

// userRow is a user as the CLI prints it (users list --json, and --json
// of the commands acting on one user).
type userRow struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	IsActive    bool       `json:"is_active"`
	IsStaff     bool       `json:"is_staff"`
	IsSuperuser bool       `json:"is_superuser"`
	IsAdmin     bool       `json:"is_admin"`
	DateJoined  time.Time  `json:"date_joined"`
	LastLogin   *time.Time `json:"last_login"`
}

func rowOf(u storage.User) userRow {
	r := userRow{u.ID, u.Email, u.Name, u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin, u.DateJoined, nil}
	if !u.LastLogin.IsZero() {
		ll := u.LastLogin
		r.LastLogin = &ll
	}
	return r
}

// usersService opens the store and the accounts service over it; call
// the returned func to close the store.
func (a *app) usersService(ctx context.Context) (*users.Service, func() error, error) {
	_, store, us, err := a.openUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	return us, store.Close, nil
}

// openUsers opens the existing store and the accounts service over it, for
// commands that also need the store or the configuration; the caller
// closes the store.
func (a *app) openUsers(ctx context.Context) (config.Config, storage.Store, *users.Service, error) {
	cfg, store, log, err := a.openStore(ctx)
	if err != nil {
		return cfg, nil, nil, err
	}
	us, err := server.NewUsers(cfg, store, time.Now, log)
	if err != nil {
		store.Close()
		return cfg, nil, nil, err
	}
	return cfg, store, us, nil
}

// userByArg finds the user an argument names: a numeric id or an email.
func userByArg(ctx context.Context, us *users.Service, arg string) (storage.User, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		return us.Get(ctx, id)
	}
	return us.Find(ctx, arg)
}

// userAction is what a command does to one user: what it reports, and
// whether it changed anything.
type userAction func(ctx context.Context, us *users.Service, u storage.User) (msg string, changed bool, err error)

// userAdminCmd is a command acting on one existing user.
func (a *app) userAdminCmd(use, short string, act userAction) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use + " EMAIL|ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			us, closeStore, err := a.usersService(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			u, err := userByArg(ctx, us, args[0])
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no user %s (idp users list shows them)", args[0])
			}
			if err != nil {
				return err
			}
			msg, changed, err := act(ctx, us, u)
			if err != nil {
				var ve *users.ValidationError
				if errors.As(err, &ve) {
					return fmt.Errorf("refused:\n%s", formatValidation(ve))
				}
				return err
			}
			if asJSON {
				return a.printJSON(map[string]any{"user": rowOf(u), "result": msg, "changed": changed})
			}
			fmt.Fprintf(a.stdout, "user %d <%s>: %s\n", u.ID, u.Email, msg)
			return nil
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}

func (a *app) userAdminCmds() []*cobra.Command {
	var passwordStdin, yes bool
	setPassword := a.userAdminCmd("set-password", "Set a user's password (policy-checked); ends all its sessions",
		func(ctx context.Context, us *users.Service, u storage.User) (string, bool, error) {
			p, err := a.readPassword(passwordStdin)
			if err != nil {
				return "", false, err
			}
			return "password changed; sessions revoked", true, us.SetPassword(ctx, u.ID, p)
		})
	setPassword.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	del := a.userAdminCmd("delete", "Delete a user and its sessions (asks for confirmation, or --yes)",
		func(ctx context.Context, us *users.Service, u storage.User) (string, bool, error) {
			if !yes {
				if err := a.confirm(fmt.Sprintf("Delete user %d <%s> and all its sessions? This cannot be undone. Type yes: ", u.ID, u.Email)); err != nil {
					return "", false, err
				}
			}
			return "deleted", true, us.Delete(ctx, u.ID)
		})
	del.Flags().BoolVar(&yes, "yes", false, "delete without asking")
	return []*cobra.Command{
		setPassword,
		a.userAdminCmd("deactivate", "Deactivate a user: no login, no refresh; ends all its sessions",
			func(ctx context.Context, us *users.Service, u storage.User) (string, bool, error) {
				if !u.IsActive {
					return "already inactive; nothing changed", false, nil
				}
				return "deactivated; sessions revoked", true, us.SetActive(ctx, u.ID, false)
			}),
		a.userAdminCmd("activate", "Reactivate a user",
			func(ctx context.Context, us *users.Service, u storage.User) (string, bool, error) {
				if u.IsActive {
					return "already active; nothing changed", false, nil
				}
				return "activated", true, us.SetActive(ctx, u.ID, true)
			}),
		del,
	}
}

// confirm asks on the terminal and fails unless the answer is "yes".
// Without a terminal it fails, naming --yes.
func (a *app) confirm(question string) error {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("not confirmed: standard input is not a terminal; pass --yes to confirm")
	}
	fmt.Fprint(a.stderr, question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return errors.New("not confirmed: nothing changed")
	}
	return nil
}
