package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/users"
)

const goodPassword = "correct-Horse-battery-9"

// listedUser is one element of `users list --json`.
type listedUser struct {
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

// listUsers runs `users list --json`, checking that the output is exactly
// a JSON array of user objects with every documented member.
func listUsers(t *testing.T) []listedUser {
	t.Helper()
	r := idp(t, nil, "users", "list", "--json").mustSucceed(t)
	var raw []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("users list --json is not a JSON array of objects: %v\n%s", err, r.stdout)
	}
	for i, u := range raw {
		for _, k := range []string{"id", "email", "name", "is_active", "is_staff", "is_superuser", "is_admin", "date_joined", "last_login"} {
			if _, ok := u[k]; !ok {
				t.Errorf("user #%d lacks %q: %v", i, k, u)
			}
		}
	}
	var out []listedUser
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("users list --json: %v", err)
	}
	return out
}

func createUser(t *testing.T, password string, args ...string) result {
	t.Helper()
	return idp(t, strings.NewReader(password+"\n"), append([]string{"users", "create", "--password-stdin"}, args...)...)
}

func TestUsersCreate(t *testing.T) {
	type want struct {
		out    *regexp.Regexp // stdout on success
		errHas []string       // substrings of the error on failure
		user   *listedUser    // the row created (ID and dates ignored)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  want
	}{
		{
			name:  "plain",
			stdin: goodPassword + "\n",
			args:  []string{"--email", "Alice@Example.COM", "--name", "Alice"},
			want: want{
				out:  regexp.MustCompile(`^created user \d+ <Alice@example\.com>\n$`),
				user: &listedUser{Email: "Alice@example.com", Name: "Alice", IsActive: true},
			},
		},
		{
			name:  "crlf-line-ending-is-not-part-of-the-password",
			stdin: goodPassword + "\r\n",
			args:  []string{"--email", "crlf@example.com", "--name", "Crlf"},
			want: want{
				out:  regexp.MustCompile(`^created user \d+ <crlf@example\.com>\n$`),
				user: &listedUser{Email: "crlf@example.com", Name: "Crlf", IsActive: true},
			},
		},
		{
			name:  "flags-land-in-the-row",
			stdin: goodPassword + "\n",
			args:  []string{"--email", "ops@example.com", "--name", "Ops", "--staff", "--admin", "--inactive"},
			want: want{
				out:  regexp.MustCompile(`^created user \d+ <ops@example\.com> \(staff, admin, inactive\)\n$`),
				user: &listedUser{Email: "ops@example.com", Name: "Ops", IsStaff: true, IsAdmin: true},
			},
		},
		{
			name:  "policy-failure-lists-every-field-error",
			stdin: "1234\n",
			args:  []string{"--email", "not-an-email", "--name", "Weak"},
			want: want{errHas: []string{
				"user not created:",
				"  email: Enter a valid email address.",
				"  password: This password is too short. It must contain at least 8 characters.",
				"  password: This password is too common.",
				"  password: This password is entirely numeric.",
			}},
		},
		{
			name:  "missing-email",
			stdin: goodPassword + "\n",
			args:  []string{"--name", "Nobody"},
			want:  want{errHas: []string{`required flag(s) "email" not set`}},
		},
		{
			name:  "empty-email",
			stdin: goodPassword + "\n",
			args:  []string{"--email", " ", "--name", "Nobody"},
			want:  want{errHas: []string{"--email is empty"}},
		},
		{
			name:  "empty-stdin-is-a-blank-password",
			stdin: "",
			args:  []string{"--email", "blank@example.com", "--name", "Blank"},
			want:  want{errHas: []string{"  password: This field may not be blank."}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			migratedSandbox(t)
			r := idp(t, strings.NewReader(tc.stdin), append([]string{"users", "create", "--password-stdin"}, tc.args...)...)
			got := listUsers(t)
			if tc.want.errHas != nil {
				if r.err == nil {
					t.Fatalf("succeeded: %q", r.stdout)
				}
				for _, w := range tc.want.errHas {
					if !strings.Contains(r.err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, r.err)
					}
				}
				if len(got) != 0 {
					t.Errorf("a refused create left users behind: %+v", got)
				}
				return
			}
			r.mustSucceed(t)
			if !tc.want.out.MatchString(r.stdout) {
				t.Errorf("stdout %q does not match %s", r.stdout, tc.want.out)
			}
			if len(got) != 1 {
				t.Fatalf("want one user, got %+v", got)
			}
			u, w := got[0], *tc.want.user
			w.ID, w.DateJoined = u.ID, u.DateJoined
			if u.LastLogin != nil || u != w {
				t.Errorf("row %+v, want %+v", u, w)
			}
			if u.DateJoined.IsZero() || time.Since(u.DateJoined) > time.Hour {
				t.Errorf("date_joined %v", u.DateJoined)
			}
			if strings.Contains(r.all(), goodPassword) {
				t.Errorf("the password was echoed:\n%s", r.all())
			}
		})
	}
}

func TestUsersCreateDuplicateEmailInOtherCase(t *testing.T) {
	migratedSandbox(t)
	createUser(t, goodPassword, "--email", "bob@example.com", "--name", "Bob").mustSucceed(t)
	r := createUser(t, goodPassword, "--email", "BOB@EXAMPLE.COM", "--name", "Bob again")
	if r.err == nil || !strings.Contains(r.err.Error(), "email: "+users.MsgEmailTaken) {
		t.Fatalf("duplicate in other case: err %v, want %q", r.err, users.MsgEmailTaken)
	}
	if got := listUsers(t); len(got) != 1 || got[0].Name != "Bob" {
		t.Errorf("users after the refused duplicate: %+v", got)
	}
}

func TestUsersCreateNeedsTerminalOrPasswordStdin(t *testing.T) {
	// A regular file is an *os.File but not a terminal.
	file := func(t *testing.T) *os.File {
		p := filepath.Join(t.TempDir(), "stdin")
		if err := os.WriteFile(p, []byte(goodPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	cases := []struct {
		name  string
		stdin func(t *testing.T) io.Reader
	}{
		{"reader", func(*testing.T) io.Reader { return strings.NewReader(goodPassword + "\n") }},
		{"regular-file", func(t *testing.T) io.Reader { return file(t) }},
	}
	for _, cmd := range []string{"create", "createsuperuser"} {
		for _, tc := range cases {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				migratedSandbox(t)
				r := idp(t, tc.stdin(t), "users", cmd, "--email", "t@example.com", "--name", "T")
				if r.err == nil || !strings.Contains(r.err.Error(), "not a terminal") || !strings.Contains(r.err.Error(), "--password-stdin") {
					t.Fatalf("err %v, want one saying stdin is not a terminal and naming --password-stdin", r.err)
				}
				if got := listUsers(t); len(got) != 0 {
					t.Errorf("users created: %+v", got)
				}
			})
		}
	}
}

func TestUsersCreateSuperuser(t *testing.T) {
	migratedSandbox(t)
	r := idp(t, strings.NewReader(goodPassword+"\n"), "users", "createsuperuser", "--password-stdin", "--email", "root@Example.com", "--name", "Root").mustSucceed(t)
	if !regexp.MustCompile(`^created user \d+ <root@example\.com> \(staff, superuser\)\n$`).MatchString(r.stdout) {
		t.Errorf("stdout %q", r.stdout)
	}
	got := listUsers(t)
	if len(got) != 1 {
		t.Fatalf("users: %+v", got)
	}
	if u := got[0]; !u.IsStaff || !u.IsSuperuser || !u.IsActive || u.IsAdmin || u.Email != "root@example.com" {
		t.Errorf("superuser row %+v: want staff, superuser, active, not admin", u)
	}
	// createsuperuser has no flags to create a lesser account.
	for _, f := range []string{"--staff", "--admin", "--inactive"} {
		r := idp(t, strings.NewReader(goodPassword+"\n"), "users", "createsuperuser", "--password-stdin", "--email", "x@example.com", "--name", "X", f)
		if r.err == nil || !strings.Contains(r.err.Error(), "unknown flag") {
			t.Errorf("createsuperuser %s: err %v, want unknown flag", f, r.err)
		}
	}
}

func TestUsersList(t *testing.T) {
	migratedSandbox(t)
	createUser(t, goodPassword, "--email", "carol@example.com", "--name", "Carol").mustSucceed(t)
	createUser(t, goodPassword, "--email", "dave@example.com", "--name", "Dave Staff", "--staff").mustSucceed(t)

	t.Run("json", func(t *testing.T) {
		got := listUsers(t)
		if len(got) != 2 {
			t.Fatalf("users: %+v", got)
		}
		if got[0].ID >= got[1].ID {
			t.Errorf("not in id order: %d, %d", got[0].ID, got[1].ID)
		}
		for i, w := range []struct {
			email string
			staff bool
		}{{"carol@example.com", false}, {"dave@example.com", true}} {
			u := got[i]
			if u.Email != w.email || u.IsStaff != w.staff || !u.IsActive || u.LastLogin != nil || u.DateJoined.IsZero() {
				t.Errorf("user #%d: %+v (want %s, staff %t, active, never logged in)", i, u, w.email, w.staff)
			}
		}
		r := idp(t, nil, "users", "list", "--json").mustSucceed(t)
		if strings.Count(r.stdout, `"last_login": null`) != 2 {
			t.Errorf("last_login must be null before any login:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "password") || strings.Contains(r.stdout, "$argon2") {
			t.Errorf("list reveals password material:\n%s", r.stdout)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := idp(t, nil, "users", "list").mustSucceed(t)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows:\n%s", r.stdout)
		}
		if f := strings.Fields(lines[0]); strings.Join(f, " ") != "ID EMAIL NAME ACTIVE STAFF SUPERUSER ADMIN JOINED LAST LOGIN" {
			t.Errorf("header %q", lines[0])
		}
		for i, w := range [][]string{
			{"carol@example.com", "Carol", "true", "false", "false", "false", "never"},
			{"dave@example.com", "Dave Staff", "true", "true", "false", "false", "never"},
		} {
			line := lines[i+1]
			pos := 0
			for _, cell := range w {
				j := strings.Index(line[pos:], cell)
				if j < 0 {
					t.Errorf("row %d %q lacks %q (in order)", i, line, cell)
					break
				}
				pos += j + len(cell)
			}
			// Columns align: every row's EMAIL starts where the header's does.
			if strings.Index(line, w[0]) != strings.Index(lines[0], "EMAIL") {
				t.Errorf("row %d not aligned with the header:\n%s\n%s", i, lines[0], line)
			}
		}
		if strings.Contains(r.stdout, "$argon2") {
			t.Errorf("list reveals password hashes:\n%s", r.stdout)
		}
	})
}

// TestUsersListPages crosses the 500-user page boundary of `users list`.
func TestUsersListPages(t *testing.T) {
	for _, n := range []int{500, 501} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := sandbox(t)
			path := filepath.Join(dir, "data", "idp.db")
			store := storagetest.OpenSQLite(t, path)
			now := time.Now().UTC().Truncate(time.Second)
			for i := range n {
				u := storage.User{Email: fmt.Sprintf("u%04d@example.com", i), Name: "U", PasswordHash: "!unusable",
					IsActive: true, DateJoined: now, PasswordChangedAt: now}
				if _, err := store.CreateUser(t.Context(), u); err != nil {
					t.Fatal(err)
				}
			}
			got := listUsers(t)
			if len(got) != n {
				t.Fatalf("users list --json: %d users, want %d", len(got), n)
			}
			for i, u := range got {
				if want := fmt.Sprintf("u%04d@example.com", i); u.Email != want {
					t.Fatalf("user #%d is %s, want %s", i, u.Email, want)
				}
			}
			r := idp(t, nil, "users", "list").mustSucceed(t)
			if lines := strings.Count(r.stdout, "\n"); lines != n+1 {
				t.Errorf("table has %d lines, want a header and %d rows", lines, n)
			}
		})
	}
}
