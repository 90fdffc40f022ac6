package main

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage/sqlite"
	"github.com/idp/idp/internal/storage/storagetest"
)

// storeCommands are commands that need an existing store, with what
// they need on stdin.
var storeCommands = []struct {
	args  []string
	stdin string
}{
	{args: []string{"users", "list"}},
	{args: []string{"users", "list", "--json"}},
	{args: []string{"users", "create", "--password-stdin", "--email", "a@example.com", "--name", "A"}, stdin: goodPassword + "\n"},
	{args: []string{"users", "createsuperuser", "--password-stdin", "--email", "a@example.com", "--name", "A"}, stdin: goodPassword + "\n"},
	{args: []string{"users", "deactivate", "a@example.com"}},
	{args: []string{"users", "delete", "--yes", "1"}},
	{args: []string{"keys", "list"}},
	{args: []string{"keys", "rotate"}},
	{args: []string{"keys", "generate", "--alg", "RS256"}},
	{args: []string{"keys", "export"}},
	{args: []string{"keys", "rewrap"}},
	{args: []string{"tokens", "flush"}},
}

// tree lists every path under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCommandsNeverCreateAStore: only serve and migrate create a store.
// Every other command, given a store that is not there, fails naming the
// store it looked for and how to point at the right one, and leaves the
// file system as it was.
func TestCommandsNeverCreateAStore(t *testing.T) {
	wheres := []struct {
		name string
		// setup returns extra args and the path the message must name.
		setup func(t *testing.T, dir string) ([]string, string)
		want  []string
	}{
		{
			name:  "default-path-in-another-directory",
			setup: func(t *testing.T, dir string) ([]string, string) { return nil, "data/idp.db" },
			want:  []string{"database.sqlite_path is from default", "--sqlite-path", "idp migrate"},
		},
		{
			name: "typo-in-sqlite-path-flag",
			setup: func(t *testing.T, dir string) ([]string, string) {
				return []string{"--sqlite-path", "/typo/x.db"}, "/typo/x.db"
			},
			want: []string{"no idp store at /typo/x.db: no such file", "database.sqlite_path is from flag --sqlite-path"},
		},
		{
			name: "path-from-environment",
			setup: func(t *testing.T, dir string) ([]string, string) {
				t.Setenv("IDP_DATABASE_SQLITE_PATH", "elsewhere/idp.db")
				return nil, "elsewhere/idp.db"
			},
			want: []string{"database.sqlite_path is from env IDP_DATABASE_SQLITE_PATH"},
		},
		{
			name: "not-a-database",
			setup: func(t *testing.T, dir string) ([]string, string) {
				p := filepath.Join(dir, "notes.txt")
				if err := os.WriteFile(p, []byte("not a database\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--sqlite-path", p}, p
			},
			want: []string{"not a SQLite database"},
		},
		{
			name: "empty-file",
			setup: func(t *testing.T, dir string) ([]string, string) {
				p := filepath.Join(dir, "empty.db")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--sqlite-path", p}, p
			},
			want: []string{"not a SQLite database"},
		},
	}
	for _, w := range wheres {
		for _, c := range storeCommands {
			t.Run(w.name+"/"+strings.Join(c.args, "-"), func(t *testing.T) {
				dir := sandbox(t)
				extra, path := w.setup(t, dir)
				before := tree(t, dir)
				r := idp(t, strings.NewReader(c.stdin), append(slices.Clone(c.args), extra...)...)
				if r.err == nil {
					t.Fatalf("succeeded without a store: %q", r.stdout)
				}
				msg := r.err.Error()
				for _, s := range append([]string{path}, w.want...) {
					if !strings.Contains(msg, s) {
						t.Errorf("error lacks %q:\n%s", s, msg)
					}
				}
				if r.stdout != "" {
					t.Errorf("stdout %q on failure", r.stdout)
				}
				if after := tree(t, dir); !slices.Equal(before, after) {
					t.Errorf("files changed: %v → %v", before, after)
				}
				if _, err := os.Stat("/typo"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("/typo was created (%v)", err)
				}
			})
		}
	}
}

// TestCommandsRefuseAnUnmigratedStore: a store never migrated, or behind
// this binary's schema, is refused and not migrated.
func TestCommandsRefuseAnUnmigratedStore(t *testing.T) {
	t.Run("postgres-empty-schema", func(t *testing.T) {
		sandbox(t)
		url := storagetest.PostgresURL(t)
		t.Setenv("IDP_DATABASE_URL", url)
		r := idp(t, nil, "users", "list")
		if r.err == nil || !strings.Contains(r.err.Error(), "holds no idp schema") || !strings.Contains(r.err.Error(), "database.url is from env IDP_DATABASE_URL") {
			t.Fatalf("err %v, want a refusal naming the schema and where database.url came from", r.err)
		}
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var tables int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("%d tables created by a refused command", tables)
		}
	})
	t.Run("sqlite-behind", func(t *testing.T) {
		dir := migratedSandbox(t)
		db, err := sql.Open("sqlite", filepath.Join(dir, "data", "idp.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		r := idp(t, nil, "keys", "list")
		if r.err == nil || !strings.Contains(r.err.Error(), "its schema is at version") || !strings.Contains(r.err.Error(), "idp migrate") {
			t.Fatalf("err %v, want a refusal saying to run idp migrate", r.err)
		}
		db, err = sql.Open("sqlite", filepath.Join(dir, "data", "idp.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id = ?`, sqlite.LatestVersion()).Scan(&n); err != nil || n != 0 {
			t.Errorf("the refused command migrated the store (%d, %v)", n, err)
		}
	})
}

// TestCommandsSayWhichStore: one line on stderr names the store.
func TestCommandsSayWhichStore(t *testing.T) {
	migratedSandbox(t)
	r := idp(t, nil, "users", "list", "--json").mustSucceed(t)
	if r.stderr != "store: sqlite data/idp.db\n" {
		t.Errorf("stderr %q, want the store line alone", r.stderr)
	}
	if strings.Contains(r.stdout, "store") {
		t.Errorf("the store line leaked into stdout: %q", r.stdout)
	}
}

// TestMistakesExitNonZero: unknown subcommands and missing flags fail
// with a message naming the fix, and change nothing.
func TestMistakesExitNonZero(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown-keys-subcommand", []string{"keys", "lst"}, []string{`unknown command "lst" for "idp keys"`, "Did you mean this?\n\tlist", "idp keys --help"}},
		{"unknown-users-subcommand", []string{"users", "foo"}, []string{`unknown command "foo" for "idp users"`, "idp users --help"}},
		{"unknown-config-subcommand", []string{"config", "shwo"}, []string{`unknown command "shwo" for "idp config"`, "show"}},
		{"unknown-tokens-subcommand", []string{"tokens", "flsuh"}, []string{`unknown command "flsuh" for "idp tokens"`}},
		{"unknown-root-command", []string{"mirgate"}, []string{`unknown command "mirgate" for "idp"`, "migrate"}},
		{"unknown-completion-shell", []string{"completion", "tcsh"}, []string{`unknown command "tcsh" for "idp completion"`}},
		{"unknown-help-topic", []string{"help", "keys", "lst"}, []string{`unknown help topic "keys lst"`, "idp --help"}},
		{"users-create-without-email-and-name", []string{"users", "create", "--password-stdin"}, []string{`required flag(s) "email", "name" not set`}},
		{"keys-generate-without-alg", []string{"keys", "generate"}, []string{`required flag(s) "alg" not set`}},
		{"keys-generate-bad-alg", []string{"keys", "generate", "--alg", "HS256"}, []string{`--alg "HS256": want one of RS256, EdDSA, ES256`}},
		{"keys-revoke-without-reason", []string{"keys", "revoke", "somekid"}, []string{`required flag(s) "reason" not set`}},
		{"keys-revoke-empty-reason", []string{"keys", "revoke", "--reason", " ", "somekid"}, []string{"--reason is empty"}},
		{"keys-rotate-unknown-ring", []string{"keys", "rotate", "--alg", "ES256"}, []string{"--alg ES256: no such ring; the configured rings are RS256, EdDSA"}},
		{"keys-export-private", []string{"keys", "export", "--public=false"}, []string{"private keys are never exported"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := migratedSandbox(t)
			before := tree(t, dir)
			r := idp(t, nil, tc.args...)
			if r.err == nil {
				t.Fatalf("succeeded: %q", r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, r.err)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
			if after := tree(t, dir); !slices.Equal(before, after) {
				t.Errorf("files changed: %v → %v", before, after)
			}
		})
	}
	t.Run("bare-group-prints-help", func(t *testing.T) {
		sandbox(t)
		r := idp(t, nil, "keys").mustSucceed(t)
		if !strings.Contains(r.stdout, "Available Commands:") {
			t.Errorf("idp keys printed %q, want its help", r.stdout)
		}
		r = idp(t, nil, "help", "keys", "rotate").mustSucceed(t)
		if !strings.Contains(r.stdout, "every configured ring") {
			t.Errorf("idp help keys rotate printed %q", r.stdout)
		}
		r = idp(t, nil, "completion", "bash").mustSucceed(t)
		if !strings.HasPrefix(r.stdout, "# bash completion") {
			t.Errorf("idp completion bash printed %.40q", r.stdout)
		}
	})
}
