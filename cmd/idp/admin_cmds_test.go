package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// CLI parity with the admin API: users get|update|list --query, sessions
// list|revoke, audit list.
func TestAdminParityCommands(t *testing.T) {
	migratedSandbox(t)
	createUser(t, goodPassword, "--email", "carol@example.com", "--name", "Carol").mustSucceed(t)
	createUser(t, goodPassword, "--email", "dave@example.com", "--name", "Dave Staff", "--staff").mustSucceed(t)

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string // substring of stdout (ok) or of the error
	}{
		{"get-by-email", []string{"users", "get", "CAROL@example.com"}, true, "carol@example.com"},
		{"get-unknown", []string{"users", "get", "nobody@example.com"}, false, "not found"},
		{"list-query", []string{"users", "list", "--query", "dav"}, true, "dave@example.com"},
		{"list-staff", []string{"users", "list", "--staff=false", "--json"}, true, `"carol@example.com"`},
		{"update-bad-email", []string{"users", "update", "carol@example.com", "--email", "nope"}, false, "email"},
		{"update-taken", []string{"users", "update", "carol@example.com", "--email", "DAVE@example.com"}, false, "already exists"},
		{"update", []string{"users", "update", "carol@example.com", "--name", "Caroline", "--active=false", "--json"}, true, `"is_active": false`},
		{"sessions-list", []string{"sessions", "list", "carol@example.com", "--json"}, true, "[]"},
		{"sessions-revoke-unknown", []string{"sessions", "revoke", "nope"}, false, "not found"},
		{"sessions-revoke-all", []string{"sessions", "revoke", "--all", "carol@example.com"}, true, "ended 0 sessions"},
		{"audit-bad-time", []string{"audit", "list", "--since", "yesterday"}, false, "RFC 3339"},
		{"audit", []string{"audit", "list", "--type", "user.updated"}, true, `is_active: true -> false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := idp(t, nil, tc.args...)
			if tc.ok {
				r.mustSucceed(t)
				if !strings.Contains(r.stdout, tc.want) {
					t.Fatalf("stdout lacks %q:\n%s", tc.want, r.stdout)
				}
				return
			}
			if r.err == nil || !strings.Contains(r.all(), tc.want) {
				t.Fatalf("want an error with %q, got %v:\n%s", tc.want, r.err, r.all())
			}
		})
	}
	t.Run("list-query-excludes", func(t *testing.T) {
		r := idp(t, nil, "users", "list", "--query", "dav", "--json").mustSucceed(t)
		var rows []struct{ Email string }
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0].Email != "dave@example.com" {
			t.Fatalf("list --query dav: %v %s", err, r.stdout)
		}
	})
}
