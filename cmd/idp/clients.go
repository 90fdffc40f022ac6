package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
)

func (a *app) clientsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Manage OAuth 2.0 clients (the callers of /oauth2/token)",
		Long: `Manage the OAuth 2.0 client registry. A confidential client gets a generated secret
(256 random bits) that is printed once, by create and rotate-secret, and stored only as a
hash; list and get never show it. See docs/oauth2.md.`,
	}
	cmd.AddCommand(a.createClientCmd(), a.listClientsCmd(), a.getClientCmd(), a.updateClientCmd(),
		a.rotateSecretCmd(), a.enableClientCmd(false), a.enableClientCmd(true), a.deleteClientCmd())
	return cmd
}

// clientFlags are the flags of create and update.
type clientFlags struct {
	id, name, typ                         string
	grants, redirects, postLogout, scopes []string
	audiences                             []string
	firstParty                            bool
	accessTTL, refreshTTL                 time.Duration
}

func (f *clientFlags) bind(fs *pflag.FlagSet, create bool) {
	if create {
		fs.StringVar(&f.id, "id", "", "fixed client id (default: generated)")
		fs.StringVar(&f.typ, "type", storage.ClientConfidential, "confidential (has a secret) or public")
	}
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringArrayVar(&f.grants, "grant", nil, "allowed grant type: authorization_code, client_credentials, password, refresh_token (repeatable)")
	fs.StringArrayVar(&f.redirects, "redirect-uri", nil, "redirect URI (repeatable)")
	fs.StringArrayVar(&f.postLogout, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	fs.StringArrayVar(&f.scopes, "scope", nil, "allowed scope (repeatable)")
	fs.StringArrayVar(&f.audiences, "audience", nil, "audience its access tokens may carry, an absolute URI; the RFC 8707 resource selects among them (repeatable)")
	fs.BoolVar(&f.firstParty, "first-party", false, "a first-party client (may use the password grant; no consent page in the authorization code flow)")
	fs.DurationVar(&f.accessTTL, "access-ttl", 0, "access-token lifetime for this client (0: tokens.access_ttl)")
	fs.DurationVar(&f.refreshTTL, "refresh-ttl", 0, "refresh-token idle lifetime for this client (0: tokens.refresh_ttl)")
}

// apply sets the fields whose flags were given (all of them on create).
func (f *clientFlags) apply(fs *pflag.FlagSet, s *clients.Spec) {
	set := func(name string) bool { return fs.Changed(name) }
	if set("name") {
		s.Name = f.name
	}
	if set("grant") {
		s.GrantTypes = f.grants
	}
	if set("redirect-uri") {
		s.RedirectURIs = f.redirects
	}
	if set("post-logout-redirect-uri") {
		s.PostLogoutRedirectURIs = f.postLogout
	}
	if set("scope") {
		s.Scopes = f.scopes
	}
	if set("audience") {
		s.Audiences = f.audiences
	}
	if set("first-party") {
		s.FirstParty = f.firstParty
	}
	if set("access-ttl") {
		s.AccessTTL = f.accessTTL
	}
	if set("refresh-ttl") {
		s.RefreshTTL = f.refreshTTL
	}
}

// clientView is a client as the CLI shows it: never a secret or its hash.
type clientView struct {
	ClientID               string    `json:"client_id"`
	Name                   string    `json:"name"`
	Type                   string    `json:"type"`
	Enabled                bool      `json:"enabled"`
	FirstParty             bool      `json:"first_party"`
	GrantTypes             []string  `json:"grant_types"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Scopes                 []string  `json:"scopes"`
	Audiences              []string  `json:"audiences"`
	AccessTTL              string    `json:"access_ttl"`
	RefreshTTL             string    `json:"refresh_ttl"`
	PreviousSecretUntil    *string   `json:"previous_secret_valid_until"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

func viewOf(c storage.Client) clientView {
	v := clientView{
		ClientID: c.ID, Name: c.Name, Type: c.Type, Enabled: c.Enabled, FirstParty: c.FirstParty,
		GrantTypes: nonNil(c.GrantTypes), RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), Scopes: nonNil(c.Scopes),
		Audiences: nonNil(c.Audiences), AccessTTL: ttl(c.AccessTTL), RefreshTTL: ttl(c.RefreshTTL),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if c.PreviousSecretHash != "" && time.Now().Before(c.PreviousSecretExpiresAt) {
		s := c.PreviousSecretExpiresAt.Format(time.RFC3339)
		v.PreviousSecretUntil = &s
	}
	return v
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func ttl(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

// registry opens the store and builds the registry; call the returned
// func to close the store.
func (a *app) registry(ctx context.Context) (*clients.Registry, func() error, error) {
	cfg, store, _, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := server.NewClients(cfg, store, time.Now)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return r, store.Close, nil
}

func clientError(err error) error {
	var ve *clients.ValidationError
	if errors.As(err, &ve) {
		return fmt.Errorf("invalid client:\n  %s", strings.Join(ve.Problems, "\n  "))
	}
	return err
}

func (a *app) printClient(c storage.Client, secret string, asJSON bool) error {
	if asJSON {
		out := struct {
			clientView
			ClientSecret string `json:"client_secret,omitempty"`
		}{viewOf(c), secret}
		return a.printJSON(out)
	}
	v := viewOf(c)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, val string) { fmt.Fprintf(tw, "%s\t%s\n", k, val) }
	row("client_id", v.ClientID)
	if secret != "" {
		row("client_secret", secret+"   (shown once: store it now)")
	}
	row("name", v.Name)
	row("type", v.Type)
	row("enabled", fmt.Sprint(v.Enabled))
	row("first_party", fmt.Sprint(v.FirstParty))
	row("grant_types", strings.Join(v.GrantTypes, " "))
	row("scopes", strings.Join(v.Scopes, " "))
	row("audiences", strings.Join(v.Audiences, " "))
	row("redirect_uris", strings.Join(v.RedirectURIs, " "))
	row("post_logout_redirect_uris", strings.Join(v.PostLogoutRedirectURIs, " "))
	row("access_ttl", v.AccessTTL)
	row("refresh_ttl", v.RefreshTTL)
	if v.PreviousSecretUntil != nil {
		row("previous_secret_valid_until", *v.PreviousSecretUntil)
	}
	row("created_at", v.CreatedAt.Format(time.RFC3339))
	row("updated_at", v.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}

func (a *app) createClientCmd() *cobra.Command {
	var f clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; a confidential client's secret is printed once",
		Example: "  idp clients create --name billing --grant client_credentials --scope billing:read --audience https://billing.example\n" +
			"  idp clients create --name app --first-party --grant password --grant refresh_token --scope email --json\n" +
			"  idp clients create --name spa --type public --grant authorization_code --grant refresh_token \\\n" +
			"    --redirect-uri https://spa.example/callback --post-logout-redirect-uri https://spa.example/ --scope openid --scope email --scope offline_access",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			s := clients.Spec{ID: f.id, Type: f.typ}
			f.apply(cmd.Flags(), &s)
			c, secret, err := r.Create(cmd.Context(), s)
			if err != nil {
				return clientError(err)
			}
			return a.printClient(c, secret, asJSON)
		},
	}
	f.bind(cmd.Flags(), true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with client_id and client_secret)")
	return cmd
}

func (a *app) listClientsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clients (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			all, err := r.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				views := make([]clientView, 0, len(all))
				for _, c := range all {
					views = append(views, viewOf(c))
				}
				return a.printJSON(views)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tENABLED\tGRANTS\tSCOPES")
			for _, c := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", c.ID, c.Name, c.Type, c.Enabled,
					strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, ","))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func (a *app) getClientCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get CLIENT_ID",
		Short: "Show one client (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			c, err := r.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printClient(c, "", asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func (a *app) updateClientCmd() *cobra.Command {
	var f clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID",
		Short: "Change a client: each flag given replaces that setting (a repeated flag, the whole list)",
		Example: "  idp clients update billing --scope billing:read --scope billing:write\n" +
			"  idp clients update app --first-party=false --grant refresh_token",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			c, err := r.Update(cmd.Context(), args[0], func(s *clients.Spec) { f.apply(cmd.Flags(), s) })
			if err != nil {
				return clientError(err)
			}
			return a.printClient(c, "", asJSON)
		},
	}
	f.bind(cmd.Flags(), false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func (a *app) rotateSecretCmd() *cobra.Command {
	var overlap time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a confidential client a new secret (printed once); the old one works for --overlap",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			d := time.Duration(-1) // the configured oauth2.secret_overlap
			if cmd.Flags().Changed("overlap") {
				if overlap < 0 {
					return fmt.Errorf("--overlap %s: must not be negative", overlap)
				}
				d = overlap
			}
			secret, err := r.RotateSecret(cmd.Context(), args[0], d)
			if err != nil {
				return err
			}
			c, err := r.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printClient(c, secret, asJSON)
		},
	}
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "how long the old secret keeps working (default oauth2.secret_overlap; 0s: stops now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with client_id and client_secret)")
	return cmd
}

func (a *app) enableClientCmd(enable bool) *cobra.Command {
	use, short := "disable CLIENT_ID", "Disable a client: it can no longer authenticate (no tokens, refresh, introspection or revocation)"
	if enable {
		use, short = "enable CLIENT_ID", "Enable a disabled client"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			c, err := r.SetEnabled(cmd.Context(), args[0], enable)
			if err != nil {
				return err
			}
			state := "disabled"
			if c.Enabled {
				state = "enabled"
			}
			fmt.Fprintf(a.stdout, "client %s %s\n", c.ID, state)
			return nil
		},
	}
}

func (a *app) deleteClientCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client: it can no longer authenticate; its access tokens run out by their expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, closeStore, err := a.registry(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			if err := r.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "client %s deleted\n", args[0])
			return nil
		},
	}
}
