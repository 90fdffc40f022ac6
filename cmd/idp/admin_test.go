package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// `idp users set-password|deactivate|activate|delete`: each ends every
// session of the user (and only that user's), and is audited.

// adminSetup creates alice (two live sessions) and bob (one) through the
// CLI and the store.
func adminSetup(t *testing.T, s storage.Store) (alice, bob storage.User) {
	t.Helper()
	ctx := context.Background()
	createUser(t, goodPassword, "--email", "alice@example.com", "--name", "Alice").mustSucceed(t)
	createUser(t, goodPassword, "--email", "bob@example.com", "--name", "Bob").mustSucceed(t)
	var err error
	if alice, err = s.GetUserByEmail(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if bob, err = s.GetUserByEmail(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, f := range []storage.Family{
		family("alice-1", alice, now.Add(-time.Hour), now.Add(-time.Minute), now.Add(24*time.Hour), time.Time{}),
		family("alice-2", alice, now.Add(-time.Hour), now.Add(-time.Minute), now.Add(24*time.Hour), time.Time{}),
		family("bob-1", bob, now.Add(-time.Hour), now.Add(-time.Minute), now.Add(24*time.Hour), time.Time{}),
	} {
		if err := s.CreateFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	return alice, bob
}

func auditTypes(t *testing.T, s storage.Store, userID int64) []string {
	t.Helper()
	ev, err := s.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range ev {
		if e.UserID == userID {
			types = append(types, e.Type)
		}
	}
	return types
}

func TestUserAdminEndsSessions(t *testing.T) {
	const newPassword = "a-New-passphrase-42"
	cases := []struct {
		name  string
		args  func(alice storage.User) []string
		stdin string
		// out is a regexp of stdout
		out string
		// reason is the revoke reason of alice's sessions; "" means they
		// are gone (deleted with her).
		reason string
		events []string
		check  func(t *testing.T, s storage.Store, before, after storage.User)
	}{
		{
			name: "set-password-by-email",
			args: func(storage.User) []string {
				return []string{"users", "set-password", "--password-stdin", "ALICE@example.com"}
			},
			stdin:  newPassword + "\n",
			out:    `^user \d+ <alice@example\.com>: password changed; sessions revoked\n$`,
			reason: "password_changed",
			events: []string{"password.changed", "family.revoked"},
			check: func(t *testing.T, s storage.Store, before, after storage.User) {
				if after.PasswordHash == before.PasswordHash || !strings.HasPrefix(after.PasswordHash, "$argon2id$") {
					t.Errorf("hash not replaced by an argon2id hash")
				}
				if !after.PasswordChangedAt.After(before.PasswordChangedAt) {
					t.Errorf("password_changed_at %v not after %v", after.PasswordChangedAt, before.PasswordChangedAt)
				}
			},
		},
		{
			name: "set-password-by-id",
			args: func(a storage.User) []string {
				return []string{"users", "set-password", "--password-stdin", fmt.Sprint(a.ID)}
			},
			stdin:  newPassword + "\r\n",
			out:    `^user \d+ <alice@example\.com>: password changed; sessions revoked\n$`,
			reason: "password_changed",
			events: []string{"password.changed", "family.revoked"},
		},
		{
			name:   "deactivate",
			args:   func(storage.User) []string { return []string{"users", "deactivate", "alice@example.com"} },
			out:    `^user \d+ <alice@example\.com>: deactivated; sessions revoked\n$`,
			reason: "user_deactivated",
			events: []string{"user.deactivated", "family.revoked"},
			check: func(t *testing.T, s storage.Store, before, after storage.User) {
				if after.IsActive {
					t.Error("still active")
				}
			},
		},
		{
			name:   "delete",
			args:   func(a storage.User) []string { return []string{"users", "delete", "--yes", fmt.Sprint(a.ID)} },
			out:    `^user \d+ <alice@example\.com>: deleted\n$`,
			reason: "",
			events: []string{"user.deleted"},
		},
	}
	for _, backend := range backends {
		for _, tc := range cases {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				s := cliStore(t, backend)
				ctx := context.Background()
				alice, bob := adminSetup(t, s)
				r := idp(t, strings.NewReader(tc.stdin), tc.args(alice)...).mustSucceed(t)
				if !regexp.MustCompile(tc.out).MatchString(r.stdout) {
					t.Errorf("stdout %q does not match %s", r.stdout, tc.out)
				}
				if tc.stdin != "" && strings.Contains(r.all(), strings.TrimSpace(tc.stdin)) {
					t.Errorf("the password was echoed:\n%s", r.all())
				}
				for _, id := range []string{"alice-1", "alice-2"} {
					f, err := s.GetFamily(ctx, id)
					switch {
					case tc.reason == "" && !errors.Is(err, storage.ErrNotFound):
						t.Errorf("%s: still stored after the user's deletion (%v)", id, err)
					case tc.reason != "" && (err != nil || f.RevokedAt.IsZero() || f.RevokeReason != tc.reason):
						t.Errorf("%s: %+v, %v; want revoked for %s", id, f, err, tc.reason)
					}
				}
				if f, err := s.GetFamily(ctx, "bob-1"); err != nil || !f.RevokedAt.IsZero() {
					t.Errorf("bob's session: %+v, %v", f, err)
				}
				if got := auditTypes(t, s, alice.ID); !slices.Equal(got, tc.events) {
					t.Errorf("audit events %v, want %v", got, tc.events)
				}
				if got := auditTypes(t, s, bob.ID); len(got) != 0 {
					t.Errorf("bob's audit events %v", got)
				}
				after, err := s.GetUser(ctx, alice.ID)
				if tc.reason == "" {
					if !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("user after delete: %+v, %v", after, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, s, alice, after)
				}
			})
		}
	}
}

// TestUserActivate: reactivation lets the user log in again but does not
// bring its revoked sessions back.
func TestUserActivate(t *testing.T) {
	s := cliStore(t, "sqlite")
	ctx := context.Background()
	alice, _ := adminSetup(t, s)
	idp(t, nil, "users", "deactivate", "alice@example.com").mustSucceed(t)
	r := idp(t, nil, "users", "activate", "alice@example.com").mustSucceed(t)
	if r.stdout != fmt.Sprintf("user %d <alice@example.com>: activated\n", alice.ID) {
		t.Errorf("stdout %q", r.stdout)
	}
	if u, err := s.GetUser(ctx, alice.ID); err != nil || !u.IsActive {
		t.Errorf("user %+v, %v", u, err)
	}
	for _, id := range []string{"alice-1", "alice-2"} {
		if f, err := s.GetFamily(ctx, id); err != nil || f.RevokedAt.IsZero() {
			t.Errorf("%s: %+v, %v; want still revoked", id, f, err)
		}
	}
	if got := auditTypes(t, s, alice.ID); !slices.Equal(got, []string{"user.deactivated", "family.revoked", "user.activated"}) {
		t.Errorf("audit %v", got)
	}
}

func TestUserAdminRefuses(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stdin  string
		errHas []string
	}{
		{"unknown-email", []string{"users", "deactivate", "nobody@example.com"}, "", []string{"no user nobody@example.com"}},
		{"unknown-id", []string{"users", "delete", "999999"}, "", []string{"no user 999999"}},
		{"weak-password", []string{"users", "set-password", "--password-stdin", "alice@example.com"}, "1234\n",
			[]string{"refused:", "  password: This password is too short. It must contain at least 8 characters.", "  password: This password is entirely numeric."}},
		{"password-like-email", []string{"users", "set-password", "--password-stdin", "alice@example.com"}, "alice@example.com\n",
			[]string{"refused:", "  password: The password is too similar to the email."}},
		{"blank-password", []string{"users", "set-password", "--password-stdin", "alice@example.com"}, "", []string{"refused:", "  password: This field may not be blank."}},
		{"set-password-needs-a-terminal", []string{"users", "set-password", "alice@example.com"}, "x\n", []string{"not a terminal", "--password-stdin"}},
		{"no-argument", []string{"users", "deactivate"}, "", []string{"accepts 1 arg"}},
		{"delete-unconfirmed", []string{"users", "delete", "alice@example.com"}, "yes\n", []string{"not confirmed", "pass --yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cliStore(t, "sqlite")
			ctx := context.Background()
			alice, _ := adminSetup(t, s)
			r := idp(t, strings.NewReader(tc.stdin), tc.args...)
			if r.err == nil {
				t.Fatalf("succeeded: %q", r.stdout)
			}
			for _, w := range tc.errHas {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, r.err)
				}
			}
			// Nothing changed.
			after, err := s.GetUser(ctx, alice.ID)
			if err != nil || after.PasswordHash != alice.PasswordHash || !after.IsActive {
				t.Errorf("alice changed: %+v, %v", after, err)
			}
			for _, id := range []string{"alice-1", "alice-2", "bob-1"} {
				if f, err := s.GetFamily(ctx, id); err != nil || !f.RevokedAt.IsZero() {
					t.Errorf("%s: %+v, %v", id, f, err)
				}
			}
			if got := auditTypes(t, s, alice.ID); len(got) != 0 {
				t.Errorf("audit events %v for a refused command", got)
			}
		})
	}
}
