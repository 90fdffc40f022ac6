package users

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// NormalizeEmail is Django's BaseUserManager.normalize_email: strip
// surrounding whitespace, split at the last "@" and lower-case the domain
// part only. Like Django, an address without "@" is returned unchanged
// (not even stripped); validation rejects it anyway.
//
// Uniqueness and login lookups are case-insensitive over the whole address
// (storage.EmailKey); this only decides how the address is stored.
func NormalizeEmail(email string) string {
	s := Strip(email)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return email
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:])
}

// IsValidEmail reports whether email (stripped as registration strips
// it) passes registration's email validation: what logs and audit may
// name a login attempt by.
func IsValidEmail(email string) bool { return len(checkEmail(Strip(email))) == 0 }

// pyIsSpace is Python's str.isspace: Go's unicode.IsSpace plus the ASCII
// information separators U+001C–U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// Strip is Python's str.strip() without arguments, which is what DRF's
// CharField(trim_whitespace=True) and Django's normalize_email use (it
// also strips U+001C–U+001F, which strings.TrimSpace keeps).
func Strip(s string) string {
	return strings.TrimFunc(s, pyIsSpace)
}

// maxEmailLength is the RFC 3696 limit Django's EmailValidator enforces
// before anything else (the model's own limit of 100 is checked apart).
const maxEmailLength = 320

// idnaProfile turns an internationalised domain into its ASCII form for
// the domain check, standing in for Python's IDNA 2003 codec that Django
// uses: UTS #46 mapping with transitional processing (ß → ss, as IDNA
// 2003 did) and the bidi rule.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(true), idna.BidiRule(), idna.CheckHyphens(false))

// validEmail approximates Django's EmailValidator: the local part is a
// dot-atom or a quoted string; the domain is "localhost", dot-separated
// labels (after IDNA for non-ASCII domains) or an IP literal in brackets.
//
// It is stricter than Django in two ways, on purpose: no whitespace,
// control or format (invisible) character is accepted anywhere, even
// escaped in a quoted local part or silently dropped by IDNA mapping; and
// the local part is ASCII only (Python's case-insensitive regex would also
// let through the four non-ASCII letters that fold to ASCII, such as the
// Kelvin sign).
func validEmail(email string) bool {
	if email == "" || utf8.RuneCountInString(email) > maxEmailLength || !utf8.ValidString(email) {
		return false
	}
	for _, r := range email {
		if pyIsSpace(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) ||
			r == utf8.RuneError || unicode.Is(unicode.Cs, r) || unicode.Is(unicode.Co, r) {
			return false
		}
	}
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	local, domain := email[:at], email[at+1:]
	if !validLocalPart(local) {
		return false
	}
	if domain == "localhost" || validDomainPart(domain) {
		return true
	}
	if isASCII(domain) {
		// Python's IDNA codec leaves ASCII names as they are, so a second
		// check could not change the answer.
		return false
	}
	ascii, err := idnaProfile.ToASCII(domain)
	if err != nil {
		return false
	}
	return validDomainPart(ascii)
}

// atext is the dot-atom character class of Django's user_regex:
// [-!#$%&'*+/=?^_`{}|~0-9A-Z] with IGNORECASE.
func atext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-!#$%&'*+/=?^_`{}|~", c) >= 0
}

func validLocalPart(local string) bool {
	if local == "" {
		return false
	}
	if local[0] == '"' {
		return validQuotedLocal(local)
	}
	// Dot-atom: atoms of one or more atext separated by single dots.
	for atom := range strings.SplitSeq(local, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !atext(atom[i]) {
				return false
			}
		}
	}
	return true
}

// validQuotedLocal is Django's quoted-string alternative,
//
//	"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"
//
// of which validEmail has already ruled out the control characters.
func validQuotedLocal(local string) bool {
	if len(local) < 2 || local[len(local)-1] != '"' {
		return false
	}
	body := local[1 : len(local)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			i++
			if i == len(body) || body[i] > 0x7f || body[i] == 0 || body[i] == '\n' || body[i] == '\r' {
				return false
			}
		case c == '!' || ('#' <= c && c <= '[') || (']' <= c && c <= 0x7f) || (0 < c && c < ' ' && c != '\t' && c != '\n' && c != '\r'):
		default:
			return false
		}
	}
	return true
}

// validDomainPart is Django's validate_domain_part: domain_regex
//
//	((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z
//
// or an IPv4/IPv6 literal in brackets.
func validDomainPart(domain string) bool {
	if len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		return validAddressLiteral(domain[1 : len(domain)-1])
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels[:len(labels)-1] {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || !ldh(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return len(tld) >= 2 && len(tld) <= 63 && tld[len(tld)-1] != '-' && ldh(tld)
}

// ldh reports whether s has only letters, digits and hyphens (ASCII).
func ldh(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validAddressLiteral is Django's literal_regex \[([A-f0-9:.]+)\] followed
// by validate_ipv46_address (Python's ipaddress, which, like netip, rejects
// IPv4 octets with leading zeros).
func validAddressLiteral(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.') {
			return false
		}
	}
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Zone() == ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
