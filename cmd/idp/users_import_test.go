package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/internal/djangoimport"
	"github.com/idp/idp/internal/djangoimport/djangotest"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

var resolveFlags = []string{"--on-conflict=keep-newest-login", "--skip-invalid", "--allow-weak-hashes"}

func importArgs(src []string, extra ...string) []string {
	return append(append([]string{"users", "import"}, src...), extra...)
}

// The whole migration: import the Django app's users, start idp, and log
// in at the real /api/token/ with the passwords the users had in Django.
func TestUsersImportThenLogIn(t *testing.T) {
	sqliteStore := func(t *testing.T) storage.Store { return storagetest.OpenSQLite(t, filepath.Join("data", "idp.db")) }
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) ([]string, func(t *testing.T) storage.Store) // the source flags, the idp store
	}{
		{"sqlite-file-into-sqlite", func(t *testing.T) ([]string, func(t *testing.T) storage.Store) {
			return []string{"--from-django", djangotest.SQLitePath()}, sqliteStore
		}},
		{"dumpdata-into-sqlite", func(t *testing.T) ([]string, func(t *testing.T) storage.Store) {
			return []string{"--fixture", djangotest.DumpdataPath()}, sqliteStore
		}},
		{"postgres-into-postgres", func(t *testing.T) ([]string, func(t *testing.T) storage.Store) {
			url, _ := djangotest.Postgres(t)
			idpURL := storagetest.PostgresURL(t)
			t.Setenv("IDP_DATABASE_URL", idpURL)
			return []string{"--from-django", url}, func(t *testing.T) storage.Store { return storagetest.OpenPostgres(t, idpURL) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox(t)
			src, openStore := tc.setup(t)
			idp(t, nil, "migrate").mustSucceed(t) // only serve and migrate create a store

			r := idp(t, nil, importArgs(src)...)
			var ee *exitError
			if !errors.As(r.err, &ee) || ee.ExitCode() != exitBlocked || !strings.Contains(r.stdout, "blocked:") ||
				!strings.Contains(r.stdout, "bob@example.com") || !strings.Contains(r.stdout, "malformed_hash") {
				t.Fatalf("default import: want blocked (exit 3) listing conflicts and refusals; got %v\n%s", r.err, r.stdout)
			}
			if users := listUsers(t); len(users) != 0 {
				t.Fatalf("blocked import wrote %d users", len(users))
			}
			r = idp(t, nil, importArgs(src, append(resolveFlags, "--dry-run")...)...)
			if r.err != nil || !strings.Contains(r.stdout, "dry run: nothing written") || len(listUsers(t)) != 0 {
				t.Fatalf("dry run: %v\n%s", r.err, r.stdout)
			}
			r = idp(t, nil, importArgs(src, resolveFlags...)...)
			if r.err != nil || !strings.Contains(r.stdout, "imported in one transaction") {
				t.Fatalf("import: %v\n%s%s", r.err, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "reading:") || !strings.Contains(r.stderr, "committing:") {
				t.Errorf("no progress lines on stderr:\n%s", r.stderr)
			}
			r = idp(t, nil, importArgs(src, append(resolveFlags, "--json")...)...)
			var rep djangoimport.Report
			if r.err != nil || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Imported != 0 || rep.Unchanged == 0 || !rep.Written {
				t.Fatalf("second import (--json): %v\n%s", r.err, r.stdout)
			}

			s := serve(t, freeAddr(t))
			logIn := func(email, password string) (int, map[string]any) {
				b, _ := json.Marshal(map[string]string{"email": email, "password": password})
				return s.call(http.MethodPost, "/api/token/", string(b), "")
			}
			loggedIn := 0
			for _, u := range djangotest.Users(t) {
				if tc.name == "postgres-into-postgres" && u.ID == 16 {
					continue // not in the Postgres copy (varchar(100))
				}
				password := u.Password
				if password == "" { // the unusable one: no password works
					password = "any-password-at-all"
				}
				code, body := logIn(u.Email, password)
				canLogIn := (u.Expect == "imported" || u.Expect == "weak" || u.Email == "Bob@example.com") && u.Email != "peggy@example.com"
				if !canLogIn {
					if code != http.StatusUnauthorized {
						t.Errorf("%d <%s> (%s): login %d, want 401", u.ID, u.Email, u.Expect, code)
					}
					continue
				}
				if code != http.StatusOK {
					t.Errorf("%d <%s> (%s): login %d %v, want 200", u.ID, u.Email, u.Format, code, body)
					continue
				}
				if got := accessUserID(t, body["access"].(string)); got != u.ID {
					t.Errorf("%d <%s>: token user_id %d, want the Django id", u.ID, u.Email, got)
				}
				// Rehashed to argon2id at the first login; the password still works.
				if code, _ := logIn(u.Email, u.Password); code != http.StatusOK {
					t.Errorf("%d <%s>: second login %d", u.ID, u.Email, code)
				}
				if code, _ := logIn(u.Email, u.Password+"x"); code != http.StatusUnauthorized {
					t.Errorf("%d <%s>: wrong password %d", u.ID, u.Email, code)
				}
				loggedIn++
			}
			if loggedIn < 12 {
				t.Errorf("only %d users logged in", loggedIn)
			}
			// A registration gets an id past the imported ones.
			code, body := s.call(http.MethodPost, "/api/register/", `{"name":"New","email":"new@example.com","password":"a-fresh-passphrase"}`, "")
			if id, _ := body["id"].(float64); code != http.StatusOK || id <= 20 {
				t.Errorf("register after import: %d %v; want id > 20", code, body)
			}
			if err := s.shutdown(); err != nil {
				t.Fatal(err)
			}
			// Every hash that logged in is idp's now: audited, and a rerun
			// with --update does not put the Django hashes back.
			r = idp(t, nil, importArgs(src, append(resolveFlags, "--update", "--json")...)...)
			rep = djangoimport.Report{}
			if r.err != nil || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Updated != 0 {
				t.Fatalf("import --update after logins: %v\n%s", r.err, r.stdout)
			}
			store := openStore(t)
			events, err := store.ListAudit(t.Context(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			rehashed := 0
			for _, e := range events {
				if e.Type == "password.rehashed" {
					rehashed++
					if u, _ := store.GetUser(t.Context(), e.UserID); !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
						t.Errorf("user %d after login: hash %.20q…, want argon2id", u.ID, u.PasswordHash)
					}
				}
			}
			if rehashed != loggedIn {
				t.Errorf("audit log has %d password.rehashed events, want one per user logged in (%d)", rehashed, loggedIn)
			}
		})
	}
}

func accessUserID(t *testing.T, jwt string) int64 {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		UserID int64 `json:"user_id"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.UserID
}

func TestUsersImportErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no-source", nil, "exactly one of --from-django DSN or --fixture FILE"},
		{"two-sources", []string{"--from-django", "x", "--fixture", "y"}, "exactly one of"},
		{"unreachable", []string{"--from-django", "postgres://django:hunter2@127.0.0.1:1/app?connect_timeout=2"}, "cannot reach the Django database postgres://django:xxxxx@127.0.0.1:1/app"},
		{"not-django", []string{"--from-django", "configs"}, "neither a postgres:// URL nor a SQLite database"},
		{"wrong-table", []string{"--from-django", djangotest.SQLitePath(), "--table", "auth_group"}, "missing columns password"},
		{"bad-policy", []string{"--fixture", djangotest.DumpdataPath(), "--on-conflict", "keep-all"}, `--on-conflict "keep-all"`},
		{"missing-fixture", []string{"--fixture", "nope.json"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sandbox(t)
			if tt.name == "not-django" {
				tt.args[1] = dir // a directory
			}
			r := idp(t, nil, importArgs(tt.args)...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) || strings.Contains(r.all(), "hunter2") {
				t.Fatalf("got %v\n%s; want an error containing %q (and no password)", r.err, r.all(), tt.want)
			}
		})
	}
}

func TestUsersImportExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{importArgs([]string{"--fixture", djangotest.DumpdataPath()}, "--dry-run"), exitBlocked},
		{importArgs([]string{"--fixture", djangotest.DumpdataPath()}), exitBlocked},
		{importArgs([]string{"--fixture", djangotest.DumpdataPath()}, resolveFlags...), 0},
		{importArgs([]string{"--fixture", "missing.json"}), 1},
	} {
		t.Run(fmt.Sprint(tc.args[2:]), func(t *testing.T) {
			migratedSandbox(t)
			cmd := binary(t, tc.args...)
			out, err := cmd.CombinedOutput()
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit %d, want %d:\n%s", got, tc.code, out)
			}
		})
	}
}
