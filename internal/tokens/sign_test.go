package tokens

import (
	"encoding/json"
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

// TestJSONFastPaths: the fast paths write and read strings and numbers
// exactly as encoding/json does.
func TestJSONFastPaths(t *testing.T) {
	for _, s := range []string{"", "alice@example.com", "a b", "<script>", "a&b", `q"uote`, `back\slash`, "tab\t", "é", "\u2028", "\x7f", "\xff", "~"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, json.Marshal %s", s, got, want)
		}
		got, ok := str(want)
		var back string
		_ = json.Unmarshal(want, &back)
		if !ok || got != back {
			t.Errorf("str(%s) = %q %v, json.Unmarshal %q", want, got, ok, back)
		}
	}
	for _, raw := range []string{`"x`, `"x\"`, `x"`, `""`} {
		var s string
		errJSON := json.Unmarshal([]byte(raw), &s)
		got, ok := str([]byte(raw))
		if ok != (errJSON == nil) || ok && got != s {
			t.Errorf("str(%s) = %q %v, json.Unmarshal %q %v", raw, got, ok, s, errJSON)
		}
	}
	for _, tc := range []struct {
		raw string
		ok  bool
	}{{"1900000000", true}, {"1.9e9", true}, {"1900000000.75", true}, {"-1", false}, {"0x10", false}, {"+1", false}, {"1.", false},
		{"Inf", false}, {"NaN", false}, {"1_0", false}, {"true", false}, {"null", false}, {`"1"`, false}, {"[1]", false}, {" 17 ", true}} {
		got, ok := numericDate([]byte(tc.raw))
		if ok != tc.ok {
			t.Errorf("numericDate(%s): ok %v, want %v", tc.raw, ok, tc.ok)
		}
		if ok {
			var n json.Number
			_ = json.Unmarshal([]byte(tc.raw), &n)
			f, _ := n.Float64()
			if got.Unix() != int64(f) {
				t.Errorf("numericDate(%s) = %d, want %d", tc.raw, got.Unix(), int64(f))
			}
		}
	}
}
