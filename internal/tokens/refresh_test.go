package tokens_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/tokens"
)

func TestRefreshChain(t *testing.T) {
	e := sqliteEnv(t, nil)
	p0 := e.login()
	seen := map[string]bool{p0.Refresh: true, p0.Access: true}
	cur := p0
	for gen := int64(1); gen <= 3; gen++ {
		e.clock.Advance(time.Minute)
		next, err := e.refresh(cur.Refresh)
		if err != nil {
			t.Fatalf("generation %d: %v", gen, err)
		}
		if seen[next.Refresh] || seen[next.Access] {
			t.Fatalf("generation %d repeated a token", gen)
		}
		seen[next.Refresh], seen[next.Access] = true, true
		f := e.family(next.Refresh)
		c := mustClaims(t, next.Refresh)
		if f.Generation != gen || c["jti"] != f.CurrentJTI || mustClaims(t, cur.Refresh)["jti"] != f.PreviousJTI {
			t.Fatalf("generation %d: family %+v", gen, f)
		}
		// iat is the rotation, auth_time stays the login, exp slides.
		now := e.clock.Now()
		if c["iat"].(interface{ String() string }).String() != strconv.FormatInt(now.Unix(), 10) ||
			c["auth_time"].(interface{ String() string }).String() != strconv.FormatInt(t0.Unix(), 10) ||
			c["exp"].(interface{ String() string }).String() != strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10) {
			t.Errorf("generation %d claims = %v", gen, c)
		}
		if _, err := e.svc.VerifyAccess(context.Background(), next.Access); err != nil {
			t.Fatalf("new access token: %v", err)
		}
		if err := e.svc.Verify(context.Background(), next.Refresh); err != nil {
			t.Fatalf("verify new refresh token: %v", err)
		}
		cur = next
	}
	// Earlier access tokens stay valid until they expire.
	if _, err := e.svc.VerifyAccess(context.Background(), p0.Access); err != nil {
		t.Fatalf("first access token: %v", err)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := sqliteEnv(t, nil)
	p0 := e.login()
	p1, err := e.refresh(p0.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Second) // past the grace window

	if _, err := e.refresh(p0.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
		t.Fatalf("reuse: err = %v, want ErrBlacklisted", err)
	}
	f := e.family(p1.Refresh)
	if f.RevokedAt.IsZero() || f.RevokeReason != "reuse_detected" {
		t.Fatalf("family not revoked: %+v", f)
	}
	// The current token of the family is dead too.
	if _, err := e.refresh(p1.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
		t.Fatalf("current token after reuse: err = %v, want ErrBlacklisted", err)
	}
	if err := e.svc.Verify(context.Background(), p1.Refresh); !errors.Is(err, tokens.ErrBlacklisted) {
		t.Fatalf("verify current after reuse: err = %v", err)
	}
	events, err := e.store.ListAudit(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("audit events = %+v, want one", events)
	}
	ev := events[0]
	if ev.Type != "refresh.reuse_detected" || ev.UserID != e.user.ID || ev.FamilyID != f.ID ||
		ev.IP != "192.0.2.1" || ev.UserAgent != "test/1.0" {
		t.Errorf("audit event = %+v", ev)
	}
	// Another login is unaffected.
	other := e.login()
	if _, err := e.refresh(other.Refresh); err != nil {
		t.Fatalf("other family: %v", err)
	}
}

func TestRefreshGrace(t *testing.T) {
	tests := []struct {
		name string
		// presents the token of generation `use` at `after` the rotation to
		// generation `rotations`.
		rotations int
		use       int
		after     time.Duration
		grace     time.Duration
		want      error // nil: the grace answer
	}{
		{"predecessor-immediately", 1, 0, 0, 10 * time.Second, nil},
		{"predecessor-at-window-end", 1, 0, 10 * time.Second, 10 * time.Second, nil},
		{"predecessor-after-window", 1, 0, 10*time.Second + time.Microsecond, 10 * time.Second, tokens.ErrBlacklisted},
		{"two-generations-old-within-window", 2, 0, time.Second, 10 * time.Second, tokens.ErrBlacklisted},
		{"grace-disabled", 1, 0, 0, 0, tokens.ErrBlacklisted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sqliteEnv(t, func(o *tokens.Options) { o.RefreshGrace = tt.grace })
			chain := []tokens.Pair{e.login()}
			for i := range tt.rotations {
				e.clock.Advance(time.Second)
				p, err := e.refresh(chain[i].Refresh)
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, p)
			}
			winner := chain[len(chain)-1]
			before := e.family(winner.Refresh)
			e.clock.Advance(tt.after)

			got, err := e.refresh(chain[tt.use].Refresh)
			after := e.family(winner.Refresh)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if after.RevokedAt.IsZero() {
					t.Fatal("reuse did not revoke the family")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Refresh != winner.Refresh {
				t.Fatal("grace answer is not the winner's refresh token, byte for byte")
			}
			if got.Access == winner.Access {
				t.Error("grace answer reused the winner's access token")
			}
			if _, err := e.svc.VerifyAccess(context.Background(), got.Access); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("grace changed the family:\nbefore %+v\nafter  %+v", before, after)
			}
			// Both tabs now hold the current token; the chain goes on.
			if _, err := e.refresh(got.Refresh); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRefreshRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(e *env, p tokens.Pair) string // returns the token to refresh
		opts  func(*tokens.Options)
		want  error
	}{
		{"access-used-as-refresh", func(e *env, p tokens.Pair) string { return p.Access }, nil, tokens.ErrWrongType},
		{"garbage", func(e *env, p tokens.Pair) string { return "garbage" }, nil, tokens.ErrTokenInvalid},
		{"expired-refresh", func(e *env, p tokens.Pair) string {
			e.clock.Advance(24*time.Hour + time.Minute)
			return p.Refresh
		}, nil, tokens.ErrTokenInvalid},
		{"inactive-user", func(e *env, p tokens.Pair) string {
			if err := e.store.SetUserActive(ctx, e.user.ID, false); err != nil {
				e.t.Fatal(err)
			}
			return p.Refresh
		}, nil, tokens.ErrNoActiveAccount},
		{"deleted-user", func(e *env, p tokens.Pair) string {
			if err := e.store.DeleteUser(ctx, e.user.ID); err != nil {
				e.t.Fatal(err)
			}
			return p.Refresh
		}, nil, tokens.ErrNoActiveAccount},
		{"password-changed-after-login", func(e *env, p tokens.Pair) string {
			e.clock.Advance(time.Minute)
			if err := e.store.SetPasswordHash(ctx, e.user.ID, "y", e.clock.Now()); err != nil {
				e.t.Fatal(err)
			}
			return p.Refresh
		}, nil, tokens.ErrBlacklisted},
		{"family-revoked-by-logout", func(e *env, p tokens.Pair) string {
			if _, err := e.store.RevokeFamily(ctx, e.family(p.Refresh).ID, e.clock.Now(), "logout"); err != nil {
				e.t.Fatal(err)
			}
			return p.Refresh
		}, nil, tokens.ErrBlacklisted},
		{"family-unknown", func(e *env, p tokens.Pair) string {
			c := refreshClaims(e, p)
			c["fid"] = "0000"
			return forge(e.t, e.rsa, jwa.RS256, "rt+jwt", "", c)
		}, nil, tokens.ErrTokenInvalid},
		{"family-of-another-user", func(e *env, p tokens.Pair) string {
			bob, err := e.store.CreateUser(ctx, storage.User{Email: "bob@example.com", IsActive: true, PasswordHash: "x", DateJoined: t0, PasswordChangedAt: t0})
			if err != nil {
				e.t.Fatal(err)
			}
			c := refreshClaims(e, p)
			c["user_id"], c["sub"] = bob.ID, strconv.FormatInt(bob.ID, 10)
			c["jti"] = "ffffffffffffffffffffffffffffffff"
			return forge(e.t, e.rsa, jwa.RS256, "rt+jwt", "", c)
		}, nil, tokens.ErrTokenInvalid},
		{"refresh-aud-not-issuer", func(e *env, p tokens.Pair) string {
			c := refreshClaims(e, p)
			c["aud"] = "api"
			return forge(e.t, e.rsa, jwa.RS256, "rt+jwt", "", c)
		}, nil, tokens.ErrTokenInvalid},
		{"refresh-without-fid", func(e *env, p tokens.Pair) string {
			c := refreshClaims(e, p)
			delete(c, "fid")
			return forge(e.t, e.rsa, jwa.RS256, "rt+jwt", "", c)
		}, nil, tokens.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sqliteEnv(t, tt.opts)
			p := e.login()
			tok := tt.setup(e, p)
			_, err := e.refresh(tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// refreshClaims are the claims of p's refresh token, for forging variants.
func refreshClaims(e *env, p tokens.Pair) map[string]any {
	_, c := decode(e.t, p.Refresh)
	for _, k := range []string{"exp", "iat", "auth_time", "user_id"} {
		n, _ := c[k].(interface{ Int64() (int64, error) }).Int64()
		c[k] = n
	}
	return c
}

func TestSessionAbsoluteExpiryCapsRefreshExp(t *testing.T) {
	e := sqliteEnv(t, func(o *tokens.Options) { o.SessionTTL = 30 * time.Hour })
	p := e.login()
	e.clock.Advance(20 * time.Hour)
	next, err := e.refresh(p.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	f := e.family(next.Refresh)
	exp := mustClaims(t, next.Refresh)["exp"].(interface{ String() string }).String()
	if exp != strconv.FormatInt(f.ExpiresAt.Unix(), 10) || f.ExpiresAt.Unix() != t0.Add(30*time.Hour).Unix() {
		t.Fatalf("exp = %s, want the session end %v", exp, f.ExpiresAt)
	}
	e.clock.Advance(10*time.Hour + time.Minute) // the session is over, leeway included
	if _, err := e.refresh(next.Refresh); !errors.Is(err, tokens.ErrTokenInvalid) {
		t.Fatalf("after session end: err = %v", err)
	}
}

func TestLoginInactiveUser(t *testing.T) {
	e := sqliteEnv(t, nil)
	u := e.user
	u.IsActive = false
	if _, err := e.svc.Login(context.Background(), u, tokens.Client{}); !errors.Is(err, tokens.ErrNoActiveAccount) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoginCleansClientInfo(t *testing.T) {
	e := sqliteEnv(t, nil)
	long := make([]byte, 600)
	for i := range long {
		long[i] = 'a'
	}
	long[511] = 0xC3 // a broken multi-byte sequence at the cut
	p, err := e.svc.Login(context.Background(), e.user, tokens.Client{IP: "10.0.0.1\x00", UserAgent: string(long)})
	if err != nil {
		t.Fatal(err)
	}
	f := e.family(p.Refresh)
	if len(f.UserAgent) > 512 || f.IP != "10.0.0.1" {
		t.Fatalf("family client info: %d bytes UA, IP %q", len(f.UserAgent), f.IP)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	e := sqliteEnv(t, nil)
	p0 := e.login()
	p1, err := e.refresh(p0.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	revoked := e.login()
	if _, err := e.store.RevokeFamily(ctx, e.family(revoked.Refresh).ID, e.clock.Now(), "logout"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		advance time.Duration
		tok     string
		want    error
	}{
		{"access", 0, p1.Access, nil},
		{"refresh-current", 0, p1.Refresh, nil},
		{"refresh-predecessor-within-grace", 0, p0.Refresh, nil},
		{"refresh-predecessor-after-grace", 11 * time.Second, p0.Refresh, tokens.ErrBlacklisted},
		{"refresh-current-after-grace", 0, p1.Refresh, nil},
		{"refresh-revoked-family", 0, revoked.Refresh, tokens.ErrBlacklisted},
		{"access-of-revoked-family-still-valid", 0, revoked.Access, nil},
		{"garbage", 0, "x.y.z", tokens.ErrTokenInvalid},
		{"expired-access", 10 * time.Minute, p1.Access, tokens.ErrTokenInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			err := e.svc.Verify(ctx, tt.tok)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Verify never rotates nor revokes.
	if f := e.family(p1.Refresh); f.Generation != 1 || !f.RevokedAt.IsZero() {
		t.Fatalf("verify changed the family: %+v", f)
	}
}

// TestConcurrentRefresh: many tabs refresh one token at once. One rotation
// happens; every caller gets the winner's refresh token (the others are
// within the grace window); the family is never forked.
func TestConcurrentRefresh(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		e := newEnv(t, st, nil)
		p := e.login()
		const n = 50
		pairs := make([]tokens.Pair, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				pairs[i], errs[i] = e.refresh(p.Refresh)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
			if pairs[i].Refresh != pairs[0].Refresh {
				t.Fatalf("refresh %d got a different refresh token: the family forked", i)
			}
			if _, err := e.svc.VerifyAccess(context.Background(), pairs[i].Access); err != nil {
				t.Fatalf("access %d: %v", i, err)
			}
		}
		f := e.family(p.Refresh)
		if f.Generation != 1 || !f.RevokedAt.IsZero() || mustClaims(t, pairs[0].Refresh)["jti"] != f.CurrentJTI {
			t.Fatalf("family after the race: %+v", f)
		}
	})
}
