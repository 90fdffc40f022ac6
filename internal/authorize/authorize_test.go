package authorize_test

import (
	"errors"
	"testing"
	"time"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// RFC 7636 Appendix B.
func TestVerifyPKCE(t *testing.T) {
	v, c := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, tc := range []struct {
		name, challenge, verifier string
		want                      bool
	}{
		{"rfc7636-appendix-b", c, v, true},
		{"wrong-verifier", c, v[:42] + "l", false},
		{"short-verifier", c, v[:42], false},
		{"bad-character", c, v[:42] + "+", false},
		{"no-challenge", "", v, false},
		{"plain-is-not-s256", v, v, false},
	} {
		if got := authorize.VerifyPKCE(tc.challenge, tc.verifier); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	if !authorize.ValidChallenge(c) || authorize.ValidChallenge(v[:20]) || authorize.ValidChallenge(c+"=") {
		t.Error("ValidChallenge")
	}
}

type fixture struct {
	st  storage.Store
	svc *authorize.Service
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{st: storagetest.SQLite(t), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.svc = authorize.New(authorize.Options{Store: f.st, Now: func() time.Time { return f.now }})
	return f
}

func (f *fixture) user(t *testing.T) storage.User {
	t.Helper()
	u, err := f.st.CreateUser(t.Context(), storage.User{Email: "a@example.com", Name: "A", PasswordHash: "x", IsActive: true,
		DateJoined: f.now, PasswordChangedAt: f.now})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) family(t *testing.T, userID int64, id string) {
	t.Helper()
	if err := f.st.CreateFamily(t.Context(), storage.Family{ID: id, UserID: userID, CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour),
		CurrentJTI: "j-" + id, CurrentKID: "k", RotatedAt: f.now}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) revoked(t *testing.T, id string) bool {
	fam, err := f.st.GetFamily(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return !fam.RevokedAt.IsZero()
}

func TestCodesSingleUseReplayRevokes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.user(t)
	code, err := f.svc.IssueCode(ctx, authorize.Code{ClientID: "app", RedirectURI: "https://rp/cb", UserID: u.ID, Scopes: []string{"openid"}})
	if err != nil || len(code) != 43 {
		t.Fatalf("IssueCode: %q %v", code, err)
	}
	got, err := f.svc.Redeem(ctx, code)
	if err != nil || got.ClientID != "app" || got.UserID != u.ID {
		t.Fatalf("Redeem: %+v %v", got, err)
	}
	f.family(t, u.ID, "fam1")
	if err := f.svc.Issued(ctx, code, "fam1", "jti1", f.now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Redeem(ctx, code); !errors.Is(err, authorize.ErrCodeReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if !f.revoked(t, "fam1") {
		t.Fatal("a replay must revoke the first redemption's family")
	}
	if ok, _ := f.st.IsTokenRevoked(ctx, "jti1"); !ok {
		t.Fatal("a replay must deny-list the first redemption's access token")
	}
	late, _ := f.svc.IssueCode(ctx, authorize.Code{ClientID: "app"})
	f.now = f.now.Add(61 * time.Second)
	if _, err := f.svc.Redeem(ctx, late); !errors.Is(err, authorize.ErrInvalidCode) {
		t.Fatalf("expired code: %v", err)
	}
	for _, bad := range []string{"", "x", code[:42] + "A", "é" + code[2:]} {
		if _, err := f.svc.Redeem(ctx, bad); !errors.Is(err, authorize.ErrInvalidCode) && !errors.Is(err, authorize.ErrCodeReplayed) {
			t.Fatalf("Redeem(%q): %v", bad, err)
		}
	}
}

func TestConsentWithdrawEndsFamilies(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.user(t)
	if err := f.svc.Remember(ctx, u.ID, "app", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	_ = f.svc.Remember(ctx, u.ID, "app", []string{"email"})
	if ok, _ := f.svc.Consented(ctx, u.ID, "app", []string{"openid", "email"}); !ok {
		t.Fatal("consents add up")
	}
	if ok, _ := f.svc.Consented(ctx, u.ID, "app", []string{"offline_access"}); ok {
		t.Fatal("a scope never consented to")
	}
	f.family(t, u.ID, "fa")
	f.family(t, u.ID, "fb")
	_ = f.svc.Link(ctx, storage.GrantLink{FamilyID: "fa", BrowserSessionID: "s1", ClientID: "app", UserID: u.ID, AuthTime: f.now})
	_ = f.svc.Link(ctx, storage.GrantLink{FamilyID: "fb", BrowserSessionID: "s1", ClientID: "other", UserID: u.ID, AuthTime: f.now})
	n, err := f.svc.WithdrawConsent(ctx, u.ID, "app")
	if err != nil || n != 1 || !f.revoked(t, "fa") || f.revoked(t, "fb") {
		t.Fatalf("WithdrawConsent: %d %v", n, err)
	}
	if _, err := f.svc.WithdrawConsent(ctx, u.ID, "app"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("withdraw twice: %v", err)
	}
	if n, err := f.svc.EndSession(ctx, "s1"); err != nil || n != 1 || !f.revoked(t, "fb") {
		t.Fatalf("EndSession: %d %v", n, err)
	}
}

func TestPendingRequests(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id, r, err := f.svc.Park(ctx, authorize.Request{ClientID: "app", Scopes: []string{"openid"}, MaxAge: -1})
	if err != nil || len(id) != 22 || r.CreatedAt.IsZero() {
		t.Fatalf("Park: %q %+v %v", id, r, err)
	}
	if err := f.svc.Decide(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Pending(ctx, id)
	if err != nil || !got.Denied || got.Consented {
		t.Fatalf("Pending: %+v %v", got, err)
	}
	f.now = f.now.Add(11 * time.Minute)
	if _, err := f.svc.Pending(ctx, id); !errors.Is(err, authorize.ErrUnknownRequest) {
		t.Fatalf("expired request: %v", err)
	}
	if _, err := f.svc.Pending(ctx, "nope"); !errors.Is(err, authorize.ErrUnknownRequest) {
		t.Fatalf("unknown request: %v", err)
	}
}
