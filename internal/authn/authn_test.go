package authn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
	"github.com/idp/idp/internal/users"
)

type fakeUsers struct {
	calls int
	got   [2]string
	user  storage.User
	err   error
}

func (f *fakeUsers) Authenticate(_ context.Context, email, password string) (storage.User, error) {
	f.calls++
	f.got = [2]string{email, password}
	return f.user, f.err
}

type fakeGuard struct {
	wait                   time.Duration
	admitErr, failErr      error
	admitted, failed, oked []throttle.Attempt
	okUser                 int64
}

func (g *fakeGuard) Admit(_ context.Context, a throttle.Attempt) (time.Duration, error) {
	g.admitted = append(g.admitted, a)
	return g.wait, g.admitErr
}
func (g *fakeGuard) Failed(_ context.Context, a throttle.Attempt) error {
	g.failed = append(g.failed, a)
	return g.failErr
}
func (g *fakeGuard) Succeeded(_ context.Context, a throttle.Attempt, id int64) error {
	g.oked = append(g.oked, a)
	g.okUser = id
	return nil
}

func TestLogin(t *testing.T) {
	alice := storage.User{ID: 7, Email: "alice@example.com", IsActive: true}
	in := authn.Attempt{Email: " Alice@Example.COM ", Password: "pw", IP: "192.0.2.1", UserAgent: "ua/1"}
	wantAttempt := throttle.Attempt{Email: users.NormalizeEmail(in.Email), Identifier: "Alice@example.com", IP: "192.0.2.1", UserAgent: "ua/1"}
	storeDown := errors.New("store down")
	cases := []struct {
		name  string
		u     fakeUsers
		g     fakeGuard
		check func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard)
	}{
		{name: "success/counted-and-returned", u: fakeUsers{user: alice},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				if err != nil || res.User.ID != alice.ID {
					t.Fatalf("Login = %+v, %v", res, err)
				}
				if len(g.oked) != 1 || g.oked[0] != wantAttempt || g.okUser != alice.ID || len(g.failed) != 0 {
					t.Errorf("guard told ok=%+v(%d) failed=%+v", g.oked, g.okUser, g.failed)
				}
				if u.got != [2]string{in.Email, in.Password} {
					t.Errorf("Authenticate(%q)", u.got)
				}
			}},
		{name: "wrong-password/failed", u: fakeUsers{err: users.ErrInvalidCredentials},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				if !errors.Is(err, authn.ErrInvalidCredentials) {
					t.Fatalf("err = %v", err)
				}
				if len(g.failed) != 1 || g.failed[0] != wantAttempt || len(g.oked) != 0 {
					t.Errorf("guard failed=%+v ok=%+v", g.failed, g.oked)
				}
			}},
		{name: "throttled/no-password-work", g: fakeGuard{wait: 30 * time.Second},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				var te *authn.ThrottledError
				if !errors.As(err, &te) || te.RetryAfter != 30*time.Second || !errors.Is(err, authn.ErrThrottled) {
					t.Fatalf("err = %v", err)
				}
				if u.calls != 0 || len(g.failed)+len(g.oked) != 0 {
					t.Errorf("throttled attempt did password work (%d) or was counted", u.calls)
				}
			}},
		{name: "busy/not-counted", u: fakeUsers{err: fmt.Errorf("verify: %w", users.ErrBusy)},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				if !errors.Is(err, authn.ErrBusy) {
					t.Fatalf("err = %v", err)
				}
				if len(g.failed)+len(g.oked) != 0 {
					t.Errorf("busy attempt counted")
				}
			}},
		{name: "admit-store-error/internal", g: fakeGuard{admitErr: storeDown},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				if !errors.Is(err, storeDown) || u.calls != 0 {
					t.Fatalf("err = %v, calls %d", err, u.calls)
				}
			}},
		{name: "failed-store-error/internal", u: fakeUsers{err: users.ErrInvalidCredentials}, g: fakeGuard{failErr: storeDown},
			check: func(t *testing.T, res authn.Result, err error, u *fakeUsers, g *fakeGuard) {
				if !errors.Is(err, storeDown) || errors.Is(err, authn.ErrInvalidCredentials) {
					t.Fatalf("err = %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := authn.New(authn.Options{Users: &tc.u, Guard: &tc.g})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Login(context.Background(), in)
			tc.check(t, res, err, &tc.u, &tc.g)
		})
	}
}

func TestNewRequiresUsers(t *testing.T) {
	if _, err := authn.New(authn.Options{}); err == nil {
		t.Fatal("New without Users succeeded")
	}
}

// TestIdentifierNeverRaw: logs and audit name an attempt by its address
// only when it is a valid one; anything else (a password typed into the
// email field) by a keyed hash, stable for one key, different across keys.
func TestIdentifierNeverRaw(t *testing.T) {
	key1, key2 := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	ident := func(key []byte, email string) string {
		g := &fakeGuard{}
		s, err := authn.New(authn.Options{Users: &fakeUsers{err: users.ErrInvalidCredentials}, Guard: g, IdentifierKey: key})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Login(context.Background(), authn.Attempt{Email: email, Password: "x"})
		return g.admitted[0].Identifier
	}
	for _, tc := range []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{" Bob@EXAMPLE.com ", "Bob@example.com"},
	} {
		if got := ident(key1, tc.in); got != tc.want {
			t.Errorf("identifier(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, raw := range []string{"Tr0ub4dor&3", "hunter2", "not an@address", "a@b@c", "", strings.Repeat("x", 400) + "@example.com"} {
		got := ident(key1, raw)
		if !strings.HasPrefix(got, "hmac:") || len(got) != len("hmac:")+16 || (raw != "" && strings.Contains(got, raw)) {
			t.Errorf("identifier(%q) = %q, want a keyed hash", raw, got)
		}
		if again := ident(key1, raw); again != got {
			t.Errorf("identifier(%q) not stable: %q then %q", raw, got, again)
		}
		if other := ident(key2, raw); other == got {
			t.Errorf("identifier(%q) the same under another key", raw)
		}
	}
}
