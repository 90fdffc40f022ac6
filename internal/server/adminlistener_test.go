package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/users"
)

// TestAdminListener: with admin.addr set, one server answers on two
// listeners: the admin API and console only on the admin one (with the
// health probes), everything else only on the public one, each refusal a
// 404 in the API's JSON shape; a shutdown closes both.
func TestAdminListener(t *testing.T) {
	store := storagetest.SQLite(t)
	cfg := testConfig()
	cfg.Admin.Addr = "127.0.0.1:0"
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, store, Options{Config: cfg, AdminListener: adminLn})
	if _, err := srv.Users.CreateSuperuser(context.Background(), users.NewUser{Email: "root@example.com", Name: "Root", Password: adminPassword}); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, srv)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	public := &env{t: t, srv: srv, store: store, url: r.url, client: client}
	admin := &env{t: t, srv: srv, store: store, url: "http://" + adminLn.Addr().String(), client: client}

	tok, _ := public.login("root@example.com", adminPassword)
	bearer := "Authorization: Bearer " + tok
	notFound := func(t *testing.T, e *env, method, path string, headers ...string) {
		t.Helper()
		got := e.do(method, path, "", headers...)
		if got.status != http.StatusNotFound || got.body != `{"detail":"Not found."}` {
			t.Errorf("%s %s%s: %d %q, want 404 {\"detail\":\"Not found.\"}", method, e.url, path, got.status, got.body)
		}
	}
	t.Run("public-refuses-admin", func(t *testing.T) {
		for _, p := range []string{"/admin/api/users", "/admin/api/keys", "/admin/", "/admin", "/admin/login", "/%61dmin/login", "/admin/static/admin.css"} {
			notFound(t, public, "GET", p, bearer)
		}
		notFound(t, public, "POST", "/admin/login", "Content-Type: application/x-www-form-urlencoded")
	})
	t.Run("public-serves-the-rest", func(t *testing.T) {
		for _, p := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration", "/healthz"} {
			if got := public.do("GET", p, ""); got.status != http.StatusOK {
				t.Errorf("GET %s on the public listener: %d", p, got.status)
			}
		}
		if got := public.do("GET", "/api/logged-user/", "", bearer); got.status != http.StatusOK {
			t.Errorf("logged-user on the public listener: %d %s", got.status, got.body)
		}
	})
	t.Run("admin-serves-admin", func(t *testing.T) {
		got := admin.do("GET", "/admin/api/users", "", bearer)
		if got.status != http.StatusOK || !strings.Contains(got.body, `"email":"root@example.com"`) {
			t.Errorf("admin API on the admin listener: %d %s", got.status, got.body)
		}
		if got := admin.do("GET", "/admin/api/users", ""); got.status != http.StatusUnauthorized {
			t.Errorf("admin API without a token: %d, want 401", got.status)
		}
		login := admin.do("GET", "/admin/login", "")
		if login.status != http.StatusOK || !strings.Contains(login.body, `name="password"`) {
			t.Errorf("console login page on the admin listener: %d %.200s", login.status, login.body)
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if got := admin.do("GET", p, ""); got.status != http.StatusOK {
				t.Errorf("GET %s on the admin listener: %d", p, got.status)
			}
		}
	})
	t.Run("admin-refuses-the-rest", func(t *testing.T) {
		for _, p := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration", "/api/logged-user/", "/oauth2/authorize", "/login", "/", "/administrator"} {
			notFound(t, admin, "GET", p, bearer)
		}
		notFound(t, admin, "POST", "/api/token/", "Content-Type: application/json")
		notFound(t, admin, "POST", "/oauth2/token", "Content-Type: application/x-www-form-urlencoded")
	})

	r.cancel()
	if err := r.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, addr := range []string{r.addr, adminLn.Addr().String()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Run returned", addr)
		}
	}
}

// TestAdminListenerBusy: a taken admin.addr stops Run before it serves,
// naming the key, and frees the public listener.
func TestAdminListenerBusy(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig()
	cfg.Admin.Addr = taken.Addr().String()
	srv := newTestServer(t, storagetest.SQLite(t), Options{Config: cfg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Run(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "admin listener on "+cfg.Admin.Addr) {
		t.Fatalf("Run: %v, want the admin listener's error", err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the public listener still accepts after Run failed")
	}
}
