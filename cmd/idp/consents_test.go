package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// `idp users consents` and `idp users withdraw-consent`: CLI parity with
// GET/DELETE /admin/api/users/{id}/consents.
func TestUserConsentCommands(t *testing.T) {
	s := cliStore(t, "sqlite")
	ctx := context.Background()
	alice, bob := adminSetup(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []storage.Consent{
		{UserID: alice.ID, ClientID: "app1", Scopes: []string{"openid", "email"}, GrantedAt: now},
		{UserID: bob.ID, ClientID: "app1", Scopes: []string{"openid"}, GrantedAt: now},
	} {
		if err := s.PutConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []storage.GrantLink{
		{FamilyID: "alice-1", BrowserSessionID: "sid-a", ClientID: "app1", UserID: alice.ID, AuthTime: now, CreatedAt: now},
		{FamilyID: "bob-1", BrowserSessionID: "sid-b", ClientID: "app1", UserID: bob.ID, AuthTime: now, CreatedAt: now},
	} {
		if err := s.CreateGrantLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string // substring of stdout (ok) or of the error
	}{
		{"list-table", []string{"users", "consents", "ALICE@example.com"}, true, "app1    " + now.Format(time.RFC3339) + "  openid email"},
		{"list-by-id", []string{"users", "consents", fmt.Sprint(alice.ID), "--json"}, true, `"client_id": "app1"`},
		{"list-unknown-user", []string{"users", "consents", "nobody@example.com"}, false, "not found"},
		{"list-args", []string{"users", "consents"}, false, "accepts 1 arg"},
		{"withdraw-unknown-client", []string{"users", "withdraw-consent", "alice@example.com", "nope"}, false, `no consent to client "nope"`},
		{"withdraw-unknown-user", []string{"users", "withdraw-consent", "nobody@example.com", "app1"}, false, "not found"},
		{"withdraw", []string{"users", "withdraw-consent", "alice@example.com", "app1"}, true, "withdrew consent of alice@example.com to app1; ended 1 sessions\n"},
		{"withdraw-again", []string{"users", "withdraw-consent", "alice@example.com", "app1"}, false, "no consent"},
		{"list-after", []string{"users", "consents", "alice@example.com", "--json"}, true, "[]"},
		{"withdraw-json", []string{"users", "withdraw-consent", fmt.Sprint(bob.ID), "app1", "--json"}, true, `"revoked_sessions": 1`},
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
	t.Run("families-ended-and-audited", func(t *testing.T) {
		for _, id := range []string{"alice-1", "bob-1"} {
			if f, err := s.GetFamily(ctx, id); err != nil || f.RevokedAt.IsZero() {
				t.Errorf("family %s after withdrawal: %+v %v", id, f, err)
			}
		}
		if f, err := s.GetFamily(ctx, "alice-2"); err != nil || !f.RevokedAt.IsZero() {
			t.Errorf("alice-2 (not issued under the consent) ended: %+v %v", f, err)
		}
		ev, err := s.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for _, e := range ev {
			if e.Type == "admin.consent.withdrawn" && e.UserID == alice.ID && e.TargetID == fmt.Sprint(alice.ID) && strings.Contains(e.Detail, "client app1") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("admin.consent.withdrawn events of alice = %d, want 1", n)
		}
	})
}
