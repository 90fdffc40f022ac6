package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// Refresh-token families end to end (issue 4): reuse detection, the grace
// window, concurrent refresh, session limits, logout and revocation, the
// session list, and the janitor — through the real HTTP stack on both
// stores, with the injected clock.

const password = "s3cret-pass"

// proxied trusts X-Forwarded-For from loopback, so tests choose the
// client IP.
func proxied(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.0/8"} }

func bearer(access string) string { return "Authorization: Bearer " + access }

func refreshBody(tok string) string { return `{"refresh":"` + tok + `"}` }

// loginFrom logs in with extra headers (X-Forwarded-For, User-Agent).
func (e *env) loginFrom(email string, headers ...string) (access, refresh string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	r := e.post("/api/token/", string(b), headers...)
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	m := r.json(e.t)
	return m["access"].(string), m["refresh"].(string)
}

// rotate refreshes tok and returns the new pair, failing on anything but 200.
func (e *env) rotate(tok string, headers ...string) (access, refresh string) {
	e.t.Helper()
	r := e.post("/api/token/refresh/", refreshBody(tok), headers...)
	if r.status != http.StatusOK {
		e.t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return m["access"].(string), m["refresh"].(string)
}

func (e *env) familyOf(refresh string) storage.Family {
	e.t.Helper()
	f, err := e.store.GetFamily(context.Background(), claims(e.t, refresh)["fid"].(string))
	if err != nil {
		e.t.Fatalf("family: %v", err)
	}
	return f
}

func (e *env) audit() []storage.AuditEvent {
	e.t.Helper()
	ev, err := e.store.ListAudit(context.Background(), 0, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func eventsOf(events []storage.AuditEvent, typ string) []storage.AuditEvent {
	var out []storage.AuditEvent
	for _, ev := range events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// session is one element of GET sessions/.
type session struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

func (e *env) sessions(access string) []session {
	e.t.Helper()
	r := e.do(http.MethodGet, "/api/sessions/", "", bearer(access))
	if r.status != http.StatusOK {
		e.t.Fatalf("GET sessions/: %d %s", r.status, r.body)
	}
	var out []session
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out == nil {
		e.t.Fatalf("GET sessions/ body %q: %v", r.body, err)
	}
	return out
}

func fidOf(t testing.TB, refresh string) string { return claims(t, refresh)["fid"].(string) }

func wantAnswer(t testing.TB, what string, r response, status int, body string) {
	t.Helper()
	if r.status != status || (body != "" && r.body != body) {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, body)
	}
}

// TestRefreshReuse: R1→R2; R1 again after the grace window is reuse: 401
// blacklisted, R2 dies too, and the event is audited with the reuser's IP
// and user agent.
func TestRefreshReuse(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Reuse", "reuse@example.com", password)
		u := userRow(t, store, "reuse@example.com")
		_, r1 := e.loginFrom("reuse@example.com", "X-Forwarded-For: 198.51.100.1", "User-Agent: Owner/1")
		a2, r2 := e.rotate(r1, "X-Forwarded-For: 198.51.100.1", "User-Agent: Owner/1")
		e.clock.Advance(10*time.Second + time.Second) // past the 10 s window

		thief := []string{"X-Forwarded-For: 203.0.113.66", "User-Agent: Thief/0.1"}
		wantAnswer(t, "reuse of R1", e.post("/api/token/refresh/", refreshBody(r1), thief...), 401, bodyBlacklisted)
		wantAnswer(t, "R2 after reuse", e.post("/api/token/refresh/", refreshBody(r2)), 401, bodyBlacklisted)
		wantAnswer(t, "verify R2 after reuse", e.post("/api/token/verify/", `{"token":"`+r2+`"}`), 401, bodyBlacklisted)

		f := e.familyOf(r2)
		if f.RevokedAt.IsZero() || f.RevokeReason != "reuse_detected" || f.Generation != 1 {
			t.Errorf("family after reuse: %+v", f)
		}
		reuse := eventsOf(e.audit(), "refresh.reuse_detected")
		if len(reuse) != 1 {
			t.Fatalf("reuse events %+v, want one", reuse)
		}
		ev := reuse[0]
		if ev.FamilyID != f.ID || ev.UserID != u.ID || ev.IP != "203.0.113.66" || ev.UserAgent != "Thief/0.1" ||
			!ev.At.Equal(e.clock.Now()) || ev.KID == "" {
			t.Errorf("reuse event %+v", ev)
		}
		// A third presentation changes nothing and records nothing more.
		wantAnswer(t, "R1 again", e.post("/api/token/refresh/", refreshBody(r1)), 401, bodyBlacklisted)
		if n := len(eventsOf(e.audit(), "refresh.reuse_detected")); n != 1 {
			t.Errorf("%d reuse events after a second presentation, want 1", n)
		}
		// The session's access token dies with it at idp's endpoints.
		wantAnswer(t, "access token of the revoked session", e.do("GET", "/api/sessions/", "", bearer(a2)), 401, bodyGivenToken)
	})
}

// TestRefreshGrace: the immediate predecessor within the window gets the
// winner's refresh token and no second chain; anything older is reuse.
func TestRefreshGrace(t *testing.T) {
	tests := []struct {
		name      string
		grace     time.Duration
		rotations int           // R0 → … → R<rotations>
		present   int           // the generation presented again
		after     time.Duration // after the last rotation
		ok        bool
	}{
		{"predecessor-within-window", 10 * time.Second, 1, 0, 5 * time.Second, true},
		{"predecessor-at-window-end", 10 * time.Second, 1, 0, 10 * time.Second, true},
		{"predecessor-after-window", 10 * time.Second, 1, 0, 11 * time.Second, false},
		{"two-generations-back-within-window", 10 * time.Second, 2, 0, time.Second, false},
		{"predecessor-after-two-rotations", 10 * time.Second, 2, 1, time.Second, true},
		{"grace-disabled", 0, 1, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
				e := newEnv(t, store, func(c *config.Config) { c.Tokens.RefreshGrace = tt.grace })
				e.register("Grace", "grace@example.com", password)
				_, r := e.login("grace@example.com", password)
				chain := []string{r}
				for range tt.rotations {
					e.clock.Advance(time.Second)
					_, next := e.rotate(chain[len(chain)-1])
					chain = append(chain, next)
				}
				winner := chain[len(chain)-1]
				before := e.familyOf(winner)
				e.clock.Advance(tt.after)

				got := e.post("/api/token/refresh/", refreshBody(chain[tt.present]))
				if !tt.ok {
					wantAnswer(t, "older token", got, 401, bodyBlacklisted)
					if f := e.familyOf(winner); f.RevokedAt.IsZero() || f.RevokeReason != "reuse_detected" {
						t.Fatalf("family not revoked: %+v", f)
					}
					wantAnswer(t, "winner after reuse", e.post("/api/token/refresh/", refreshBody(winner)), 401, bodyBlacklisted)
					return
				}
				wantAnswer(t, "grace answer", got, 200, "")
				m := got.json(t)
				if m["refresh"] != winner {
					t.Fatal("the grace answer is not the winner's refresh token: the family forked")
				}
				access := m["access"].(string)
				if after := e.familyOf(winner); after != before || after.Generation != int64(tt.rotations) || !after.RevokedAt.IsZero() {
					t.Fatalf("grace changed the family:\nbefore %+v\nafter  %+v", before, after)
				}
				if s := e.sessions(access); len(s) != 1 || s[0].ID != before.ID || !s[0].Current {
					t.Fatalf("sessions after the grace answer: %+v, want the one family, current", s)
				}
				// Both tabs hold the winner; the chain goes on from it.
				_, next := e.rotate(winner)
				if f := e.familyOf(next); f.Generation != int64(tt.rotations)+1 {
					t.Fatalf("generation %d after continuing", f.Generation)
				}
			})
		})
	}
}

// TestConcurrentRefresh: 50 clients refresh the same token at the same
// moment, 20 times over (a fresh login each round): one rotation per
// round, every client gets the same successor, never a 500.
func TestConcurrentRefresh(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		const clients, rounds = 50, 20
		e := newEnv(t, store)
		e.register("Tabs", "tabs@example.com", password)
		tr := &http.Transport{MaxIdleConnsPerHost: clients}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: time.Minute}
		var lastAccess string
		for round := range rounds {
			access, r0 := e.login("tabs@example.com", password)
			lastAccess = access
			statuses := make([]int, clients)
			bodies := make([]string, clients)
			errs := make([]error, clients)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range clients {
				wg.Go(func() {
					<-start
					resp, err := client.Post(e.url+"/api/token/refresh/", "application/json", strings.NewReader(refreshBody(r0)))
					if err != nil {
						errs[i] = err
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					statuses[i], bodies[i], errs[i] = resp.StatusCode, string(b), err
				})
			}
			close(start)
			wg.Wait()

			successors := map[string]int{}
			for i := range clients {
				if errs[i] != nil {
					t.Fatalf("round %d client %d: %v", round, i, errs[i])
				}
				// The clock stands still, inside the grace window: 401
				// blacklisted would be wrong here, a 500 always is.
				if statuses[i] != http.StatusOK {
					t.Fatalf("round %d client %d: %d %s", round, i, statuses[i], bodies[i])
				}
				var p struct{ Access, Refresh string }
				if err := json.Unmarshal([]byte(bodies[i]), &p); err != nil || p.Access == "" || p.Refresh == "" {
					t.Fatalf("round %d client %d: body %s", round, i, bodies[i])
				}
				successors[p.Refresh]++
			}
			if len(successors) != 1 {
				t.Fatalf("round %d: %d distinct successors: the family forked", round, len(successors))
			}
			f := e.familyOf(r0)
			var succ string
			for s := range successors {
				succ = s
			}
			if f.Generation != 1 || !f.RevokedAt.IsZero() || claims(t, succ)["jti"] != f.CurrentJTI {
				t.Fatalf("round %d: family %+v", round, f)
			}
		}
		if s := e.sessions(lastAccess); len(s) != rounds {
			t.Errorf("%d live sessions after %d rounds, want %d", len(s), rounds, rounds)
		}
		if ev := eventsOf(e.audit(), "refresh.reuse_detected"); len(ev) != 0 {
			t.Errorf("concurrent refresh recorded reuse: %+v", ev)
		}
	})
}

// TestSessionLimits: idle timeout and absolute lifetime, with the clock.
func TestSessionLimits(t *testing.T) {
	const leeway = 30 * time.Second
	tests := []struct {
		name       string
		sessionTTL time.Duration
		gaps       []time.Duration // between login and each refresh
		lastOK     bool            // every refresh but the last must succeed
	}{
		{"idle-timeout", 30 * 24 * time.Hour, []time.Duration{24*time.Hour + leeway}, false},
		{"idle-timeout-after-use", 30 * 24 * time.Hour, []time.Duration{12 * time.Hour, 24*time.Hour + leeway}, false},
		{"regular-refreshes-keep-it-alive", 30 * 24 * time.Hour, []time.Duration{20 * time.Hour, 20 * time.Hour, 20 * time.Hour, 23 * time.Hour}, true},
		{"absolute-lifetime-caps-regular-refreshes", 50 * time.Hour, []time.Duration{20 * time.Hour, 20 * time.Hour, 10 * time.Hour}, false},
		{"just-before-absolute-end", 50 * time.Hour, []time.Duration{20 * time.Hour, 20 * time.Hour, 10*time.Hour - time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
				e := newEnv(t, store, func(c *config.Config) { c.Tokens.SessionTTL = tt.sessionTTL })
				e.register("Limits", "limits@example.com", password)
				_, r := e.login("limits@example.com", password)
				end := e.familyOf(r).ExpiresAt
				if !end.Equal(e.clock.Now().Add(tt.sessionTTL)) {
					t.Fatalf("session end %v, want login + %v", end, tt.sessionTTL)
				}
				for i, gap := range tt.gaps {
					e.clock.Advance(gap)
					got := e.post("/api/token/refresh/", refreshBody(r))
					if i == len(tt.gaps)-1 && !tt.lastOK {
						wantAnswer(t, fmt.Sprintf("refresh %d", i), got, 401, bodyInvalid)
						return
					}
					wantAnswer(t, fmt.Sprintf("refresh %d", i), got, 200, "")
					r = got.json(t)["refresh"].(string)
					exp := time.Unix(int64(claims(t, r)["exp"].(float64)), 0)
					if exp.After(end) {
						t.Fatalf("refresh %d: exp %v beyond the session's end %v", i, exp, end)
					}
				}
			})
		})
	}
}

// TestLogout: token/blacklist/ ends the session: the same token, its
// predecessor and its successor are all blacklisted afterwards.
func TestLogout(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Out", "out@example.com", password)
		_, r1 := e.login("out@example.com", password)
		a2, r2 := e.rotate(r1)
		aOther, rOther := e.login("out@example.com", password)

		r := e.post("/api/token/blacklist/", refreshBody(r2), "X-Forwarded-For: 198.51.100.77", "User-Agent: Logout/1")
		wantAnswer(t, "logout", r, 200, `{}`)
		wantAnswer(t, "logout again", e.post("/api/token/blacklist/", refreshBody(r2)), 401, bodyBlacklisted)
		wantAnswer(t, "refresh the logged-out token", e.post("/api/token/refresh/", refreshBody(r2)), 401, bodyBlacklisted)
		wantAnswer(t, "refresh its predecessor (within grace)", e.post("/api/token/refresh/", refreshBody(r1)), 401, bodyBlacklisted)
		wantAnswer(t, "verify it", e.post("/api/token/verify/", `{"token":"`+r2+`"}`), 401, bodyBlacklisted)
		wantAnswer(t, "logout with garbage", e.post("/api/token/blacklist/", `{"refresh":"garbage"}`), 401, bodyInvalid)
		wantAnswer(t, "logout with an access token", e.post("/api/token/blacklist/", refreshBody(a2)), 401, bodyWrongType)
		wantAnswer(t, "logout without a token", e.post("/api/token/blacklist/", `{}`), 400, `{"refresh":["This field is required."]}`)

		f := e.familyOf(r2)
		if f.RevokeReason != "logout" || !f.RevokedAt.Equal(e.clock.Now()) {
			t.Errorf("family %+v", f)
		}
		ev := eventsOf(e.audit(), "family.revoked")
		if len(ev) != 1 || ev[0].FamilyID != f.ID || ev[0].Detail != "logout" || ev[0].IP != "198.51.100.77" || ev[0].UserAgent != "Logout/1" {
			t.Errorf("family.revoked events %+v", ev)
		}
		// The other session is untouched and is the only one listed.
		if s := e.sessions(aOther); len(s) != 1 || s[0].ID != fidOf(t, rOther) {
			t.Errorf("sessions after logout: %+v", s)
		}
		e.rotate(rOther)
	})
}

func TestLogoutAll(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store)
		e.register("All", "all@example.com", password)
		e.register("Bob", "bob@example.com", password)
		var refreshes []string
		var access string
		for i := range 3 {
			a, r := e.loginFrom("all@example.com", fmt.Sprintf("User-Agent: device-%d", i))
			access, refreshes = a, append(refreshes, r)
		}
		_, bobs := e.login("bob@example.com", password)

		wantAnswer(t, "without credentials", e.post("/api/logout-all/", ""), 401, bodyNotProvided)
		wantAnswer(t, "logout-all", e.post("/api/logout-all/", "", bearer(access)), 200, `{"revoked_sessions":3}`)
		for i, r := range refreshes {
			wantAnswer(t, fmt.Sprintf("session %d", i), e.post("/api/token/refresh/", refreshBody(r)), 401, bodyBlacklisted)
			if f := e.familyOf(r); f.RevokeReason != "logout_all" {
				t.Errorf("session %d reason %q", i, f.RevokeReason)
			}
		}
		e.rotate(bobs)
		// The access token died with its session.
		wantAnswer(t, "again", e.post("/api/logout-all/", "", bearer(access)), 401, bodyGivenToken)
		fresh, _ := e.login("all@example.com", password)
		if s := e.sessions(fresh); len(s) != 1 {
			t.Errorf("sessions after logout-all and a new login: %+v", s)
		}
	})
}

func TestSessionList(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Alice", "alice@example.com", password)
		e.register("Bob", "bob@example.com", password)
		loginAt := e.clock.Now()
		_, rLaptop := e.loginFrom("alice@example.com", "X-Forwarded-For: 198.51.100.10", "User-Agent: Laptop/1")
		e.clock.Advance(time.Minute)
		aPhone, rPhone := e.loginFrom("alice@example.com", "X-Forwarded-For: 2001:db8::20", "User-Agent: Phone/2")
		aBob, rBob := e.loginFrom("bob@example.com", "X-Forwarded-For: 203.0.113.1")
		e.clock.Advance(time.Minute)
		_, rLaptop = e.rotate(rLaptop, "X-Forwarded-For: 198.51.100.99") // last used now

		got := e.sessions(aPhone)
		now := e.clock.Now()
		want := []session{
			{ID: fidOf(t, rPhone), Created: loginAt.Add(time.Minute), LastUsed: loginAt.Add(time.Minute),
				Expires: loginAt.Add(time.Minute + 24*time.Hour), UserAgent: "Phone/2", IP: "2001:db8::20", Current: true},
			// The session keeps the login's client info; last used moves.
			{ID: fidOf(t, rLaptop), Created: loginAt, LastUsed: now, Expires: now.Add(24 * time.Hour),
				UserAgent: "Laptop/1", IP: "198.51.100.10", Current: false},
		}
		if len(got) != len(want) {
			t.Fatalf("sessions %+v, want %d", got, len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.ID != w.ID || !g.Created.Equal(w.Created) || !g.LastUsed.Equal(w.LastUsed) || !g.Expires.Equal(w.Expires) ||
				g.UserAgent != w.UserAgent || g.IP != w.IP || g.Current != w.Current {
				t.Errorf("session %d\n got  %+v\n want %+v", i, g, w)
			}
		}
		bobs := e.sessions(aBob)
		if len(bobs) != 1 || bobs[0].ID != fidOf(t, rBob) || !bobs[0].Current {
			t.Errorf("bob's sessions %+v", bobs)
		}
		// The raw body: exactly these members, nothing about tokens.
		r := e.do(http.MethodGet, "/api/sessions/", "", bearer(aBob))
		var raw []map[string]any
		if err := json.Unmarshal([]byte(r.body), &raw); err != nil || len(raw) != 1 || len(raw[0]) != 7 {
			t.Errorf("body %s", r.body)
		}
		if strings.Contains(r.body, "jti") || strings.Contains(r.body, rBob) {
			t.Errorf("the list reveals token material: %s", r.body)
		}
		wantAnswer(t, "without credentials", e.do(http.MethodGet, "/api/sessions/", ""), 401, bodyNotProvided)
		wantAnswer(t, "with a refresh token", e.do(http.MethodGet, "/api/sessions/", "", bearer(rBob)), 401, bodyGivenWrong)
	})
}

func TestDeleteSession(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store)
		e.register("Alice", "alice@example.com", password)
		e.register("Bob", "bob@example.com", password)
		access, keep := e.login("alice@example.com", password)
		_, victim := e.login("alice@example.com", password)
		_, bobs := e.login("bob@example.com", password)
		del := func(id string) response {
			return e.do(http.MethodDelete, "/api/sessions/"+id+"/", "", bearer(access))
		}
		const notFound = `{"detail":"Not found."}`
		for _, c := range []struct {
			name, id string
		}{
			{"someone-elses", fidOf(t, bobs)},
			{"unknown", "0123456789abcdef0123456789abcdef"},
			{"nul-byte", "ab%00cd"},
			{"invalid-utf8", "%ff%fe"},
			{"long", strings.Repeat("a", 2000)},
		} {
			wantAnswer(t, c.name, del(c.id), 404, notFound)
		}
		e.rotate(bobs) // bob's session survived alice's attempt

		r := del(fidOf(t, victim))
		wantAnswer(t, "own", r, 204, "")
		wantAnswer(t, "its refresh token", e.post("/api/token/refresh/", refreshBody(victim)), 401, bodyBlacklisted)
		wantAnswer(t, "own again", del(fidOf(t, victim)), 404, notFound)
		if f := e.familyOf(victim); f.RevokeReason != "session_revoked" {
			t.Errorf("reason %q", f.RevokeReason)
		}
		// Deleting the current session: 204, and its access token stops
		// working at once.
		wantAnswer(t, "current", del(fidOf(t, keep)), 204, "")
		wantAnswer(t, "access token of the deleted session", e.do("GET", "/api/sessions/", "", bearer(access)), 401, bodyGivenToken)
		wantAnswer(t, "without credentials", e.do(http.MethodDelete, "/api/sessions/"+fidOf(t, bobs)+"/", ""), 401, bodyNotProvided)
	})
}

// TestAccountChangesEndSessions: a password change, a deactivation and a
// deletion end every session of the user (users.Service, as the CLI and
// any admin path call it), and only that user's.
func TestAccountChangesEndSessions(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, e *env, u storage.User)
		// the refresh answer afterwards
		body string
		// reason on the family rows ("" when the rows are gone) and the
		// audit event types recorded
		reason string
		events []string
	}{
		{"password-change", func(t *testing.T, e *env, u storage.User) {
			if err := e.srv.Users.SetPassword(context.Background(), u.ID, "another-passphrase-7"); err != nil {
				t.Fatal(err)
			}
		}, bodyBlacklisted, "password_changed", []string{"password.changed", "family.revoked"}},
		{"deactivation", func(t *testing.T, e *env, u storage.User) {
			if err := e.srv.Users.SetActive(context.Background(), u.ID, false); err != nil {
				t.Fatal(err)
			}
		}, `{"detail":"No active account found for the given token.","code":"no_active_account"}`, "user_deactivated", []string{"user.deactivated", "family.revoked"}},
		{"deletion", func(t *testing.T, e *env, u storage.User) {
			if err := e.srv.Users.Delete(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
		}, `{"detail":"No active account found for the given token.","code":"no_active_account"}`, "", []string{"user.deleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
				e := newEnv(t, store)
				e.register("Acct", "acct@example.com", password)
				e.register("Bob", "bob@example.com", password)
				u := userRow(t, store, "acct@example.com")
				_, r1 := e.login("acct@example.com", password)
				_, r2 := e.login("acct@example.com", password)
				_, r2 = e.rotate(r2)
				_, bobs := e.login("bob@example.com", password)
				before := len(e.audit())

				tt.change(t, e, u)

				for i, r := range []string{r1, r2} {
					wantAnswer(t, fmt.Sprintf("session %d", i), e.post("/api/token/refresh/", refreshBody(r)), 401, tt.body)
					f, err := store.GetFamily(context.Background(), fidOf(t, r))
					switch {
					case tt.reason == "" && err == nil:
						t.Errorf("session %d still stored after deletion: %+v", i, f)
					case tt.reason != "" && (err != nil || f.RevokeReason != tt.reason || f.RevokedAt.IsZero()):
						t.Errorf("session %d: %+v, %v; want revoked for %s", i, f, err, tt.reason)
					}
				}
				var types []string
				for _, ev := range e.audit()[before:] {
					types = append(types, ev.Type)
					if ev.UserID != u.ID {
						t.Errorf("event %+v: user %d, want %d", ev, ev.UserID, u.ID)
					}
				}
				if !slices.Equal(types, tt.events) {
					t.Errorf("audit events %v, want %v", types, tt.events)
				}
				if tt.reason == "password_changed" {
					if ev := eventsOf(e.audit(), "family.revoked"); len(ev) != 1 || !strings.Contains(ev[0].Detail, "2 sessions") {
						t.Errorf("family.revoked %+v", ev)
					}
					// A login with the new password in the same second as the
					// change works, and its session refreshes.
					b := `{"email":"acct@example.com","password":"another-passphrase-7"}`
					r := e.post("/api/token/", b)
					wantAnswer(t, "login with the new password", r, 200, "")
					e.rotate(r.json(t)["refresh"].(string))
					wantAnswer(t, "login with the old password", e.post("/api/token/", `{"email":"acct@example.com","password":"`+password+`"}`), 401, bodyBadCreds)
				}
				e.rotate(bobs) // bob is untouched
			})
		})
	}
}

// TestJanitor: Flush deletes exactly the dead sessions (absolute end
// passed, idle too long, revoked past retention) and stale throttle
// state, and keeps live and recently revoked sessions.
func TestJanitor(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		ctx := context.Background()
		e := newEnv(t, store, func(c *config.Config) {
			c.Tokens.SessionTTL = 48 * time.Hour
			c.Tokens.RevokedRetention = 24 * time.Hour
			c.Tokens.FlushBatch = 2 // several statements
		})
		e.register("Jan", "jan@example.com", password)
		_, idle := e.login("jan@example.com", password)
		_, absolute := e.login("jan@example.com", password)
		_, revokedOld := e.login("jan@example.com", password)
		_, revokedRecent := e.login("jan@example.com", password)
		wantAnswer(t, "logout", e.post("/api/token/blacklist/", refreshBody(revokedOld)), 200, `{}`)
		// A failed login leaves throttle state (pair, IP, account); the
		// later successful logins from the same IP reset the pair.
		wantAnswer(t, "failed login", e.post("/api/token/", `{"email":"jan@example.com","password":"wrong"}`), 401, bodyBadCreds)

		e.clock.Advance(20 * time.Hour)
		_, absolute = e.rotate(absolute)
		_, revokedRecent = e.rotate(revokedRecent)
		e.clock.Advance(20 * time.Hour) // +40h
		_, absolute = e.rotate(absolute)
		_, revokedRecent = e.rotate(revokedRecent)
		_, live := e.login("jan@example.com", password)
		e.clock.Advance(7 * time.Hour) // +47h
		wantAnswer(t, "logout", e.post("/api/token/blacklist/", refreshBody(revokedRecent)), 200, `{}`)
		e.clock.Advance(time.Hour) // +48h: the first logins' absolute end

		sessions, throttles, err := e.srv.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Throttle keys: the failed login's IP and account counts and the
		// registration's per-IP count (the known-source marker stays).
		if sessions != 3 || throttles != 3 {
			t.Errorf("Flush deleted %d sessions and %d throttle keys, want 3 and 3", sessions, throttles)
		}
		for name, r := range map[string]string{"idle": idle, "absolute": absolute, "revoked-past-retention": revokedOld} {
			if _, err := store.GetFamily(ctx, fidOf(t, r)); err == nil {
				t.Errorf("%s: still stored", name)
			}
		}
		for name, r := range map[string]string{"live": live, "revoked-recently": revokedRecent} {
			if _, err := store.GetFamily(ctx, fidOf(t, r)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		wantAnswer(t, "recently revoked still blacklisted", e.post("/api/token/verify/", `{"token":"`+revokedRecent+`"}`), 401, bodyBlacklisted)
		e.rotate(live)
		if s, th, err := e.srv.Flush(ctx); err != nil || s != 0 || th != 0 {
			t.Errorf("second Flush = %d, %d, %v; want nothing", s, th, err)
		}
	})
}

// TestJanitorLoop: the running server flushes every tokens.flush_interval.
func TestJanitorLoop(t *testing.T) {
	store := storagetest.SQLite(t)
	cfg := testConfig()
	cfg.Tokens.FlushInterval = 20 * time.Millisecond
	clock := newClock()
	srv := newTestServer(t, store, Options{Config: cfg, Now: clock.Now})
	ctx := context.Background()
	u, err := store.CreateUser(ctx, storage.User{Email: "loop@example.com", PasswordHash: "!", IsActive: true, DateJoined: clock.Now(), PasswordChangedAt: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now().UTC().Truncate(time.Microsecond)
	dead := storage.Family{ID: "dead", UserID: u.ID, CreatedAt: now.Add(-31 * 24 * time.Hour), ExpiresAt: now.Add(-time.Hour),
		CurrentJTI: "j1", CurrentKID: "k", RotatedAt: now.Add(-2 * time.Hour)}
	live := storage.Family{ID: "live", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), CurrentJTI: "j2", CurrentKID: "k", RotatedAt: now}
	for _, f := range []storage.Family{dead, live} {
		if err := store.CreateFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	startRun(t, srv)
	eventually(t, 30*time.Second, "the janitor deletes the dead session", func() bool {
		_, err := store.GetFamily(ctx, "dead")
		return err != nil
	})
	if _, err := store.GetFamily(ctx, "live"); err != nil {
		t.Errorf("the janitor deleted a live session: %v", err)
	}
}
