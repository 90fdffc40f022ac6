package tokens_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// TestFamilyRowIsAuthoritative: a validly signed refresh token that names
// another user than its family's owner yields nothing for that user; the
// family is revoked and the forgery audited — on refresh (current or
// rotated-out jti), verify and logout.
func TestFamilyRowIsAuthoritative(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		rotated bool // forge with the predecessor's jti (after one rotation)
		use     func(e *env, tok string) error
	}{
		{name: "refresh/current-jti", use: func(e *env, tok string) error { _, err := e.refresh(tok); return err }},
		{name: "refresh/rotated-out-jti", rotated: true, use: func(e *env, tok string) error { _, err := e.refresh(tok); return err }},
		{name: "verify", use: func(e *env, tok string) error { return e.svc.Verify(ctx, tok) }},
		{name: "logout", use: func(e *env, tok string) error {
			return e.svc.Logout(ctx, tok, tokens.Client{IP: "192.0.2.9"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := sqliteEnv(t, nil)
			mallory, err := e.store.CreateUser(ctx, storage.User{
				Email: "mallory@example.com", Name: "M", PasswordHash: "x", IsActive: true,
				DateJoined: t0.Add(-time.Hour), PasswordChangedAt: t0.Add(-time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			pair := e.login()
			genuine := pair.Refresh
			if tc.rotated {
				e.clock.Advance(time.Minute) // past the grace window after the rotation
				if _, err := e.refresh(pair.Refresh); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(time.Minute)
			}
			_, cl := decode(t, genuine)
			cl["user_id"] = mallory.ID
			cl["sub"] = strconv.FormatInt(mallory.ID, 10)
			forged := forge(t, e.rsa, jwa.RS256, "rt+jwt", "", cl)

			err = tc.use(e, forged)
			if !errors.Is(err, tokens.ErrTokenInvalid) {
				t.Fatalf("forged token: err = %v, want ErrTokenInvalid", err)
			}
			f := e.family(genuine)
			if f.RevokedAt.IsZero() || f.RevokeReason != "forgery_detected" {
				t.Errorf("family revoked_at %v reason %q, want revoked as forgery_detected", f.RevokedAt, f.RevokeReason)
			}
			events, _ := e.store.ListAudit(ctx, 0, 100)
			found := false
			for _, ev := range events {
				if ev.Type == "refresh.forgery_detected" {
					found = ev.UserID == e.user.ID && ev.FamilyID == f.ID
				}
			}
			if !found {
				t.Errorf("no refresh.forgery_detected event for the family's owner: %+v", events)
			}
		})
	}
}
