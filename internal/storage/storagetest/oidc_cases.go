package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

var oidcCases = []testCase{
	{"authz-requests/round-trip-update-delete-expire", func(t *testing.T, s storage.Store) {
		r := storage.AuthorizationRequest{ID: "r1", ClientID: "app", Data: []byte(`{"a":1}`), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		wantErr(t, "create", s.CreateAuthorizationRequest(ctxT(t), r), nil)
		wantErr(t, "duplicate", s.CreateAuthorizationRequest(ctxT(t), r), storage.ErrConflict)
		got, err := s.GetAuthorizationRequest(ctxT(t), "r1")
		wantErr(t, "get", err, nil)
		r.CreatedAt, r.ExpiresAt = norm(r.CreatedAt), norm(r.ExpiresAt)
		wantEqual(t, "request", got, r)
		wantErr(t, "update", s.UpdateAuthorizationRequest(ctxT(t), "r1", []byte(`{"b":2}`)), nil)
		got, _ = s.GetAuthorizationRequest(ctxT(t), "r1")
		wantEqual(t, "data", string(got.Data), `{"b":2}`)
		wantErr(t, "update unknown", s.UpdateAuthorizationRequest(ctxT(t), "nope", nil), storage.ErrNotFound)
		_, err = s.GetAuthorizationRequest(ctxT(t), "nope")
		wantErr(t, "get unknown", err, storage.ErrNotFound)
		r2 := r
		r2.ID, r2.ExpiresAt = "r2", t0.Add(time.Hour)
		wantErr(t, "create r2", s.CreateAuthorizationRequest(ctxT(t), r2), nil)
		n, err := s.DeleteExpiredAuthorizationRequests(ctxT(t), t0.Add(time.Minute), 10)
		wantErr(t, "expire", err, nil)
		wantEqual(t, "expired", n, int64(1))
		ok, err := s.DeleteAuthorizationRequest(ctxT(t), "r2")
		wantErr(t, "delete", err, nil)
		wantEqual(t, "deleted", ok, true)
		ok, _ = s.DeleteAuthorizationRequest(ctxT(t), "r2")
		wantEqual(t, "deleted twice", ok, false)
	}},
	{"authz-codes/redeem-once-concurrently", func(t *testing.T, s storage.Store) {
		c := storage.AuthorizationCode{Hash: "h1", ClientID: "app", Data: []byte("{}"), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		wantErr(t, "create", s.CreateAuthorizationCode(ctxT(t), c), nil)
		wantErr(t, "duplicate", s.CreateAuthorizationCode(ctxT(t), c), storage.ErrConflict)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RedeemAuthorizationCode(ctxT(t), "h1", t0.Add(time.Second)); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		wantEqual(t, "redemptions that won", wins, 1)
		wantErr(t, "issued", s.SetAuthorizationCodeIssued(ctxT(t), "h1", "fam", "jti", t0.Add(time.Hour)), nil)
		got, err := s.GetAuthorizationCode(ctxT(t), "h1")
		wantErr(t, "get", err, nil)
		wantEqual(t, "redeemed at", got.RedeemedAt, norm(t0.Add(time.Second)))
		wantEqual(t, "family", got.FamilyID+"/"+got.AccessJTI, "fam/jti")
		c2 := c
		c2.Hash = "h2"
		wantErr(t, "create h2", s.CreateAuthorizationCode(ctxT(t), c2), nil)
		_, err = s.RedeemAuthorizationCode(ctxT(t), "h2", t0.Add(time.Minute))
		wantErr(t, "redeem expired", err, storage.ErrNotFound)
		_, err = s.RedeemAuthorizationCode(ctxT(t), "nope", t0)
		wantErr(t, "redeem unknown", err, storage.ErrNotFound)
		n, err := s.DeleteExpiredAuthorizationCodes(ctxT(t), t0.Add(time.Minute), 10)
		wantErr(t, "expire", err, nil)
		wantEqual(t, "expired", n, int64(2))
	}},
	{"consents/put-replace-list-delete", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "c@example.com")
		c := storage.Consent{UserID: u.ID, ClientID: "b-app", Scopes: []string{"openid", "email"}, GrantedAt: t0}
		wantErr(t, "put", s.PutConsent(ctxT(t), c), nil)
		c.Scopes, c.GrantedAt = []string{"openid"}, t0.Add(time.Hour)
		wantErr(t, "replace", s.PutConsent(ctxT(t), c), nil)
		wantErr(t, "put a-app", s.PutConsent(ctxT(t), storage.Consent{UserID: u.ID, ClientID: "a-app", Scopes: nil, GrantedAt: t0}), nil)
		got, err := s.GetConsent(ctxT(t), u.ID, "b-app")
		wantErr(t, "get", err, nil)
		c.GrantedAt = norm(c.GrantedAt)
		wantEqual(t, "consent", got, c)
		l, err := s.ListConsents(ctxT(t), u.ID)
		wantErr(t, "list", err, nil)
		wantEqual(t, "listed", len(l), 2)
		wantEqual(t, "order", l[0].ClientID+","+l[1].ClientID, "a-app,b-app")
		wantEqual(t, "empty scopes", l[0].Scopes, []string{})
		_, err = s.WithdrawConsent(ctxT(t), u.ID, "b-app", t0, "consent withdrawn")
		wantErr(t, "withdraw", err, nil)
		_, err = s.WithdrawConsent(ctxT(t), u.ID, "b-app", t0, "consent withdrawn")
		wantErr(t, "withdraw again", err, storage.ErrNotFound)
		_, err = s.GetConsent(ctxT(t), u.ID, "b-app")
		wantErr(t, "get deleted", err, storage.ErrNotFound)
		wantErr(t, "delete user", s.DeleteUser(ctxT(t), u.ID), nil)
		l, _ = s.ListConsents(ctxT(t), u.ID)
		wantEqual(t, "consents of a deleted user", len(l), 0)
	}},
	{"consents/withdraw-revokes-the-client's-families", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "c@example.com")
		other := mustCreateUser(t, s, "d@example.com")
		wantErr(t, "put", s.PutConsent(ctxT(t), storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: t0}), nil)
		wantErr(t, "put other", s.PutConsent(ctxT(t), storage.Consent{UserID: other.ID, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: t0}), nil)
		// live1, live2: the user's under the client (two browser sessions);
		// gone: already revoked; elsewhere: another client; others: another
		// user of the client; plain: a password-login family, no link.
		for _, f := range []struct {
			id, client string
			user       int64
		}{{"live1", "app", u.ID}, {"live2", "app", u.ID}, {"gone", "app", u.ID}, {"elsewhere", "other-app", u.ID}, {"others", "app", other.ID}, {"plain", "", u.ID}} {
			wantErr(t, "create "+f.id, s.CreateFamily(ctxT(t), newFamily(f.id, f.user)), nil)
			if f.client != "" {
				wantErr(t, "link "+f.id, s.CreateGrantLink(ctxT(t), storage.GrantLink{FamilyID: f.id, BrowserSessionID: "sid-" + f.id,
					ClientID: f.client, UserID: f.user, AuthTime: t0, CreatedAt: t0}), nil)
			}
		}
		_, err := s.RevokeFamily(ctxT(t), "gone", t0, "logout")
		wantErr(t, "revoke gone", err, nil)

		at := t0.Add(time.Hour)
		n, err := s.WithdrawConsent(ctxT(t), u.ID, "app", at, "consent withdrawn")
		wantErr(t, "withdraw", err, nil)
		wantEqual(t, "families revoked", n, int64(2))
		_, err = s.GetConsent(ctxT(t), u.ID, "app")
		wantErr(t, "consent after withdrawal", err, storage.ErrNotFound)
		for id, want := range map[string]string{"live1": "consent withdrawn", "live2": "consent withdrawn", "gone": "logout", "elsewhere": "", "others": "", "plain": ""} {
			f, err := s.GetFamily(ctxT(t), id)
			wantErr(t, "get "+id, err, nil)
			if f.RevokeReason != want || (want == "consent withdrawn") != f.RevokedAt.Equal(norm(at)) {
				t.Fatalf("family %s: revoked %v (%q), want reason %q", id, f.RevokedAt, f.RevokeReason, want)
			}
		}
		if _, err := s.GetConsent(ctxT(t), other.ID, "app"); err != nil {
			t.Fatalf("another user's consent: %v", err)
		}

		// no consent: ErrNotFound and nothing revoked, though a family is
		// linked to the client again
		wantErr(t, "create late", s.CreateFamily(ctxT(t), newFamily("late", u.ID)), nil)
		wantErr(t, "link late", s.CreateGrantLink(ctxT(t), storage.GrantLink{FamilyID: "late", BrowserSessionID: "sid-late",
			ClientID: "app", UserID: u.ID, AuthTime: t0, CreatedAt: t0}), nil)
		_, err = s.WithdrawConsent(ctxT(t), u.ID, "app", at, "consent withdrawn")
		wantErr(t, "withdraw again", err, storage.ErrNotFound)
		if f, _ := s.GetFamily(ctxT(t), "late"); !f.RevokedAt.IsZero() {
			t.Fatalf("a withdrawal without consent revoked %+v", f)
		}
		_, err = s.WithdrawConsent(ctxT(t), u.ID, "a\x00pp", at, "consent withdrawn")
		wantErr(t, "invalid client id", err, storage.ErrNotFound)
	}},
	{"grant-links/by-session-and-client", func(t *testing.T, s storage.Store) {
		links := []storage.GrantLink{
			{FamilyID: "f1", BrowserSessionID: "s1", ClientID: "a", UserID: 1, AuthTime: t0, CreatedAt: t0},
			{FamilyID: "f2", BrowserSessionID: "s1", ClientID: "b", UserID: 1, AuthTime: t0, CreatedAt: t0.Add(time.Hour)},
			{FamilyID: "f3", BrowserSessionID: "s2", ClientID: "a", UserID: 1, AuthTime: t0, CreatedAt: t0.Add(time.Hour)},
		}
		for _, l := range links {
			wantErr(t, "create "+l.FamilyID, s.CreateGrantLink(ctxT(t), l), nil)
		}
		wantErr(t, "duplicate", s.CreateGrantLink(ctxT(t), links[0]), storage.ErrConflict)
		got, err := s.GetGrantLink(ctxT(t), "f2")
		wantErr(t, "get", err, nil)
		want := links[1]
		want.AuthTime, want.CreatedAt = norm(want.AuthTime), norm(want.CreatedAt)
		wantEqual(t, "link", got, want)
		bs, _ := s.ListGrantLinksBySession(ctxT(t), "s1")
		wantEqual(t, "by session", len(bs), 2)
		bc, _ := s.ListGrantLinksByClient(ctxT(t), 1, "a")
		wantEqual(t, "by client", len(bc), 2)
		moved, err := s.MoveGrantLinks(ctxT(t), "s2", "s3")
		wantErr(t, "move", err, nil)
		wantEqual(t, "moved", moved, int64(1))
		if l, _ := s.GetGrantLink(ctxT(t), "f3"); l.BrowserSessionID != "s3" {
			t.Fatalf("moved link: %+v", l)
		}
		n, err := s.DeleteGrantLinksBefore(ctxT(t), t0, 10)
		wantErr(t, "delete old", err, nil)
		wantEqual(t, "deleted", n, int64(1))
		_, err = s.GetGrantLink(ctxT(t), "f1")
		wantErr(t, "get deleted", err, storage.ErrNotFound)
	}},
}

// WithdrawConsentIsAtomic checks that a withdrawal whose family revocation
// fails changes nothing: breakRevocations makes every later update of
// refresh_families.revoked_at fail (a trigger), as a crash or a lost
// connection between the two statements would.
func WithdrawConsentIsAtomic(t *testing.T, s storage.Store, breakRevocations func(context.Context) error) {
	u := mustCreateUser(t, s, "c@example.com")
	wantErr(t, "put", s.PutConsent(ctxT(t), storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: t0}), nil)
	wantErr(t, "create", s.CreateFamily(ctxT(t), newFamily("live", u.ID)), nil)
	wantErr(t, "link", s.CreateGrantLink(ctxT(t), storage.GrantLink{FamilyID: "live", BrowserSessionID: "sid",
		ClientID: "app", UserID: u.ID, AuthTime: t0, CreatedAt: t0}), nil)
	if err := breakRevocations(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WithdrawConsent(ctxT(t), u.ID, "app", t0, "consent withdrawn"); err == nil {
		t.Fatal("WithdrawConsent succeeded though revoking its families failed")
	}
	if _, err := s.GetConsent(ctxT(t), u.ID, "app"); err != nil {
		t.Fatalf("the consent is gone though its families were not revoked: %v", err)
	}
	if f, _ := s.GetFamily(ctxT(t), "live"); !f.RevokedAt.IsZero() {
		t.Fatalf("family revoked: %+v", f)
	}
}
