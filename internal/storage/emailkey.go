package storage

import (
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// keyIDNA is UTS #46 (non-transitional, as browsers resolve domains) in
// its lookup profile: mapping (case, width, compatibility forms), then the
// ASCII (punycode) form.
var keyIDNA = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

// EmailKey is the form under which emails are unique and looked up, so
// that addresses that look the same are the same account: the whole
// address in Unicode NFKC (fullwidth forms, precomposed or decomposed
// characters alike), lower-cased, and its domain in the ASCII form of IDNA
// UTS #46 (so "bücher.de", "BÜCHER.de", "bu\u0308cher.de" and
// "xn--bcher-kva.de" are one domain). A domain IDNA refuses keeps its NFKC
// lower-cased form. Backends store it beside the email, computed here so
// that both stores agree.
func EmailKey(email string) string {
	s := strings.ToLower(norm.NFKC.String(email))
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	local, domain := s[:at], s[at+1:]
	if ascii, err := keyIDNA.ToASCII(domain); err == nil && ascii != "" {
		domain = strings.ToLower(ascii)
	}
	return local + "@" + domain
}
