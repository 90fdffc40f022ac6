package websession_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/websession"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                   { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func req(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://idp.test/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func cookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("want one Set-Cookie, got %d", len(cs))
	}
	return cs[0]
}

func TestLoginGetLogout(t *testing.T) {
	clk := newClock()
	m := websession.New(storagetest.SQLite(t), websession.Options{Now: clk.Now, IdleTimeout: time.Hour, Lifetime: 3 * time.Hour, SameSite: http.SameSiteStrictMode, Path: "/admin"})
	// Anonymous first (the login form), then login: new id.
	w := httptest.NewRecorder()
	anon, err := m.Ensure(w, req())
	if err != nil || anon.Authenticated() {
		t.Fatalf("Ensure: %+v %v", anon, err)
	}
	ac := cookieOf(t, w)
	if !ac.HttpOnly || ac.Secure || ac.SameSite != http.SameSiteStrictMode || ac.Path != "/admin" {
		t.Fatalf("cookie attributes: %+v", ac)
	}
	csrf := m.CSRFToken(anon)
	got, err := m.Get(req(ac))
	if err != nil || got.ID != anon.ID || !m.CheckCSRF(got, csrf) {
		t.Fatalf("Get anonymous: %+v %v", got, err)
	}
	w = httptest.NewRecorder()
	s, err := m.Login(w, req(ac), 42)
	if err != nil || s.ID == anon.ID || s.UserID != 42 || !s.AuthTime.Equal(clk.Now()) {
		t.Fatalf("Login: %+v %v", s, err)
	}
	sc := cookieOf(t, w)
	if _, err := m.Get(req(ac)); !errors.Is(err, websession.ErrNoSession) {
		t.Fatalf("the anonymous session must end at login (fixation): %v", err)
	}
	if m.CheckCSRF(s, csrf) {
		t.Fatal("a CSRF token of the old session must not match the new one")
	}
	if got, err := m.Get(req(sc)); err != nil || got.ID != s.ID || got.UserID != 42 {
		t.Fatalf("Get: %+v %v", got, err)
	}
	w = httptest.NewRecorder()
	ended, ok, err := m.Logout(w, req(sc))
	if err != nil || !ok || ended.ID != s.ID || cookieOf(t, w).MaxAge >= 0 {
		t.Fatalf("Logout: %+v %v %v", ended, ok, err)
	}
	if _, err := m.Get(req(sc)); !errors.Is(err, websession.ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
}

func TestLifetimes(t *testing.T) {
	clk := newClock()
	m := websession.New(storagetest.SQLite(t), websession.Options{Now: clk.Now, IdleTimeout: time.Hour, Lifetime: 3 * time.Hour, TouchInterval: time.Minute})
	w := httptest.NewRecorder()
	if _, err := m.Login(w, req(), 7); err != nil {
		t.Fatal(err)
	}
	c := cookieOf(t, w)
	for i := 0; i < 5; i++ { // used every 50 min: the idle timeout slides
		clk.Advance(50 * time.Minute)
		if i < 3 {
			if _, err := m.Get(req(c)); err != nil {
				t.Fatalf("use %d: %v", i, err)
			}
		} else if _, err := m.Get(req(c)); !errors.Is(err, websession.ErrNoSession) {
			t.Fatalf("use %d after the absolute lifetime: %v", i, err)
		}
	}
	w = httptest.NewRecorder()
	m.Login(w, req(), 7)
	c = cookieOf(t, w)
	clk.Advance(61 * time.Minute)
	if _, err := m.Get(req(c)); !errors.Is(err, websession.ErrNoSession) {
		t.Fatalf("idle session: %v", err)
	}
}

func TestBadCookies(t *testing.T) {
	m := websession.New(storagetest.SQLite(t), websession.Options{})
	w := httptest.NewRecorder()
	s, _ := m.Login(w, req(), 7)
	good := cookieOf(t, w)
	id, secret, _ := strings.Cut(good.Value, ".")
	flip := []byte(secret)
	flip[3] ^= 1
	for name, v := range map[string]string{
		"empty": "", "no-dot": id, "wrong-secret": id + "." + string(flip), "short": id + ".abc",
		"unknown-id": "AAAAAAAAAAAAAAAAAAAAAA." + secret, "bad-base64": "!" + id[1:] + "." + secret,
	} {
		if _, err := m.Get(req(&http.Cookie{Name: "idp_session", Value: v})); !errors.Is(err, websession.ErrNoSession) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if m.CheckCSRF(websession.Session{}, "") || m.CheckCSRF(s, "") || m.CheckCSRF(s, "x") {
		t.Error("CheckCSRF accepted an empty session or token")
	}
}

func TestSecureBehindTrustedProxy(t *testing.T) {
	p := websession.Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, remote, hdr, val string
		want                   bool
	}{
		{"plain", "10.1.2.3:1", "", "", false},
		{"trusted-xfp", "10.1.2.3:1", "X-Forwarded-Proto", "https", true},
		{"trusted-forwarded", "10.1.2.3:1", "Forwarded", `for=1.2.3.4;proto=https, proto=http`, true},
		{"trusted-forwarded-http", "10.1.2.3:1", "Forwarded", `proto=http`, false},
		{"untrusted-xfp", "192.0.2.1:1", "X-Forwarded-Proto", "https", false},
	}
	for _, tc := range cases {
		r := req()
		r.RemoteAddr = tc.remote
		if tc.hdr != "" {
			r.Header.Set(tc.hdr, tc.val)
		}
		if got := p.TLS(r); got != tc.want {
			t.Errorf("%s: TLS = %v", tc.name, got)
		}
	}
	m := websession.New(storagetest.SQLite(t), websession.Options{Proxies: p})
	r := req()
	r.RemoteAddr = "10.1.2.3:1"
	r.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	m.Ensure(w, r)
	if !cookieOf(t, w).Secure {
		t.Fatal("cookie over a trusted TLS proxy must be Secure")
	}
}
