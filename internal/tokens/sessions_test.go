package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/tokens"
)

// Sessions other than refreshing: logout, listing, revoking one or all,
// the lifetime limits and the janitor. Clock injected, nothing sleeps.

var (
	laptop = tokens.Client{IP: "192.0.2.10", UserAgent: "Firefox/130 (laptop)"}
	phone  = tokens.Client{IP: "2001:db8::20", UserAgent: "Safari/18 (phone)"}
)

func (e *env) loginFrom(u storage.User, c tokens.Client) tokens.Pair {
	e.t.Helper()
	p, err := e.svc.Login(context.Background(), u, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) mustRefresh(tok string) tokens.Pair {
	e.t.Helper()
	p, err := e.refresh(tok)
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	return p
}

func (e *env) otherUser(email string) storage.User {
	e.t.Helper()
	u, err := e.store.CreateUser(context.Background(), storage.User{
		Email: email, Name: "Other", PasswordHash: "x", IsActive: true,
		DateJoined: t0.Add(-time.Hour), PasswordChangedAt: t0.Add(-time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) auditEvents() []storage.AuditEvent {
	e.t.Helper()
	ev, err := e.store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (e *env) sessionIDs(userID int64, current string) []string {
	e.t.Helper()
	list, err := e.svc.Sessions(context.Background(), userID, current)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := []string{}
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

func fid(t testing.TB, tok string) string {
	t.Helper()
	_, c := decode(t, tok)
	return c["fid"].(string)
}

func claimInt(t testing.TB, tok, name string) int64 {
	t.Helper()
	_, c := decode(t, tok)
	n, err := c[name].(json.Number).Int64()
	if err != nil {
		t.Fatalf("claim %s: %v", name, err)
	}
	return n
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup returns the token to log out with and the session's other
		// tokens, which must all be dead afterwards.
		setup func(e *env) (tok string, others []string)
		want  error
	}{
		{"current-token", func(e *env) (string, []string) {
			p0 := e.login()
			p1 := e.mustRefresh(p0.Refresh)
			return p1.Refresh, []string{p0.Refresh}
		}, nil},
		{"first-token-of-fresh-session", func(e *env) (string, []string) {
			return e.login().Refresh, nil
		}, nil},
		{"rotated-out-token-still-ends-session", func(e *env) (string, []string) {
			p0 := e.login()
			p1 := e.mustRefresh(p0.Refresh)
			e.clock.Advance(time.Minute) // past the grace window too
			return p0.Refresh, []string{p1.Refresh}
		}, nil},
		{"already-logged-out", func(e *env) (string, []string) {
			p := e.login()
			if err := e.svc.Logout(ctx, p.Refresh, laptop); err != nil {
				e.t.Fatal(err)
			}
			return p.Refresh, nil
		}, tokens.ErrBlacklisted},
		{"session-revoked-by-reuse", func(e *env) (string, []string) {
			p0 := e.login()
			p1 := e.mustRefresh(p0.Refresh)
			e.clock.Advance(time.Minute)
			if _, err := e.refresh(p0.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
				e.t.Fatalf("reuse: %v", err)
			}
			return p1.Refresh, nil
		}, tokens.ErrBlacklisted},
		{"access-token", func(e *env) (string, []string) { return e.login().Access, nil }, tokens.ErrWrongType},
		{"garbage", func(e *env) (string, []string) { return "not.a.token", nil }, tokens.ErrTokenInvalid},
		{"expired", func(e *env) (string, []string) {
			p := e.login()
			e.clock.Advance(25 * time.Hour)
			return p.Refresh, nil
		}, tokens.ErrTokenInvalid},
		{"unknown-family", func(e *env) (string, []string) {
			c := refreshClaims(e, e.login())
			c["fid"] = "ffffffffffffffffffffffffffffffff"
			return forge(e.t, e.rsa, jwa.RS256, "rt+jwt", "", c), nil
		}, tokens.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sqliteEnv(t, nil)
			tok, others := tt.setup(e)
			before := len(e.auditEvents())
			err := e.svc.Logout(ctx, tok, laptop)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Logout: err = %v, want %v", err, tt.want)
				}
				if n := len(e.auditEvents()); n != before {
					t.Errorf("a refused logout recorded %d audit events", n-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Logout: %v", err)
			}
			f, gerr := e.store.GetFamily(ctx, fid(t, tok))
			if gerr != nil {
				t.Fatal(gerr)
			}
			if !f.RevokedAt.Equal(e.clock.Now()) || f.RevokeReason != "logout" {
				t.Errorf("family after logout: revoked %v reason %q", f.RevokedAt, f.RevokeReason)
			}
			for i, other := range append([]string{tok}, others...) {
				if _, err := e.refresh(other); !errors.Is(err, tokens.ErrBlacklisted) {
					t.Errorf("token %d of the session after logout: refresh err = %v, want ErrBlacklisted", i, err)
				}
				if err := e.svc.Verify(ctx, other); !errors.Is(err, tokens.ErrBlacklisted) {
					t.Errorf("token %d of the session after logout: verify err = %v, want ErrBlacklisted", i, err)
				}
			}
			// Logging out again is the blacklisted answer.
			if err := e.svc.Logout(ctx, tok, laptop); !errors.Is(err, tokens.ErrBlacklisted) {
				t.Errorf("second logout: err = %v, want ErrBlacklisted", err)
			}
			events := e.auditEvents()[before:]
			if len(events) != 1 {
				t.Fatalf("audit events %+v, want one", events)
			}
			ev := events[0]
			if ev.Type != "family.revoked" || ev.UserID != e.user.ID || ev.FamilyID != f.ID ||
				ev.IP != laptop.IP || ev.UserAgent != laptop.UserAgent || ev.Detail != "logout" {
				t.Errorf("audit event %+v", ev)
			}
			// The user's other sessions live on.
			other := e.login()
			if _, err := e.refresh(other.Refresh); err != nil {
				t.Errorf("another session after logout: %v", err)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		e := newEnv(t, s, func(o *tokens.Options) { o.SessionTTL = 30 * time.Hour })
		bob := e.otherUser("bob@example.com")

		onLaptop := e.loginFrom(e.user, laptop)
		e.clock.Advance(time.Hour)
		onPhone := e.loginFrom(e.user, phone)
		current, err := e.svc.VerifyAccess(ctx, onPhone.Access)
		if err != nil {
			t.Fatal(err)
		}
		e.loginFrom(bob, laptop)
		loggedOut := e.loginFrom(e.user, laptop)
		if err := e.svc.Logout(ctx, loggedOut.Refresh, laptop); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Hour)
		onLaptop = e.mustRefresh(onLaptop.Refresh) // last used now (t0+11h)

		if current.SessionID != fid(t, onPhone.Refresh) {
			t.Fatalf("access token sid %q, want its family %q", current.SessionID, fid(t, onPhone.Refresh))
		}
		list, err := e.svc.Sessions(ctx, e.user.ID, current.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		want := []tokens.Session{
			// Newest first (by login).
			{ID: fid(t, onPhone.Refresh), Created: t0.Add(time.Hour), LastUsed: t0.Add(time.Hour),
				ExpiresAt: t0.Add(25 * time.Hour), UserAgent: phone.UserAgent, IP: phone.IP, Current: true},
			// Refreshed: last used now, and the idle expiry (now + 24h) is
			// capped by the session's absolute end (t0 + 30h).
			{ID: fid(t, onLaptop.Refresh), Created: t0, LastUsed: now,
				ExpiresAt: t0.Add(30 * time.Hour), UserAgent: laptop.UserAgent, IP: laptop.IP, Current: false},
		}
		if len(list) != len(want) {
			t.Fatalf("sessions %+v, want %d", list, len(want))
		}
		for i := range want {
			if !sameSession(list[i], want[i]) {
				t.Errorf("session %d\n got  %+v\n want %+v", i, list[i], want[i])
			}
		}
		if ids := e.sessionIDs(bob.ID, ""); len(ids) != 1 || ids[0] == want[0].ID || ids[0] == want[1].ID {
			t.Errorf("bob's sessions %v", ids)
		}
		if ids := e.sessionIDs(e.user.ID, "someone-elses"); len(ids) != 2 {
			t.Errorf("sessions with a foreign current id: %v", ids)
		}
		// No user, no sessions: an empty list, not nil (renders as []).
		none, err := e.svc.Sessions(ctx, bob.ID+1000, "")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("sessions of nobody = %#v, %v", none, err)
		}
	})
}

func sameSession(a, b tokens.Session) bool {
	return a.ID == b.ID && a.Created.Equal(b.Created) && a.LastUsed.Equal(b.LastUsed) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.UserAgent == b.UserAgent && a.IP == b.IP && a.Current == b.Current
}

// TestSessionsHidesDead: a session that can no longer refresh is not
// listed.
func TestSessionsHidesDead(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		listed  bool
	}{
		{"fresh", 0, true},
		{"idle-almost-a-day", 24*time.Hour - time.Second, true},
		{"idle-a-day", 24 * time.Hour, false},
		{"past-absolute-end", 31 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sqliteEnv(t, func(o *tokens.Options) { o.SessionTTL = 30 * time.Hour })
			p := e.login()
			if tt.advance > 24*time.Hour {
				// Keep it from idling out: the absolute end decides.
				for range 3 {
					e.clock.Advance(10 * time.Hour)
					if e.clock.Now().Before(t0.Add(30 * time.Hour)) {
						p = e.mustRefresh(p.Refresh)
					}
				}
				e.clock.Set(t0.Add(tt.advance))
			} else {
				e.clock.Advance(tt.advance)
			}
			ids := e.sessionIDs(e.user.ID, "")
			if got := len(ids) == 1 && ids[0] == fid(t, p.Refresh); got != tt.listed {
				t.Fatalf("listed = %v (%v), want %v", got, ids, tt.listed)
			}
		})
	}
}

func TestRevokeSession(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		e := newEnv(t, s, nil)
		bob := e.otherUser("bob@example.com")
		mine := e.loginFrom(e.user, laptop)
		keep := e.loginFrom(e.user, phone)
		bobs := e.loginFrom(bob, phone)

		tests := []struct {
			name string
			user int64
			sid  string
			want error
		}{
			{"someone-elses", e.user.ID, fid(t, bobs.Refresh), tokens.ErrNoSession},
			{"unknown", e.user.ID, "0123456789abcdef0123456789abcdef", tokens.ErrNoSession},
			{"empty", e.user.ID, "", tokens.ErrNoSession},
			{"nul-byte", e.user.ID, "ab\x00cd", tokens.ErrNoSession},
			{"own", e.user.ID, fid(t, mine.Refresh), nil},
			{"own-again", e.user.ID, fid(t, mine.Refresh), tokens.ErrNoSession},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.auditEvents())
				err := e.svc.RevokeSession(ctx, tt.user, tt.sid, laptop)
				if tt.want != nil {
					if !errors.Is(err, tt.want) {
						t.Fatalf("err = %v, want %v", err, tt.want)
					}
					if n := len(e.auditEvents()) - before; n != 0 {
						t.Errorf("%d audit events for a refused revocation", n)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				f := e.family(mine.Refresh)
				if f.RevokedAt.IsZero() || f.RevokeReason != "session_revoked" {
					t.Errorf("family %+v", f)
				}
				ev := e.auditEvents()[before:]
				if len(ev) != 1 || ev[0].Type != "family.revoked" || ev[0].FamilyID != f.ID || ev[0].UserID != e.user.ID ||
					ev[0].IP != laptop.IP || ev[0].Detail != "session_revoked" {
					t.Errorf("audit %+v", ev)
				}
				if _, err := e.refresh(mine.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
					t.Errorf("refresh of the revoked session: %v", err)
				}
			})
		}
		// Bob's session and alice's other one are untouched.
		for name, p := range map[string]tokens.Pair{"bob": bobs, "alice-phone": keep} {
			if _, err := e.refresh(p.Refresh); err != nil {
				t.Errorf("%s's session after the revocations: %v", name, err)
			}
		}
	})
}

func TestRevokeAllSessions(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		e := newEnv(t, s, nil)
		bob := e.otherUser("bob@example.com")
		a1, a2 := e.loginFrom(e.user, laptop), e.loginFrom(e.user, phone)
		a0 := e.loginFrom(e.user, phone)
		if err := e.svc.Logout(ctx, a0.Refresh, phone); err != nil {
			t.Fatal(err)
		}
		b := e.loginFrom(bob, laptop)
		before := len(e.auditEvents())

		n, err := e.svc.RevokeAllSessions(ctx, e.user.ID, laptop)
		if err != nil || n != 2 {
			t.Fatalf("RevokeAllSessions = %d, %v; want 2 (the logged-out one is not counted)", n, err)
		}
		for i, p := range []tokens.Pair{a1, a2} {
			if _, err := e.refresh(p.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
				t.Errorf("session %d: %v", i, err)
			}
			if f := e.family(p.Refresh); f.RevokeReason != "logout_all" {
				t.Errorf("session %d reason %q", i, f.RevokeReason)
			}
		}
		if _, err := e.refresh(b.Refresh); err != nil {
			t.Errorf("bob's session: %v", err)
		}
		ev := e.auditEvents()[before:]
		if len(ev) != 1 || ev[0].Type != "family.revoked" || ev[0].UserID != e.user.ID || ev[0].IP != laptop.IP ||
			!strings.Contains(ev[0].Detail, "logout_all") || !strings.Contains(ev[0].Detail, "2 sessions") {
			t.Errorf("audit %+v", ev)
		}
		if ids := e.sessionIDs(e.user.ID, ""); len(ids) != 0 {
			t.Errorf("sessions left: %v", ids)
		}
		// Nothing left: zero, and no event.
		if n, err := e.svc.RevokeAllSessions(ctx, e.user.ID, laptop); err != nil || n != 0 {
			t.Errorf("second RevokeAllSessions = %d, %v", n, err)
		}
		if got := len(e.auditEvents()) - before; got != 1 {
			t.Errorf("%d audit events after the no-op, want still 1", got)
		}
	})
}

// TestSessionLimits: the refresh token's lifetime slides with use (idle
// timeout), the session's absolute lifetime caps it.
func TestSessionLimits(t *testing.T) {
	const (
		refreshTTL = 24 * time.Hour
		sessionTTL = 50 * time.Hour
		leeway     = 30 * time.Second
	)
	tests := []struct {
		name string
		// gaps between login and each refresh; the last one's outcome is
		// want, every earlier one must succeed.
		gaps []time.Duration
		want error
	}{
		{"idle-just-under-ttl", []time.Duration{refreshTTL - time.Second}, nil},
		{"idle-within-leeway", []time.Duration{refreshTTL + leeway - time.Second}, nil},
		{"idle-past-ttl-and-leeway", []time.Duration{refreshTTL + leeway}, tokens.ErrTokenInvalid},
		{"idle-after-refreshes", []time.Duration{10 * time.Hour, 10 * time.Hour, refreshTTL + leeway}, tokens.ErrTokenInvalid},
		{"regular-refreshes-keep-it-alive", []time.Duration{20 * time.Hour, 20 * time.Hour, 9*time.Hour + 59*time.Minute}, nil},
		{"absolute-end-despite-regular-refreshes", []time.Duration{20 * time.Hour, 20 * time.Hour, 10 * time.Hour}, tokens.ErrTokenInvalid},
		{"absolute-end-within-leeway-still-ends", []time.Duration{20 * time.Hour, 20 * time.Hour, 10*time.Hour + leeway - time.Second}, tokens.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sqliteEnv(t, func(o *tokens.Options) { o.RefreshTTL = refreshTTL; o.SessionTTL = sessionTTL })
			p := e.login()
			end := t0.Add(sessionTTL)
			for i, gap := range tt.gaps {
				e.clock.Advance(gap)
				next, err := e.refresh(p.Refresh)
				if i < len(tt.gaps)-1 || tt.want == nil {
					if err != nil {
						t.Fatalf("refresh %d at +%v: %v", i, e.clock.Now().Sub(t0), err)
					}
					exp := time.Unix(claimInt(t, next.Refresh, "exp"), 0)
					if exp.After(end) {
						t.Fatalf("refresh %d: exp %v beyond the session's end %v", i, exp, end)
					}
					if want := minTime(e.clock.Now().Add(refreshTTL), end); exp.Unix() != want.Unix() {
						t.Errorf("refresh %d: exp %v, want %v", i, exp, want)
					}
					p = next
					continue
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("refresh %d at +%v: err = %v, want %v", i, e.clock.Now().Sub(t0), err, tt.want)
				}
			}
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// TestFlush: the janitor deletes exactly the sessions that can never be
// used again and keeps the live and the recently revoked ones.
func TestFlush(t *testing.T) {
	for _, batch := range []int{1, 2, 100} {
		t.Run("batch-"+strconv.Itoa(batch), func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
				ctx := context.Background()
				const retention = 24 * time.Hour
				e := newEnv(t, s, func(o *tokens.Options) { o.RefreshTTL = 24 * time.Hour; o.SessionTTL = 48 * time.Hour })
				// t0: four logins.
				idle := e.login()
				absolute := e.login()
				revokedOld := e.login()
				revokedRecentExpired := e.login()
				if err := e.svc.Logout(ctx, revokedOld.Refresh, laptop); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(20 * time.Hour)
				absolute = e.mustRefresh(absolute.Refresh)
				revokedRecentExpired = e.mustRefresh(revokedRecentExpired.Refresh)
				e.clock.Advance(5 * time.Hour) // t0+25h
				idleAlmost := e.login()
				e.clock.Advance(15 * time.Hour) // t0+40h
				absolute = e.mustRefresh(absolute.Refresh)
				revokedRecentExpired = e.mustRefresh(revokedRecentExpired.Refresh)
				live := e.login()
				e.clock.Advance(7 * time.Hour) // t0+47h
				if err := e.svc.Logout(ctx, revokedRecentExpired.Refresh, laptop); err != nil {
					t.Fatal(err)
				}
				// t0+48h: the end of the t0 sessions; idle unused for 48h,
				// idleAlmost for 23h.
				e.clock.Advance(time.Hour)

				n, err := e.svc.Flush(ctx, batch, retention)
				if err != nil {
					t.Fatal(err)
				}
				gone := map[string]tokens.Pair{"idle": idle, "absolute": absolute, "revoked-past-retention": revokedOld}
				kept := map[string]tokens.Pair{"live": live, "revoked-recently-though-expired": revokedRecentExpired, "idle-almost": idleAlmost}
				if n != int64(len(gone)) {
					t.Errorf("Flush deleted %d, want %d", n, len(gone))
				}
				for name, p := range gone {
					if _, err := s.GetFamily(ctx, fid(t, p.Refresh)); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("%s: still stored (err %v)", name, err)
					}
				}
				for name, p := range kept {
					if _, err := s.GetFamily(ctx, fid(t, p.Refresh)); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				}
				// What is kept still behaves: the live session refreshes, the
				// revoked one is still answered "blacklisted".
				if _, err := e.refresh(live.Refresh); err != nil {
					t.Errorf("live session after flush: %v", err)
				}
				if err := e.svc.Verify(ctx, revokedRecentExpired.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
					t.Errorf("the revoked session after flush: verify err = %v, want ErrBlacklisted", err)
				}
				if n, err := e.svc.Flush(ctx, batch, retention); err != nil || n != 0 {
					t.Errorf("second Flush = %d, %v; want 0", n, err)
				}
				// Later, idleAlmost has idled out and revokedRecentExpired is
				// past retention; live (refreshed at t0+48h) stays.
				e.clock.Advance(23*time.Hour + 30*time.Minute)
				if n, err := tokens.FlushSessions(ctx, s, e.clock.Now(), 24*time.Hour, retention, batch); err != nil || n != 2 {
					t.Errorf("FlushSessions later = %d, %v; want 2", n, err)
				}
				if _, err := s.GetFamily(ctx, fid(t, live.Refresh)); err != nil {
					t.Errorf("live session after the second flush: %v", err)
				}
			})
		})
	}
}

// TestFlushZeroBatch: a non-positive batch must not spin.
func TestFlushZeroBatch(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n, err := tokens.FlushSessions(ctx, e.store, e.clock.Now(), 24*time.Hour, time.Hour, 0)
	if err == nil || n != 0 || ctx.Err() != nil {
		t.Fatalf("FlushSessions(batch 0) = %d, %v (ctx %v); want 0 and an error at once", n, err, ctx.Err())
	}
}
