package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/idp/idp/internal/storage/storagetest"
)

// console is one browser (cookie jar, no redirects followed) on the
// admin console.
type console struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsole(t *testing.T, e *env) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, base: e.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *console) get(path string) (int, http.Header, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func (b *console) post(path string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token in page:\n%s", page)
	}
	return m[1]
}

// loginConsole logs b in and returns the CSRF token of its session.
func (b *console) login(email, password string) (int, string) {
	b.t.Helper()
	_, _, page := b.get("/admin/login")
	st, h, _ := b.post("/admin/login", url.Values{"csrf_token": {csrfOf(b.t, page)}, "email": {email}, "password": {password}})
	if st != http.StatusSeeOther {
		return st, ""
	}
	if h.Get("Location") != "/admin/users" {
		b.t.Fatalf("login redirects to %q", h.Get("Location"))
	}
	_, _, page = b.get("/admin/users")
	return st, csrfOf(b.t, page)
}

func TestAdminConsole(t *testing.T) {
	a := newAdminEnv(t, storagetest.SQLite(t))
	bob := fmt.Sprint(a.bob.ID)

	t.Run("headers-and-cookie", func(t *testing.T) {
		b := newConsole(t, a.env)
		st, h, body := b.get("/admin/login")
		if st != 200 || !strings.Contains(body, `name="email"`) || !strings.Contains(body, `name="password"`) || strings.Contains(body, "<script") {
			t.Fatalf("login page %d:\n%s", st, body)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if h.Get(k) != want {
				t.Errorf("%s = %q, want %q", k, h.Get(k), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
		c := h.Get("Set-Cookie")
		for _, want := range []string{"idp_admin=", "Path=/admin", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(c, want) {
				t.Errorf("cookie %q lacks %s", c, want)
			}
		}
		if strings.Contains(c, "Secure") {
			t.Errorf("cookie over plain HTTP is Secure: %q", c)
		}
	})
	t.Run("login-refusals-say-the-same", func(t *testing.T) {
		var bodies []string
		for _, tc := range []struct{ email, password string }{
			{"bob@example.com", adminPassword},        // not staff
			{"staff@example.com", "wrong password!!"}, // wrong password
			{"nobody@example.com", adminPassword},     // no such account
		} {
			b := newConsole(t, a.env)
			_, _, page := b.get("/admin/login")
			st, _, body := b.post("/admin/login", url.Values{"csrf_token": {csrfOf(t, page)}, "email": {tc.email}, "password": {tc.password}})
			if st != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
				t.Fatalf("%s: %d %s", tc.email, st, body)
			}
			bodies = append(bodies, strings.ReplaceAll(body, tc.email, "EMAIL"))
		}
		for i := range bodies {
			bodies[i] = csrfField.ReplaceAllString(bodies[i], "")
		}
		if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
			t.Fatalf("refusals differ:\n%s\n---\n%s\n---\n%s", bodies[0], bodies[1], bodies[2])
		}
	})
	t.Run("login-without-csrf", func(t *testing.T) {
		b := newConsole(t, a.env)
		b.get("/admin/login")
		if st, _, _ := b.post("/admin/login", url.Values{"email": {"staff@example.com"}, "password": {adminPassword}}); st != http.StatusForbidden {
			t.Fatalf("login without csrf: %d", st)
		}
	})

	staff := newConsole(t, a.env)
	if st, _ := staff.login("staff@example.com", adminPassword); st != http.StatusSeeOther {
		t.Fatalf("staff login: %d", st)
	}
	_, _, page := staff.get("/admin/users")
	token := csrfOf(t, page)
	other := newConsole(t, a.env)
	_, otherToken := other.login("root@example.com", adminPassword)

	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
	}{
		{"no-csrf", "/admin/users/" + bob, url.Values{"name": {"X"}, "email": {"x@example.com"}}, 403},
		{"csrf-of-another-session", "/admin/users/" + bob, url.Values{"csrf_token": {otherToken}, "name": {"X"}, "email": {"x@example.com"}}, 403},
		{"bad-email", "/admin/users/" + bob, url.Values{"csrf_token": {token}, "name": {"X"}, "email": {"nope"}, "is_active": {"true"}}, 400},
		{"unknown-user", "/admin/users/999999", url.Values{"csrf_token": {token}, "name": {"X"}}, 404},
		{"malformed-user", "/admin/users/x1", url.Values{"csrf_token": {token}, "name": {"X"}}, 404},
		{"superuser-only", "/admin/keys/rotate", url.Values{"csrf_token": {token}, "use": {"access"}}, 403},
		{"unknown-session", "/admin/sessions/nope/end", url.Values{"csrf_token": {token}}, 404},
	} {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			st, h, body := staff.post(tc.path, tc.form)
			if st != tc.status || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s:\n%s", st, h.Get("Content-Type"), body)
			}
		})
	}
	if u, _ := a.srv.Users.Get(t.Context(), a.bob.ID); u.Name != "Bob" {
		t.Fatalf("a refused form changed bob: %+v", u)
	}
	t.Run("bad/cursor", func(t *testing.T) {
		if st, _, _ := staff.get("/admin/users?cursor=zzz"); st != 400 {
			t.Fatalf("bad cursor: %d", st)
		}
	})
	t.Run("edit-and-status", func(t *testing.T) {
		st, h, _ := staff.post("/admin/users/"+bob, url.Values{"csrf_token": {token}, "name": {"Robert"}, "email": {"bob@example.com"}, "is_active": {"true"}})
		if st != 303 {
			t.Fatalf("edit: %d", st)
		}
		_, _, body := staff.get(h.Get("Location"))
		if !strings.Contains(body, "Changes saved.") || !strings.Contains(body, `value="Robert"`) {
			t.Fatalf("after edit:\n%s", body)
		}
	})
	t.Run("deactivating-an-admin-ends-their-console", func(t *testing.T) {
		victim := newConsole(t, a.env)
		victim.login("staff@example.com", adminPassword)
		root := other
		st, _, body := root.post(fmt.Sprint("/admin/users/", a.staff.ID), url.Values{"csrf_token": {otherToken}, "name": {"Staff"}, "email": {"staff@example.com"}, "is_staff": {"true"}})
		if st != 303 {
			t.Fatalf("deactivate staff: %d %s", st, body)
		}
		if st, h, _ := victim.get("/admin/users"); st != 303 || h.Get("Location") != "/admin/login" {
			t.Fatalf("deactivated admin's console: %d %s", st, h.Get("Location"))
		}
	})
	t.Run("cookie-after-logout", func(t *testing.T) {
		other := newConsole(t, a.env)
		_, tok := other.login("root@example.com", adminPassword)
		old := other.c.Jar.Cookies(mustURL(t, a.url+"/admin/"))
		if st, _, _ := other.post("/admin/logout", url.Values{"csrf_token": {tok}}); st != 303 {
			t.Fatalf("logout: %d", st)
		}
		replay := newConsole(t, a.env)
		replay.c.Jar.SetCookies(mustURL(t, a.url+"/admin/"), old)
		if st, _, _ := replay.post("/admin/users/"+bob, url.Values{"csrf_token": {tok}, "name": {"Y"}, "email": {"bob@example.com"}}); st != 403 {
			t.Fatalf("cookie after logout: %d", st)
		}
		if st, _, _ := replay.get("/admin/users"); st != 303 {
			t.Fatalf("GET with cookie after logout: %d", st)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
