package tokens_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/tokens"
)

// signRaw signs the exact header and payload bytes with an RS256 key, so
// tests can send JSON that no encoder would produce.
func signRaw(t testing.TB, key *signer.Key, header, payload string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := key.Signer().(crypto.Signer).Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// TestStrictParsing: crit is honoured and duplicate member names are
// refused, in the header and the payload, at any depth and however the
// name is escaped.
func TestStrictParsing(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	now := e.clock.Now().Unix()
	hdr := fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, e.rsa.KID)
	claims := func(extra string) string {
		return fmt.Sprintf(`{"token_type":"access","exp":%d,"iat":%d,"jti":"0123456789abcdef0123456789abcdef","iss":%q,"email":"alice@example.com"%s}`,
			now+300, now, issuer, extra)
	}
	uid := e.user.ID
	cases := []struct {
		name, header, payload string
		ok                    bool
	}{
		{name: "control/valid", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d`, uid)), ok: true},
		{name: "payload/duplicate-user-id", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d,"user_id":%d`, uid, uid+1))},
		{name: "payload/duplicate-escaped-name", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d,"user\u005fid":%d`, uid, uid+1))},
		{name: "payload/duplicate-exp", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d,"exp":%d`, uid, now+999999))},
		{name: "payload/duplicate-nested", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d,"x":{"a":1,"a":2}`, uid))},
		{name: "payload/trailing-data", header: hdr, payload: claims(fmt.Sprintf(`,"user_id":%d`, uid)) + `{}`},
		{name: "header/crit-unknown", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt","crit":["exp2"],"exp2":1}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/crit-empty", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt","crit":[]}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/duplicate-typ", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"rt+jwt","typ":"at+jwt"}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/b64-false", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt","b64":false}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/b64-true", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt","b64":true}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/typ-not-a-string", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":["at+jwt"]}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/alg-not-a-string", header: fmt.Sprintf(`{"alg":["RS256"],"kid":%q,"typ":"at+jwt"}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/alg-lowercase", header: fmt.Sprintf(`{"alg":"rs256","kid":%q,"typ":"at+jwt"}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/typ-escaped", header: fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at\u002bjwt"}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid)), ok: true},
		{name: "header/not-an-object", header: `["RS256"]`, payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
		{name: "header/duplicate-kid", header: fmt.Sprintf(`{"alg":"RS256","kid":"nope","kid":%q,"typ":"at+jwt"}`, e.rsa.KID),
			payload: claims(fmt.Sprintf(`,"user_id":%d`, uid))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := signRaw(t, e.rsa, tc.header, tc.payload)
			ac, err := e.svc.VerifyAccess(ctx, tok)
			verr := e.svc.Verify(ctx, tok)
			if tc.ok {
				if err != nil || verr != nil || ac.UserID != uid {
					t.Fatalf("valid token: %v / %v (user %d)", err, verr, ac.UserID)
				}
				return
			}
			if !errors.Is(err, tokens.ErrTokenInvalid) || !errors.Is(verr, tokens.ErrTokenInvalid) {
				t.Fatalf("VerifyAccess = %+v, %v; Verify = %v; want ErrTokenInvalid", ac, err, verr)
			}
		})
	}
}
