package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// grantConsent gives u a remembered consent to clientID and ties u's
// first live session (a refresh family) to it, as an authorization code
// redemption would; it returns that family's id.
func (a *adminEnv) grantConsent(t *testing.T, u storage.User, clientID string, scopes ...string) string {
	t.Helper()
	ctx := context.Background()
	ss, err := a.srv.Tokens.Sessions(ctx, u.ID, "")
	if err != nil || len(ss) == 0 {
		t.Fatalf("sessions of %s: %v %v", u.Email, ss, err)
	}
	now := a.clock.Now()
	if err := a.store.PutConsent(ctx, storage.Consent{UserID: u.ID, ClientID: clientID, Scopes: scopes, GrantedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateGrantLink(ctx, storage.GrantLink{FamilyID: ss[0].ID, BrowserSessionID: "sid-" + clientID,
		ClientID: clientID, UserID: u.ID, AuthTime: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return ss[0].ID
}

func TestAdminConsentsAPI(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		a := newAdminEnv(t, store)
		bob, root := fmt.Sprint(a.bob.ID), fmt.Sprint(a.root.ID)
		family := a.grantConsent(t, a.bob, "app1", "openid", "email")
		a.grantConsent(t, a.root, "app1", "openid")
		for _, tc := range []struct {
			name, method, path, tok string
			status                  int
			want                    string // substring of the body
		}{
			{"consents/auth-none", "GET", "/admin/api/users/" + bob + "/consents", "", 401, `"not_authenticated"`},
			{"consents/auth-bad-token", "GET", "/admin/api/users/" + bob + "/consents", "x.y.z", 401, `"token_not_valid"`},
			{"consents/not-staff", "GET", "/admin/api/users/" + bob + "/consents", a.bobTok, 403, `"permission_denied"`},
			{"consents/list", "GET", "/admin/api/users/" + bob + "/consents", a.staffTok, 200, `{"items":[{"client_id":"app1","scopes":["openid","email"],"granted":"`},
			{"consents/list-none", "GET", fmt.Sprint("/admin/api/users/", a.staff.ID, "/consents"), a.staffTok, 200, `{"items":[]}`},
			{"consents/list-unknown-user", "GET", "/admin/api/users/99999/consents", a.staffTok, 404, `"not_found"`},
			// A malformed id answers as GET /admin/api/users/abc does.
			{"consents/list-malformed-id", "GET", "/admin/api/users/abc/consents", a.staffTok, 404, `"not_found"`},
			{"withdraw/auth-none", "DELETE", "/admin/api/users/" + bob + "/consents/app1", "", 401, `"not_authenticated"`},
			{"withdraw/not-staff", "DELETE", "/admin/api/users/" + bob + "/consents/app1", a.bobTok, 403, `"permission_denied"`},
			{"withdraw/superuser-by-staff", "DELETE", "/admin/api/users/" + root + "/consents/app1", a.staffTok, 403, `"permission_denied"`},
			{"withdraw/unknown-client", "DELETE", "/admin/api/users/" + bob + "/consents/nope", a.staffTok, 404, `"not_found"`},
			{"withdraw/unknown-user", "DELETE", "/admin/api/users/99999/consents/app1", a.staffTok, 404, `"not_found"`},
			{"withdraw/malformed-id", "DELETE", "/admin/api/users/x1/consents/app1", a.staffTok, 404, `"not_found"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var hs []string
				if tc.tok != "" {
					hs = append(hs, bearer(tc.tok))
				}
				r := a.do(tc.method, tc.path, "", hs...)
				if r.status != tc.status || !strings.Contains(r.body, tc.want) {
					t.Fatalf("%s %s = %d %s; want %d with %s", tc.method, tc.path, r.status, r.body, tc.status, tc.want)
				}
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			})
		}
		ctx := context.Background()
		if _, err := a.store.GetConsent(ctx, a.bob.ID, "app1"); err != nil {
			t.Fatalf("a refused request withdrew bob's consent: %v", err)
		}
		if _, err := a.store.GetConsent(ctx, a.root.ID, "app1"); err != nil {
			t.Fatalf("a refused request withdrew root's consent: %v", err)
		}

		t.Run("withdraw/ends-family-and-audits", func(t *testing.T) {
			if r := a.do("DELETE", "/admin/api/users/"+bob+"/consents/app1", "", bearer(a.staffTok)); r.status != http.StatusNoContent || r.body != "" {
				t.Fatalf("withdraw: %d %s", r.status, r.body)
			}
			if r := a.do("GET", "/admin/api/users/"+bob+"/consents", "", bearer(a.staffTok)); strings.TrimSpace(r.body) != `{"items":[]}` {
				t.Fatalf("consents after withdrawal: %s", r.body)
			}
			f, err := a.store.GetFamily(ctx, family)
			if err != nil || f.RevokedAt.IsZero() {
				t.Fatalf("family %s after withdrawal: %+v %v", family, f, err)
			}
			if r := a.post("/api/token/refresh/", `{"refresh":"`+a.bobR+`"}`); r.status != http.StatusUnauthorized {
				t.Fatalf("refresh after withdrawal: %d %s", r.status, r.body)
			}
			if r := a.do("DELETE", "/admin/api/users/"+bob+"/consents/app1", "", bearer(a.staffTok)); r.status != http.StatusNotFound {
				t.Fatalf("withdraw again: %d %s", r.status, r.body)
			}
			r := a.do("GET", "/admin/api/audit?user_id="+bob+"&type=admin.consent.withdrawn", "", bearer(a.staffTok))
			want := fmt.Sprintf(`"actor":{"id":%d,"email":"staff@example.com"},"target":{"type":"user","id":%s,"email":"bob@example.com"}`, a.staff.ID, bob)
			if r.status != 200 || strings.Count(r.body, `"type":"admin.consent.withdrawn"`) != 1 || !strings.Contains(r.body, want) ||
				!strings.Contains(r.body, "client app1") {
				t.Fatalf("audit: %d %s\nwant %s", r.status, r.body, want)
			}
		})
		t.Run("withdraw/superuser-may", func(t *testing.T) {
			if r := a.do("DELETE", "/admin/api/users/"+root+"/consents/app1", "", bearer(a.rootTok)); r.status != http.StatusNoContent {
				t.Fatalf("withdraw: %d %s", r.status, r.body)
			}
		})
	})
}

func TestAdminConsentsConsole(t *testing.T) {
	a := newAdminEnv(t, storagetest.SQLite(t))
	family := a.grantConsent(t, a.bob, "app1", "openid", "email")
	a.clock.Advance(time.Second)
	a.grantConsent(t, a.staff, "app2", "openid") // someone else's: untouched
	b := newConsole(t, a.env)
	if st, _ := b.login("staff@example.com", adminPassword); st != http.StatusSeeOther {
		t.Fatalf("staff login: %d", st)
	}
	userPage := fmt.Sprint("/admin/users/", a.bob.ID)
	st, _, page := b.get(userPage)
	action := fmt.Sprintf(`action="/admin/users/%d/consents/app1/withdraw"`, a.bob.ID)
	if st != 200 || !strings.Contains(page, "<h2>Consents</h2>") || !strings.Contains(page, action) || !strings.Contains(page, "openid email") {
		t.Fatalf("user page %d:\n%s", st, page)
	}
	path := fmt.Sprintf("/admin/users/%d/consents/app1/withdraw", a.bob.ID)

	t.Run("without-csrf", func(t *testing.T) {
		if st, _, _ := b.post(path, url.Values{}); st != http.StatusForbidden {
			t.Fatalf("withdraw without csrf_token: %d", st)
		}
		if st, _, _ := b.post(path, url.Values{"csrf_token": {"forged"}}); st != http.StatusForbidden {
			t.Fatalf("withdraw with a bad csrf_token: %d", st)
		}
		if _, err := a.store.GetConsent(context.Background(), a.bob.ID, "app1"); err != nil {
			t.Fatalf("a refused POST withdrew the consent: %v", err)
		}
	})
	t.Run("withdraw", func(t *testing.T) {
		st, h, _ := b.post(path, url.Values{"csrf_token": {csrfOf(t, page)}})
		if st != http.StatusSeeOther || h.Get("Location") != userPage+"?status=consent-withdrawn" {
			t.Fatalf("withdraw: %d %s", st, h.Get("Location"))
		}
		_, _, after := b.get(h.Get("Location"))
		if !strings.Contains(after, "Consent withdrawn") || !strings.Contains(after, "No remembered consents.") {
			t.Fatalf("page after withdrawal:\n%s", after)
		}
		if f, err := a.store.GetFamily(context.Background(), family); err != nil || f.RevokedAt.IsZero() {
			t.Fatalf("family after withdrawal: %+v %v", f, err)
		}
		if _, err := a.store.GetConsent(context.Background(), a.staff.ID, "app2"); err != nil {
			t.Fatalf("another user's consent went too: %v", err)
		}
	})
	t.Run("withdraw-none", func(t *testing.T) {
		st, _, body := b.post(path, url.Values{"csrf_token": {csrfOf(t, page)}})
		if st != http.StatusNotFound || !strings.Contains(body, "<html") {
			t.Fatalf("withdraw again: %d\n%s", st, body)
		}
	})
}
