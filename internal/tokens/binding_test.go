package tokens_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/tokens"
)

// TestKeysBoundToTokenTypes: an access token verifies only with a key of
// the access ring, a refresh token only with one of the refresh ring — a
// stolen key of one ring forges nothing of the other type.
func TestKeysBoundToTokenTypes(t *testing.T) {
	e := sqliteEnv(t, func(o *tokens.Options) { o.AccessAlg, o.RefreshAlg = signer.RS256, signer.EdDSA })
	ctx := context.Background()
	pair := e.login()
	_, refreshClaims := decode(t, pair.Refresh)
	cases := []struct {
		name  string
		token string
		use   func(tok string) error
		ok    bool
	}{
		{name: "access/access-ring-key-verifies", token: forge(t, e.rsa, jwa.RS256, "at+jwt", "", e.accessClaims()),
			use: func(tok string) error { _, err := e.svc.VerifyAccess(ctx, tok); return err }, ok: true},
		{name: "access/refresh-ring-key-rejected-by-VerifyAccess", token: forge(t, e.ed, jwa.EdDSA, "at+jwt", "", e.accessClaims()),
			use: func(tok string) error { _, err := e.svc.VerifyAccess(ctx, tok); return err }},
		{name: "access/refresh-ring-key-rejected-by-Verify", token: forge(t, e.ed, jwa.EdDSA, "at+jwt", "", e.accessClaims()),
			use: func(tok string) error { return e.svc.Verify(ctx, tok) }},
		{name: "refresh/access-ring-key-rejected-by-Refresh", token: forge(t, e.rsa, jwa.RS256, "rt+jwt", "", refreshClaims),
			use: func(tok string) error { _, err := e.refresh(tok); return err }},
		{name: "refresh/access-ring-key-rejected-by-Verify", token: forge(t, e.rsa, jwa.RS256, "rt+jwt", "", refreshClaims),
			use: func(tok string) error { return e.svc.Verify(ctx, tok) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.use(tc.token)
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tokens.ErrTokenInvalid) {
				t.Fatalf("err = %v, want ErrTokenInvalid", err)
			}
		})
	}
	// The genuine refresh token still rotates: the forgeries changed nothing.
	if _, err := e.refresh(pair.Refresh); err != nil {
		t.Fatalf("genuine refresh after the forgeries: %v", err)
	}
}
