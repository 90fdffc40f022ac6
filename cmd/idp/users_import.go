package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idp/idp/internal/djangoimport"
	"github.com/idp/idp/internal/storage"
)

// exitBlocked is the exit status of an import that refused to write (or a
// dry run whose real import would): rows refused or conflicts unresolved.
const exitBlocked = 3

// exitError carries a non-default exit status to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

func (a *app) importUsersCmd() *cobra.Command {
	var (
		fromDjango, fixture, table, model, onConflict string
		opts                                          djangoimport.Options
		asJSON                                        bool
	)
	cmd := &cobra.Command{
		Use:   "import (--from-django DSN | --fixture FILE)",
		Short: "Import the users of the Django app, keeping ids and passwords",
		Long: `Import every user of the Django REST Framework + SimpleJWT app idp replaces: ids,
emails, names, flags, date_joined, last_login and password hashes as Django stored them.
Users log in with the passwords they have; each Django hash is replaced by idp's argon2id
at the first login (audited as password.rehashed). See docs/migrating-from-django.md.

--from-django reads the app's database without writing to it: a postgres:// URL or the
path of its SQLite file (db.sqlite3). --fixture reads 'manage.py dumpdata
djangojwtapp.User' output instead.

Everything is checked before anything is written, and the import is one transaction:
rows idp cannot take (invalid email, name over 100 characters, malformed or unknown hash,
id or email already in idp) and emails Django holds twice in different case are all
reported, and nothing is written while there are any — unless --skip-invalid and
--on-conflict say what to do. Running it again changes nothing (--update applies rows
changed in Django since, never over a password already replaced in idp). idp's id
sequence is moved past the highest imported id.

Exit status: 0 imported (or nothing to do), 3 blocked by refused rows or unresolved
conflicts (for --dry-run: a real import would be), 1 any other error.`,
		Example: `  idp users import --from-django db.sqlite3 --dry-run
  idp users import --from-django 'postgres://django@db.internal/app' --on-conflict=keep-newest-login
  idp users import --fixture users.json --skip-invalid --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (fromDjango == "") == (fixture == "") {
				return errors.New("name the source: exactly one of --from-django DSN or --fixture FILE")
			}
			opts.OnConflict = djangoimport.ConflictPolicy(onConflict)
			if onConflict == "refuse" {
				opts.OnConflict = djangoimport.RefuseConflicts
			}
			if err := opts.OnConflict.Check(); err != nil {
				return err // before opening anything
			}
			var src djangoimport.Source
			var err error
			if fixture != "" {
				src, err = djangoimport.OpenFixture(fixture, model)
			} else {
				src, err = djangoimport.Open(ctx, fromDjango, table)
			}
			if err != nil {
				return err
			}
			defer src.Close()
			_, store, _, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			ui, ok := store.(storage.UserImports)
			if !ok {
				return fmt.Errorf("the %s store cannot import users", store.Backend())
			}
			prog := newProgress(a.stderr)
			opts.Progress = prog.update
			rep, err := djangoimport.Import(ctx, src, ui, opts)
			prog.finish()
			if rep == nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return jerr
				}
			} else {
				printImportReport(a.stdout, rep)
			}
			if errors.Is(err, djangoimport.ErrBlocked) {
				return &exitError{code: exitBlocked, err: err}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&fromDjango, "from-django", "", "the Django app's database: a postgres:// URL or the path of its SQLite file")
	f.StringVar(&fixture, "fixture", "", "a 'manage.py dumpdata djangojwtapp.User' JSON file instead of the database")
	f.StringVar(&table, "table", djangoimport.DefaultTable, "the user table (with --from-django)")
	f.StringVar(&model, "model", djangoimport.DefaultModel, "the user model (with --fixture)")
	f.StringVar(&onConflict, "on-conflict", "refuse", "emails Django holds for several users: refuse, keep-newest-login or keep-lowest-id")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check and report everything, write nothing")
	f.BoolVar(&opts.Update, "update", false, "update users imported before whose Django row has changed")
	f.BoolVar(&opts.SkipInvalid, "skip-invalid", false, "import the valid rows even if some are refused (each is listed)")
	f.BoolVar(&opts.AllowWeakHashes, "allow-weak-hashes", false, "import md5, sha1 and unsalted hashes (replaced at the first login) instead of refusing them")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// progress draws a bar on a terminal, or prints a line per phase and per
// tenth of the rows otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	phase    string
	lastTick int64
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) update(pr djangoimport.Progress) {
	if p.tty {
		p.bar(pr)
		return
	}
	if pr.Phase != p.phase {
		p.phase = pr.Phase
		fmt.Fprintf(p.w, "%s: %d users read\n", pr.Phase, pr.Read)
		return
	}
	tick := pr.Read / 100_000
	if pr.Total > 0 {
		tick = pr.Read * 10 / pr.Total
	}
	if tick > p.lastTick {
		p.lastTick = tick
		if pr.Total > 0 {
			fmt.Fprintf(p.w, "%s: %d/%d users (%d%%)\n", pr.Phase, pr.Read, pr.Total, pr.Read*100/pr.Total)
		} else {
			fmt.Fprintf(p.w, "%s: %d users\n", pr.Phase, pr.Read)
		}
	}
}

func (p *progress) bar(pr djangoimport.Progress) {
	const width = 30
	line := fmt.Sprintf("%-10s %d users", pr.Phase, pr.Read)
	if pr.Total > 0 {
		done := int(min(pr.Read*width/max(pr.Total, 1), width))
		line = fmt.Sprintf("%-10s [%s%s] %d/%d", pr.Phase, strings.Repeat("=", done), strings.Repeat(" ", width-done), pr.Read, pr.Total)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

// finish ends the bar's line, so that what follows starts on its own.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func printImportReport(w io.Writer, r *djangoimport.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "source\t%s\n", r.Source)
	fmt.Fprintf(tw, "read\t%d\n", r.Read)
	fmt.Fprintf(tw, "imported\t%d\n", r.Imported)
	fmt.Fprintf(tw, "updated\t%d\n", r.Updated)
	fmt.Fprintf(tw, "unchanged\t%d\n", r.Unchanged)
	if r.NotUpdated > 0 {
		fmt.Fprintf(tw, "changed, not updated\t%d\t(--update applies them)\n", r.NotUpdated)
	}
	fmt.Fprintf(tw, "skipped\t%d\n", r.Skipped)
	fmt.Fprintf(tw, "conflicts\t%d\n", len(r.Conflicts))
	fmt.Fprintf(tw, "refused\t%d\n", len(r.Refused))
	byReason := r.RefusedByReason()
	reasons := make([]string, 0, len(byReason))
	for k := range byReason {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		fmt.Fprintf(tw, "  %s\t%d\n", k, byReason[k])
	}
	formats := make([]string, 0, len(r.Formats))
	for k := range r.Formats {
		formats = append(formats, k)
	}
	slices.Sort(formats)
	for i, k := range formats {
		label := ""
		if i == 0 {
			label = "hash formats"
		}
		fmt.Fprintf(tw, "%s\t%s %d\n", label, k, r.Formats[k])
	}
	tw.Flush()
	if len(r.Refused) > 0 {
		fmt.Fprintln(w, "\nrefused rows:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tEMAIL\tREASON\tDETAIL")
		for _, x := range r.Refused {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", x.ID, x.Email, x.Reason, x.Detail)
		}
		tw.Flush()
	}
	if len(r.Conflicts) > 0 {
		fmt.Fprintln(w, "\nemail conflicts (Django compares emails case-sensitively, idp does not):")
		for _, c := range r.Conflicts {
			var parts []string
			for _, m := range c.Users {
				login := "never logged in"
				if !m.LastLogin.IsZero() {
					login = "last login " + m.LastLogin.Format(time.RFC3339)
				}
				mark := ""
				switch {
				case c.Kept == m.ID:
					mark = " [kept]"
				case c.Kept != 0:
					mark = " [left out]"
				}
				parts = append(parts, fmt.Sprintf("%d <%s> %s%s", m.ID, m.Email, login, mark))
			}
			fmt.Fprintf(w, "  %s\n", strings.Join(parts, "; "))
		}
	}
	fmt.Fprintln(w)
	switch {
	case r.Written:
		fmt.Fprintf(w, "imported in one transaction in %v\n", r.Elapsed.Round(time.Millisecond))
	case r.DryRun && r.Blocked != "":
		fmt.Fprintf(w, "dry run: nothing written; a real import would be blocked: %s\n", r.Blocked)
	case r.DryRun:
		fmt.Fprintln(w, "dry run: nothing written")
	default:
		fmt.Fprintf(w, "blocked: %s; nothing written\n", r.Blocked)
	}
}
