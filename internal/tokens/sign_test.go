package tokens

import (
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/signer"
)

// TestSignMatchesJWX: sign's compact JWS is the one jws.Sign makes with
// the same header — byte for byte for the deterministic algorithms
// (RS256, EdDSA), header and payload for ES256 (randomized), and every
// one verifies with the public key. A second call (rendered header
// reused) changes nothing.
func TestSignMatchesJWX(t *testing.T) {
	payload := []byte(`{"sub":"42","exp":1900000000,"n":"\u00e9"}`)
	for _, alg := range []string{signer.RS256, signer.EdDSA, signer.ES256} {
		t.Run(alg, func(t *testing.T) {
			key, err := signer.GenerateKey(alg, 2048)
			if err != nil {
				t.Fatal(err)
			}
			key.KID = "kid-" + alg
			for round := range 2 {
				got, err := sign(key, "JWT", payload)
				if err != nil {
					t.Fatal(err)
				}
				h := jws.NewHeaders()
				_ = h.Set(jws.KeyIDKey, key.KID)
				_ = h.Set(jws.TypeKey, "JWT")
				want, err := jws.Sign(payload, jws.WithKey(key.Alg, key.Signer(), jws.WithProtectedHeaders(h)))
				if err != nil {
					t.Fatal(err)
				}
				if alg == signer.ES256 {
					cut := func(s string) string { return s[:strings.LastIndexByte(s, '.')] }
					if cut(got) != cut(string(want)) {
						t.Fatalf("round %d: signing input\n got %s\nwant %s", round, cut(got), cut(string(want)))
					}
				} else if got != string(want) {
					t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
				}
				out, err := jws.Verify([]byte(got), jws.WithKey(key.Alg, key.PublicKey()))
				if err != nil || string(out) != string(payload) {
					t.Fatalf("round %d: verify: %v %s", round, err, out)
				}
			}
		})
	}
}
