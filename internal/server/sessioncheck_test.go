package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// TestAccessTokenDiesWithSession (issue 10 items 4 and 13): after any
// revocation of its session — logout, session deletion, logout-all, reuse
// detection, password change, deactivation — an access token is refused at
// idp's own endpoints: at once on the instance that revoked, and on
// another instance (or after a CLI revocation, which is another process
// on the store) at its next poll or, should polls fail, once its set is
// 5 s old.
func TestAccessTokenDiesWithSession(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		kek := testKEK(t)
		a := newEnvKEK(t, store, kek, proxied)
		b := newEnvKEK(t, store, kek, proxied) // a second instance on the same store
		ctx := context.Background()
		n := 0
		newUser := func() (email string, id int64) {
			n++
			email = fmt.Sprintf("s%d@example.com", n)
			a.register("S", email, password)
			return email, userRow(t, store, email).ID
		}
		endpoints := func(t *testing.T, e *env, access string, want int) {
			t.Helper()
			for _, r := range []struct{ name, method, path, body string }{
				{"logged-user", "GET", "/api/logged-user/", ""},
				{"sessions", "GET", "/api/sessions/", ""},
				{"verify", "POST", "/api/token/verify/", `{"token":"` + access + `"}`},
			} {
				h := []string{bearer(access)}
				if r.name == "verify" {
					h = nil
				}
				if got := e.do(r.method, r.path, r.body, h...); got.status != want {
					t.Errorf("%s: %d %s, want %d", r.name, got.status, got.body, want)
				}
			}
		}
		cases := []struct {
			name   string
			revoke func(t *testing.T, email string, id int64, access, refresh string)
		}{
			{"logout", func(t *testing.T, _ string, _ int64, _, refresh string) {
				wantAnswer(t, "logout", a.post("/api/token/blacklist/", refreshBody(refresh)), 200, "{}")
			}},
			{"delete-session", func(t *testing.T, _ string, _ int64, access, refresh string) {
				wantAnswer(t, "delete", a.do("DELETE", "/api/sessions/"+fidOf(t, refresh)+"/", "", bearer(access)), 204, "")
			}},
			{"logout-all", func(t *testing.T, _ string, _ int64, access, _ string) {
				wantAnswer(t, "logout-all", a.post("/api/logout-all/", "", bearer(access)), 200, `{"revoked_sessions":1}`)
			}},
			{"reuse-detected", func(t *testing.T, _ string, _ int64, _, refresh string) {
				wantAnswer(t, "rotate", a.post("/api/token/refresh/", refreshBody(refresh)), 200, "")
				a.clock.Advance(time.Minute) // past the grace window
				b.clock.Advance(time.Minute)
				wantAnswer(t, "reuse", a.post("/api/token/refresh/", refreshBody(refresh)), 401, bodyBlacklisted)
			}},
			{"password-change", func(t *testing.T, _ string, id int64, _, _ string) {
				if err := a.srv.Users.SetPassword(ctx, id, "n3w-pass-phrase"); err != nil {
					t.Fatal(err)
				}
			}},
			{"deactivation", func(t *testing.T, _ string, id int64, _, _ string) {
				if err := a.srv.Users.SetActive(ctx, id, false); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a.t, b.t = t, t
				email, id := newUser()
				access, refresh := a.login(email, password)
				endpoints(t, a, access, 200)
				endpoints(t, b, access, 200)
				tc.revoke(t, email, id, access, refresh)
				endpoints(t, a, access, 401) // at once where it was revoked
				if err := b.srv.revoked.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				endpoints(t, b, access, 401) // at the other instance's next poll
			})
		}
		t.Run("cli-revocation-without-poll/stale-set-reads-the-store", func(t *testing.T) {
			a.t, b.t = t, t
			email, _ := newUser()
			access, refresh := a.login(email, password)
			if err := b.srv.revoked.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			endpoints(t, b, access, 200)
			// As `idp users`/a CLI would: straight on the store.
			if _, err := store.RevokeFamily(ctx, fidOf(t, refresh), b.clock.Now(), "cli"); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(5*time.Second + time.Millisecond) // no poll succeeded for 5 s
			endpoints(t, b, access, 401)
		})
	})
}

// TestVerifyModes (item 13): token/verify/ is strict by default (an
// inactive user's access token is refused); sessions.verify_mode:
// signature restores the tutorial app's signature-only answer.
func TestVerifyModes(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want int
	}{{config.VerifyStrict, 401}, {config.VerifySignature, 200}} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, storagetest.SQLite(t), func(c *config.Config) { c.Sessions.VerifyMode = tc.mode })
			e.register("V", "v@example.com", password)
			access, _ := e.login("v@example.com", password)
			// Deactivated on the store only: no session revoked.
			if err := e.store.SetUserActive(context.Background(), userRow(t, e.store, "v@example.com").ID, false); err != nil {
				t.Fatal(err)
			}
			if r := e.post("/api/token/verify/", `{"token":"`+access+`"}`); r.status != tc.want {
				t.Errorf("verify of an inactive user's access token: %d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
}

// BenchmarkLoggedUserSessionCheck measures GET logged-user/ end to end
// (real HTTP client, server stack and store, in parallel) with idp's
// session check off and on: the check must cost under 5 %.
//
//	go test -run - -bench LoggedUserSessionCheck -count 6 ./internal/server
func BenchmarkLoggedUserSessionCheck(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		for _, check := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/check=%v", backend.name, check), func(b *testing.B) {
				benchLoggedUser(b, backend.open(b), !check)
			})
		}
	}
}

func benchLoggedUser(b *testing.B, store storage.Store, disable bool) {
	cfg := testConfig()
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}, disableSessionCheck: disable})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if srv.revoked != nil {
		// The poll loop, as Run starts it.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go srv.revoked.Run(ctx)
	}
	e := &env{t: b, srv: srv, store: store, url: ts.URL, client: ts.Client()}
	e.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	e.register("Bench", "bench@example.com", password)
	access, _ := e.login("bench@example.com", password)
	// Some revoked sessions in the set, as on a busy server.
	for range 50 {
		_, r := e.login("bench@example.com", password)
		e.post("/api/token/blacklist/", refreshBody(r))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/logged-user/", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := e.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("logged-user: %d", resp.StatusCode)
			}
		}
	})
}
