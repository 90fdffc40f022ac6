package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/users"
)

const adminPassword = "correct horse battery staple"

// adminEnv is an idp with a superuser (root), a staff user and a plain
// user (bob), each logged in.
type adminEnv struct {
	*env
	root, staff, bob                storage.User
	rootTok, staffTok, bobTok, bobR string
}

func newAdminEnv(t *testing.T, store storage.Store) *adminEnv {
	t.Helper()
	e := newEnv(t, store)
	ctx := context.Background()
	yes := true
	root, err := e.srv.Users.CreateSuperuser(ctx, users.NewUser{Email: "root@example.com", Name: "Root", Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := e.srv.Users.CreateUser(ctx, users.NewUser{Email: "staff@example.com", Name: "Staff", Password: adminPassword, IsStaff: &yes})
	if err != nil {
		t.Fatal(err)
	}
	e.register("Bob", "bob@example.com", adminPassword)
	bob, err := e.srv.Users.Find(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	a := &adminEnv{env: e, root: root, staff: staff, bob: bob}
	a.rootTok, _ = e.login("root@example.com", adminPassword)
	a.staffTok, _ = e.login("staff@example.com", adminPassword)
	a.bobTok, a.bobR = e.login("bob@example.com", adminPassword)
	return a
}

func TestAdminAPI(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		a := newAdminEnv(t, store)
		bob := fmt.Sprint(a.bob.ID)
		for _, tc := range []struct {
			name, method, path, body, tok string
			status                        int
			want                          string // substring of the body
		}{
			{"auth/none", "GET", "/admin/api/users", "", "", 401, `"not_authenticated"`},
			{"auth/bad-token", "GET", "/admin/api/users", "", "x.y.z", 401, `"token_not_valid"`},
			{"auth/not-staff", "GET", "/admin/api/users", "", a.bobTok, 403, `"permission_denied"`},
			{"users/list", "GET", "/admin/api/users", "", a.staffTok, 200, `"email":"bob@example.com"`},
			{"users/q-prefix", "GET", "/admin/api/users?q=BO", "", a.staffTok, 200, `"next_cursor":null`},
			{"users/q-literal-percent", "GET", "/admin/api/users?q=%25", "", a.staffTok, 200, `{"items":[],"next_cursor":null}`},
			{"users/filter-staff", "GET", "/admin/api/users?is_staff=false", "", a.staffTok, 200, `"bob@example.com"`},
			{"users/bad-bool", "GET", "/admin/api/users?is_staff=yes", "", a.staffTok, 400, `"is_staff"`},
			{"users/limit-zero", "GET", "/admin/api/users?limit=0", "", a.staffTok, 400, `"limit"`},
			{"users/limit-oversized", "GET", "/admin/api/users?limit=201", "", a.staffTok, 400, `"limit"`},
			{"users/limit-not-int", "GET", "/admin/api/users?limit=ten", "", a.staffTok, 400, `"limit"`},
			{"users/bad-cursor", "GET", "/admin/api/users?cursor=!!!", "", a.staffTok, 400, `"cursor"`},
			{"users/foreign-cursor", "GET", "/admin/api/users?cursor=YToy", "", a.staffTok, 400, `"cursor"`},
			{"users/get", "GET", "/admin/api/users/" + bob, "", a.staffTok, 200, `"last_login":"`},
			{"users/get-unknown", "GET", "/admin/api/users/99999", "", a.staffTok, 404, `"not_found"`},
			{"users/get-malformed", "GET", "/admin/api/users/abc", "", a.staffTok, 404, `"not_found"`},
			{"users/patch-invalid-json", "PATCH", "/admin/api/users/" + bob, `{"name":`, a.staffTok, 400, `"parse_error"`},
			{"users/patch-unknown-field", "PATCH", "/admin/api/users/" + bob, `{"nickname":"b"}`, a.staffTok, 400, `"nickname":["Unknown field."]`},
			{"users/patch-wrong-type", "PATCH", "/admin/api/users/" + bob, `{"is_active":"no"}`, a.staffTok, 400, `"is_active"`},
			{"users/patch-null", "PATCH", "/admin/api/users/" + bob, `{"name":null}`, a.staffTok, 400, `"name"`},
			{"users/patch-bad-email", "PATCH", "/admin/api/users/" + bob, `{"email":"nope"}`, a.staffTok, 400, `"email"`},
			{"users/patch-email-taken", "PATCH", "/admin/api/users/" + bob, `{"email":"ROOT@example.com"}`, a.staffTok, 409, `"email_taken"`},
			{"users/patch-staff-by-staff", "PATCH", "/admin/api/users/" + bob, `{"is_staff":true}`, a.staffTok, 403, `"permission_denied"`},
			{"users/patch-superuser-by-staff", "PATCH", fmt.Sprint("/admin/api/users/", a.root.ID), `{"name":"x"}`, a.staffTok, 403, `"permission_denied"`},
			{"users/last-superuser", "PATCH", fmt.Sprint("/admin/api/users/", a.root.ID), `{"is_superuser":false}`, a.rootTok, 409, `"last_superuser"`},
			{"users/delete-by-staff", "DELETE", "/admin/api/users/" + bob, "", a.staffTok, 403, ``},
			{"users/delete-last-superuser", "DELETE", fmt.Sprint("/admin/api/users/", a.root.ID), "", a.rootTok, 409, `"last_superuser"`},
			{"users/create-staff-by-staff", "POST", "/admin/api/users", `{"name":"S","email":"s2@example.com","password":"` + adminPassword + `","is_staff":true}`, a.staffTok, 403, ``},
			{"users/create-weak", "POST", "/admin/api/users", `{"name":"C","email":"c@example.com","password":"123"}`, a.staffTok, 400, `"password"`},
			{"users/create-missing", "POST", "/admin/api/users", `{"name":"C"}`, a.staffTok, 400, `"email":["This field is required."]`},
			{"users/create", "POST", "/admin/api/users", `{"name":"Carol","email":"Carol@Example.com","password":"` + adminPassword + `"}`, a.staffTok, 201, `"email":"Carol@example.com"`},
			{"users/create-taken", "POST", "/admin/api/users", `{"name":"Carol","email":"carol@example.com","password":"` + adminPassword + `"}`, a.staffTok, 400, `"email"`},
			{"users/password-weak", "POST", "/admin/api/users/" + bob + "/password", `{"password":"bob@example.com"}`, a.staffTok, 400, `"password"`},
			{"sessions/list", "GET", "/admin/api/users/" + bob + "/sessions", "", a.staffTok, 200, `"user_agent"`},
			{"sessions/end-unknown", "DELETE", "/admin/api/sessions/nope", "", a.staffTok, 404, `"not_found"`},
			{"keys/list", "GET", "/admin/api/keys", "", a.staffTok, 200, `"use":"access"`},
			{"keys/rotate-by-staff", "POST", "/admin/api/keys/rotate", `{"use":"access"}`, a.staffTok, 403, ``},
			{"keys/rotate-bad-use", "POST", "/admin/api/keys/rotate", `{"use":"id"}`, a.rootTok, 400, `"use"`},
			{"keys/rotate-too-early", "POST", "/admin/api/keys/rotate", `{"use":"access"}`, a.rootTok, 409, `"rotation_unsafe"`},
			{"keys/revoke-unknown", "POST", "/admin/api/keys/nope/revoke", `{"reason":"test"}`, a.rootTok, 404, ``},
			{"keys/revoke-no-reason", "POST", "/admin/api/keys/nope/revoke", `{}`, a.rootTok, 400, `"reason"`},
			{"audit/bad-since", "GET", "/admin/api/audit?since=yesterday", "", a.staffTok, 400, `"since"`},
			{"audit/bad-user", "GET", "/admin/api/audit?user_id=x", "", a.staffTok, 400, `"user_id"`},
			{"clients/list", "GET", "/admin/api/clients", "", a.staffTok, 200, `{"items":[]}`},
			{"clients/create-by-staff", "POST", "/admin/api/clients", `{"name":"x","type":"public"}`, a.staffTok, 403, ``},
			{"clients/create-invalid", "POST", "/admin/api/clients", `{"name":"x","type":"weird"}`, a.rootTok, 400, `"type"`},
			{"clients/get-unknown", "GET", "/admin/api/clients/nope", "", a.staffTok, 404, ``},
			{"unknown-path", "GET", "/admin/api/nothing", "", a.staffTok, 404, ``},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var hs []string
				if tc.tok != "" {
					hs = append(hs, bearer(tc.tok))
				}
				r := a.do(tc.method, tc.path, tc.body, hs...)
				if r.status != tc.status || !strings.Contains(r.body, tc.want) {
					t.Fatalf("%s %s = %d %s; want %d with %s", tc.method, tc.path, r.status, r.body, tc.status, tc.want)
				}
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}
			})
		}
		if u, _ := a.srv.Users.Get(context.Background(), a.bob.ID); u.Name != "Bob" || u.Email != "bob@example.com" || u.IsStaff {
			t.Fatalf("a refused request changed bob: %+v", u)
		}

		t.Run("flow/deactivate-ends-sessions-and-logins", func(t *testing.T) {
			r := a.do("PATCH", "/admin/api/users/"+bob, `{"is_active":false,"name":"Robert"}`, bearer(a.staffTok))
			if r.status != 200 || !strings.Contains(r.body, `"is_active":false`) {
				t.Fatalf("deactivate: %d %s", r.status, r.body)
			}
			if r := a.post("/api/token/refresh/", `{"refresh":"`+a.bobR+`"}`); r.status != 401 {
				t.Fatalf("refresh after deactivation: %d %s", r.status, r.body)
			}
			if r := a.post("/api/token/", `{"email":"bob@example.com","password":"`+adminPassword+`"}`); r.status != 401 {
				t.Fatalf("login after deactivation: %d %s", r.status, r.body)
			}
			r = a.do("GET", "/admin/api/audit?user_id="+bob+"&type=user.updated", "", bearer(a.staffTok))
			var p struct {
				Items []struct {
					Actor  struct{ ID int64 }
					Target struct{ Type, Email string }
					Detail string
				}
			}
			if err := json.Unmarshal([]byte(r.body), &p); err != nil || len(p.Items) != 1 {
				t.Fatalf("audit: %d %s", r.status, r.body)
			}
			if it := p.Items[0]; it.Actor.ID != a.staff.ID || it.Target.Email != "bob@example.com" ||
				!strings.Contains(it.Detail, "is_active: true -> false") || !strings.Contains(it.Detail, `name: "Bob" -> "Robert"`) {
				t.Fatalf("audit entry %+v", it)
			}
		})
		t.Run("flow/password-reset", func(t *testing.T) {
			a.do("PATCH", "/admin/api/users/"+bob, `{"is_active":true}`, bearer(a.staffTok))
			newPW := "another fine passphrase"
			if r := a.post("/admin/api/users/"+bob+"/password", `{"password":"`+newPW+`"}`, bearer(a.staffTok)); r.status != 204 {
				t.Fatalf("password: %d %s", r.status, r.body)
			}
			if r := a.post("/api/token/", `{"email":"bob@example.com","password":"`+adminPassword+`"}`); r.status != 401 {
				t.Fatalf("old password still works: %d", r.status)
			}
			a.login("bob@example.com", newPW)
			r := a.do("GET", "/admin/api/audit?type=admin.user.password_set", "", bearer(a.staffTok))
			if !strings.Contains(r.body, `"admin.user.password_set"`) || strings.Contains(r.body, newPW) || strings.Contains(r.body, "argon2") {
				t.Fatalf("audit: %s", r.body)
			}
		})
		t.Run("flow/sessions", func(t *testing.T) {
			r := a.do("GET", "/admin/api/users/"+bob+"/sessions", "", bearer(a.staffTok))
			var p struct{ Items []struct{ ID string } }
			if err := json.Unmarshal([]byte(r.body), &p); err != nil || len(p.Items) != 1 {
				t.Fatalf("sessions: %s", r.body)
			}
			if r := a.do("DELETE", "/admin/api/sessions/"+p.Items[0].ID, "", bearer(a.staffTok)); r.status != 204 {
				t.Fatalf("end: %d %s", r.status, r.body)
			}
			if r := a.do("DELETE", "/admin/api/sessions/"+p.Items[0].ID, "", bearer(a.staffTok)); r.status != 404 {
				t.Fatalf("end again: %d %s", r.status, r.body)
			}
			if r := a.do("DELETE", "/admin/api/users/"+bob+"/sessions", "", bearer(a.staffTok)); r.body != `{"revoked_sessions":0}` {
				t.Fatalf("end all: %d %s", r.status, r.body)
			}
		})
		t.Run("flow/pages", func(t *testing.T) {
			seen := map[string]bool{}
			path := "/admin/api/users?limit=1"
			for range 10 {
				r := a.do("GET", path, "", bearer(a.staffTok))
				var p struct {
					Items      []struct{ Email string }
					NextCursor *string `json:"next_cursor"`
				}
				if err := json.Unmarshal([]byte(r.body), &p); err != nil || len(p.Items) != 1 {
					t.Fatalf("page: %s", r.body)
				}
				seen[p.Items[0].Email] = true
				if p.NextCursor == nil {
					break
				}
				path = "/admin/api/users?limit=1&cursor=" + *p.NextCursor
			}
			if len(seen) != 4 {
				t.Fatalf("pages saw %v", seen)
			}
		})
		t.Run("flow/q-pages-by-email", func(t *testing.T) {
			// names containing "o": Bob, Carol (created above), Root, listed by
			// email; a search's cursor carries the email key, not the id
			var got []string
			path := "/admin/api/users?q=O&limit=1"
			var cursor string
			for range 5 {
				r := a.do("GET", path, "", bearer(a.staffTok))
				var p struct {
					Items      []struct{ Email string }
					NextCursor *string `json:"next_cursor"`
				}
				if err := json.Unmarshal([]byte(r.body), &p); err != nil || r.status != 200 {
					t.Fatalf("page: %d %s", r.status, r.body)
				}
				for _, u := range p.Items {
					got = append(got, u.Email)
				}
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
				path = "/admin/api/users?q=O&limit=1&cursor=" + cursor
			}
			if strings.Join(got, ",") != "bob@example.com,Carol@example.com,root@example.com" {
				t.Fatalf("q pages: %v", got)
			}
			if r := a.do("GET", "/admin/api/users?cursor="+cursor, "", bearer(a.staffTok)); r.status != 400 || !strings.Contains(r.body, `"cursor"`) {
				t.Fatalf("search cursor without q: %d %s", r.status, r.body)
			}
			idCursor := base64.RawURLEncoding.EncodeToString([]byte("u:1"))
			if r := a.do("GET", "/admin/api/users?q=o&cursor="+idCursor, "", bearer(a.staffTok)); r.status != 400 || !strings.Contains(r.body, `"cursor"`) {
				t.Fatalf("id cursor with q: %d %s", r.status, r.body)
			}
			long := base64.RawURLEncoding.EncodeToString([]byte("e:" + strings.Repeat("a", 2000)))
			if r := a.do("GET", "/admin/api/users?q=o&cursor="+long, "", bearer(a.staffTok)); r.status != 400 {
				t.Fatalf("oversized cursor: %d %s", r.status, r.body)
			}
		})
		t.Run("flow/keys-force-rotate-and-clients", func(t *testing.T) {
			r := a.post("/admin/api/keys/rotate", `{"use":"access","force":true}`, bearer(a.rootTok))
			if r.status != 200 || !strings.Contains(r.body, `"state":"active"`) {
				t.Fatalf("rotate: %d %s", r.status, r.body)
			}
			r = a.post("/admin/api/clients", `{"name":"svc","type":"confidential","grant_types":["client_credentials"]}`, bearer(a.rootTok))
			var cl struct{ ClientID, ClientSecret string }
			if err := json.Unmarshal([]byte(r.body), &struct {
				ClientID     *string `json:"client_id"`
				ClientSecret *string `json:"client_secret"`
			}{&cl.ClientID, &cl.ClientSecret}); err != nil || r.status != 201 || cl.ClientSecret == "" {
				t.Fatalf("create client: %d %s", r.status, r.body)
			}
			if r := a.do("GET", "/admin/api/clients/"+cl.ClientID, "", bearer(a.staffTok)); strings.Contains(r.body, "secret") {
				t.Fatalf("get shows a secret: %s", r.body)
			}
			if r := a.do("PATCH", "/admin/api/clients/"+cl.ClientID, `{"secret":"x"}`, bearer(a.rootTok)); r.status != 400 {
				t.Fatalf("patch unknown: %d %s", r.status, r.body)
			}
			if r := a.do("PATCH", "/admin/api/clients/"+cl.ClientID, `{"enabled":false,"name":"svc2"}`, bearer(a.rootTok)); r.status != 200 || !strings.Contains(r.body, `"enabled":false`) || !strings.Contains(r.body, `"svc2"`) {
				t.Fatalf("patch: %d %s", r.status, r.body)
			}
			if r := a.post("/admin/api/clients/"+cl.ClientID+"/secret", `{}`, bearer(a.rootTok)); r.status != 200 || !strings.Contains(r.body, "client_secret") {
				t.Fatalf("secret: %d %s", r.status, r.body)
			}
			if r := a.do("DELETE", "/admin/api/clients/"+cl.ClientID, "", bearer(a.rootTok)); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if r := a.do("DELETE", "/admin/api/users/"+bob, "", bearer(a.rootTok)); r.status != 204 {
				t.Fatalf("delete user: %d %s", r.status, r.body)
			}
		})
		t.Run("auth/demoted-admin-loses-access", func(t *testing.T) {
			no := false
			if _, err := a.srv.Users.Update(context.Background(), a.staff.ID, users.Change{IsStaff: &no}); err != nil {
				t.Fatal(err)
			}
			if r := a.do("GET", "/admin/api/users", "", bearer(a.staffTok)); r.status != http.StatusForbidden {
				t.Fatalf("demoted staff: %d %s", r.status, r.body)
			}
		})
	})
}
