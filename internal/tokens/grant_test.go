package tokens_test

import (
	"context"
	"errors"
	"github.com/idp/idp/internal/tokens"
	"testing"
	"time"
)

var rfcClient = tokens.Client{IP: "192.0.2.7", UserAgent: "oauth2-test"}

func grantEnv(t *testing.T) *env {
	return sqliteEnv(t, func(o *tokens.Options) { o.Denied = nil })
}

func withDenyList(t *testing.T) *env {
	var e *env
	e = sqliteEnv(t, nil)
	e.svc = e.with(func(o *tokens.Options) { o.Denied = e.store })
	return e
}

func TestClientCredentialsToken(t *testing.T) {
	e := grantEnv(t)
	g, err := e.svc.IssueClient(context.Background(), tokens.Grant{ClientID: "svc", Scope: []string{"billing:read"},
		Audience: []string{"https://api.example"}, AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if g.Refresh != "" || g.ExpiresIn != time.Minute {
		t.Fatalf("client_credentials = %+v", g)
	}
	h, c := decode(t, g.Access)
	want := map[string]any{"typ": "at+jwt"}
	if h["typ"] != want["typ"] || c["sub"] != "svc" || c["client_id"] != "svc" || c["scope"] != "billing:read" ||
		c["aud"] != "https://api.example" || c["iss"] != issuer || c["jti"] == nil || c["user_id"] != nil {
		t.Fatalf("header %v claims %v", h, c)
	}
	// No user: idp's own bearer check refuses it, introspection accepts it.
	if _, err := e.svc.VerifyAccess(context.Background(), g.Access); !errors.Is(err, tokens.ErrNoUserID) {
		t.Fatalf("VerifyAccess = %v, want ErrNoUserID", err)
	}
	in, err := e.svc.Introspect(context.Background(), g.Access)
	if err != nil || !in.Active || in.ClientID != "svc" || in.Subject != "svc" || in.UserID != 0 {
		t.Fatalf("Introspect = %+v, %v", in, err)
	}
	// A client TTL never lengthens the global one (5m).
	g, _ = e.svc.IssueClient(context.Background(), tokens.Grant{ClientID: "svc", AccessTTL: time.Hour})
	if g.ExpiresIn != 5*time.Minute {
		t.Fatalf("ExpiresIn = %s, want the global 5m", g.ExpiresIn)
	}
	if _, c := decode(t, g.Access); c["aud"] != issuer {
		t.Fatalf("aud without audiences = %v, want the issuer", c["aud"])
	}
}

func TestPasswordGrantAndRefresh(t *testing.T) {
	e := grantEnv(t)
	ctx := context.Background()
	grant := tokens.Grant{ClientID: "app", Scope: []string{"email", "profile"}}
	g, err := e.svc.LoginGrant(ctx, e.user, grant, true, rfcClient)
	if err != nil {
		t.Fatal(err)
	}
	_, ac := decode(t, g.Access)
	_, rc := decode(t, g.Refresh)
	if ac["email"] != e.user.Email || ac["client_id"] != "app" || ac["sid"] != rc["fid"] || rc["client_id"] != "app" || rc["scope"] != "email profile" {
		t.Fatalf("access %v refresh %v", ac, rc)
	}
	// Accepted by idp's own bearer checks (/api/logged-user/).
	if cl, err := e.svc.VerifyAccess(ctx, g.Access); err != nil || cl.UserID != e.user.ID {
		t.Fatalf("VerifyAccess = %+v, %v", cl, err)
	}
	// The tutorial's refresh endpoint does not refresh a client's token.
	if _, err := e.refresh(g.Refresh); !errors.Is(err, tokens.ErrTokenInvalid) {
		t.Fatalf("/api refresh of a client token = %v", err)
	}
	cases := []struct {
		name  string
		grant tokens.Grant
		want  error
	}{
		{"other-client", tokens.Grant{ClientID: "other"}, tokens.ErrOtherClient},
		{"widen-scope", tokens.Grant{ClientID: "app", Scope: []string{"email", "openid"}}, tokens.ErrScopeWidened},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.family(g.Refresh)
			if _, err := e.svc.RefreshGrant(ctx, g.Refresh, tc.grant, rfcClient); !errors.Is(err, tc.want) {
				t.Fatalf("RefreshGrant = %v, want %v", err, tc.want)
			}
			if after := e.family(g.Refresh); after != before {
				t.Fatalf("a refused refresh changed the family:\n%+v\n%+v", before, after)
			}
		})
	}
	narrowed, err := e.svc.RefreshGrant(ctx, g.Refresh, tokens.Grant{ClientID: "app", Scope: []string{"profile"}}, rfcClient)
	if err != nil {
		t.Fatal(err)
	}
	_, ac = decode(t, narrowed.Access)
	_, rc = decode(t, narrowed.Refresh)
	if ac["scope"] != "profile" || ac["email"] != nil || rc["scope"] != "email profile" {
		t.Fatalf("narrowed access %v refresh %v", ac, rc)
	}
	// Grace: the predecessor again gets the same refresh token.
	again, err := e.svc.RefreshGrant(ctx, g.Refresh, tokens.Grant{ClientID: "app", Scope: []string{"profile"}}, rfcClient)
	if err != nil || again.Refresh != narrowed.Refresh {
		t.Fatalf("grace answer = %v (same token: %v)", err, again.Refresh == narrowed.Refresh)
	}
	// Past grace: reuse revokes the family.
	e.clock.Advance(time.Minute)
	if _, err := e.svc.RefreshGrant(ctx, g.Refresh, tokens.Grant{ClientID: "app"}, rfcClient); !errors.Is(err, tokens.ErrBlacklisted) {
		t.Fatalf("reuse = %v", err)
	}
	if in, _ := e.svc.Introspect(ctx, narrowed.Refresh); in.Active {
		t.Fatal("refresh token of a revoked family is active")
	}
}

func TestRevokeGrant(t *testing.T) {
	e := withDenyList(t)
	ctx := context.Background()
	g, err := e.svc.LoginGrant(ctx, e.user, tokens.Grant{ClientID: "app", Scope: []string{"email"}}, true, rfcClient)
	if err != nil {
		t.Fatal(err)
	}
	tutorial := e.login()
	for _, tok := range []string{g.Access, g.Refresh, tutorial.Access} {
		if err := e.svc.RevokeGrant(ctx, tok, "other", rfcClient); !errors.Is(err, tokens.ErrOtherClient) {
			t.Fatalf("revoke by another client = %v", err)
		}
	}
	if in, _ := e.svc.Introspect(ctx, g.Access); !in.Active {
		t.Fatal("refused revocation had an effect")
	}
	for _, tok := range []string{"garbage", g.Access[:len(g.Access)-4] + "AAAA"} {
		if err := e.svc.RevokeGrant(ctx, tok, "app", rfcClient); err != nil {
			t.Fatalf("revoke of an invalid token = %v, want nil", err)
		}
	}
	if err := e.svc.RevokeGrant(ctx, g.Access, "app", rfcClient); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(ctx, g.Access); in.Active {
		t.Fatal("revoked access token is active")
	}
	if _, err := e.svc.VerifyAccess(ctx, g.Access); !errors.Is(err, tokens.ErrTokenInvalid) {
		t.Fatalf("VerifyAccess of a revoked token = %v", err)
	}
	if in, _ := e.svc.Introspect(ctx, g.Refresh); !in.Active || in.Email != e.user.Email || in.TokenType != "refresh" {
		t.Fatalf("refresh introspection = %+v", in)
	}
	if err := e.svc.RevokeGrant(ctx, g.Refresh, "app", rfcClient); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(ctx, g.Refresh); in.Active {
		t.Fatal("revoked refresh token is active")
	}
	// A second access token of that session (not deny-listed) is inactive
	// at introspection too: its session is over.
	again, err := e.svc.LoginGrant(ctx, e.user, tokens.Grant{ClientID: "app"}, true, rfcClient)
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(ctx, again.Access); !in.Active {
		t.Fatal("access token of a live session inactive")
	}
	if err := e.svc.RevokeGrant(ctx, again.Refresh, "app", rfcClient); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(ctx, again.Access); in.Active {
		t.Fatal("access token of a revoked session is active")
	}
	if f := e.family(g.Refresh); f.RevokedAt.IsZero() {
		t.Fatal("family not revoked")
	}
	// Expired entries leave the deny-list.
	e.clock.Advance(time.Hour)
	if n, err := e.svc.FlushRevoked(ctx, 100); err != nil || n != 1 {
		t.Fatalf("FlushRevoked = %d, %v", n, err)
	}
}

func TestIntrospectInactive(t *testing.T) {
	e := withDenyList(t)
	ctx := context.Background()
	g, _ := e.svc.IssueClient(ctx, tokens.Grant{ClientID: "svc"})
	other := e.with(func(o *tokens.Options) { o.Issuer = "https://other.test" })
	og, _ := other.IssueClient(ctx, tokens.Grant{ClientID: "svc"})
	for name, tok := range map[string]string{
		"garbage":        "not a token",
		"tampered":       g.Access[:len(g.Access)-2] + "xx",
		"another-issuer": og.Access,
		"empty":          "",
	} {
		if in, err := e.svc.Introspect(ctx, tok); err != nil || in.Active {
			t.Fatalf("%s: Introspect = %+v, %v", name, in, err)
		}
	}
	e.clock.Advance(time.Hour)
	if in, _ := e.svc.Introspect(ctx, g.Access); in.Active {
		t.Fatal("expired token active")
	}
}

// A token introspected once is remembered verified; a hit still honours
// expiry, key revocation and the deny-list.
func TestIntrospectCacheRechecks(t *testing.T) {
	ctx := context.Background()
	for _, what := range []string{"expiry", "key-revoked", "token-revoked"} {
		t.Run(what, func(t *testing.T) {
			e := withDenyList(t)
			g, err := e.svc.IssueClient(ctx, tokens.Grant{ClientID: "svc"})
			if err != nil {
				t.Fatal(err)
			}
			if in, _ := e.svc.Introspect(ctx, g.Access); !in.Active {
				t.Fatal("fresh token inactive")
			}
			switch what {
			case "expiry":
				e.clock.Advance(time.Hour)
			case "key-revoked":
				h, _ := decode(t, g.Access)
				e.keys.revoke(h["kid"].(string))
			case "token-revoked":
				if err := e.svc.RevokeGrant(ctx, g.Access, "svc", rfcClient); err != nil {
					t.Fatal(err)
				}
			}
			if in, err := e.svc.Introspect(ctx, g.Access); err != nil || in.Active {
				t.Fatalf("after %s: %+v %v", what, in, err)
			}
		})
	}
}
