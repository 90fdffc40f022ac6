package tokens_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idp/idp/internal/tokens"
)

// TestRevokedSessions: the set learns revocations made through its
// Families at once, others at Sync, forgets them past the horizon, and
// reads the store when it has not been synced for 5 s.
func TestRevokedSessions(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	r, err := tokens.NewRevokedSessions(tokens.RevokedOptions{Store: e.store, Families: e.store, Poll: time.Second, Horizon: 6 * time.Minute, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	svc := e.with(func(o *tokens.Options) { o.Revoked = r; o.Families = r.Families(e.store) })
	login := func() (access, fid string) {
		p, err := svc.Login(ctx, e.user, tokens.Client{})
		if err != nil {
			t.Fatal(err)
		}
		_, c := decode(t, p.Refresh)
		return p.Access, c["fid"].(string)
	}
	live := func(what, access string, want bool) {
		t.Helper()
		_, err := svc.VerifyAccess(ctx, access)
		if want && err != nil || !want && !errors.Is(err, tokens.ErrTokenInvalid) {
			t.Errorf("%s: VerifyAccess = %v, want live=%v", what, err, want)
		}
	}
	a1, f1 := login()
	a2, f2 := login()
	live("fresh", a1, true)
	if err := svc.RevokeSession(ctx, e.user.ID, f1, tokens.Client{}); err != nil {
		t.Fatal(err)
	}
	live("revoked here: at once", a1, false)
	live("other session", a2, true)
	if _, err := e.store.RevokeFamily(ctx, f2, e.clock.Now(), "elsewhere"); err != nil {
		t.Fatal(err)
	}
	live("revoked elsewhere, before the poll", a2, true)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	live("revoked elsewhere, after the poll", a2, false)
	a3, f3 := login()
	if _, err := e.store.RevokeFamily(ctx, f3, e.clock.Now(), "elsewhere"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5*time.Second + time.Millisecond)
	live("no poll for 5 s: the store decides", a3, false)
	a4, _ := login()
	if _, err := svc.RevokeAllSessions(ctx, e.user.ID, tokens.Client{}); err != nil {
		t.Fatal(err)
	}
	live("logout-all here: at once", a4, false)
}

// BenchmarkSessionCheck: VerifyAccess with and without the session check
// (the set holding 1000 revoked sessions).
func BenchmarkSessionCheck(b *testing.B) {
	for _, check := range []bool{false, true} {
		name := "off"
		if check {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			e := sqliteEnv(b, nil)
			ctx := context.Background()
			svc := e.svc
			if check {
				r, err := tokens.NewRevokedSessions(tokens.RevokedOptions{Store: e.store, Families: e.store, Now: e.clock.Now})
				if err != nil {
					b.Fatal(err)
				}
				svc = e.with(func(o *tokens.Options) { o.Revoked = r; o.Families = r.Families(e.store) })
				for range 1000 {
					p, _ := svc.Login(ctx, e.user, tokens.Client{})
					_ = svc.Logout(ctx, p.Refresh, tokens.Client{})
				}
				if err := r.Sync(ctx); err != nil {
					b.Fatal(err)
				}
			}
			tok, err := svc.SignAccess(e.user, e.clock.Now())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.VerifyAccess(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
