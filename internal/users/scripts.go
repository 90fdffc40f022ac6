package users

import (
	"strings"
	"unicode"

	"golang.org/x/net/idna"
)

// Mixed-script look-alikes ("pаypal.com" with a Cyrillic а) are refused at
// registration: an internationalised domain label must be written in one
// script (UTS #39's "single script", with the Han + Hiragana + Katakana
// (Japanese), Han + Hangul (Korean) and Han + Bopomofo combinations it
// allows, and Common/Inherited characters — digits, hyphens, combining
// marks — alongside any). Refusing beats flagging: the owner of a genuine
// mixed-script domain is rare, while a look-alike account is an attack on
// every user who reads addresses (admins, support, the user's contacts).
// Existing accounts are not touched and can still log in.

// scripts checked; a letter of any other script counts as "other".
var scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek},
	{"Armenian", unicode.Armenian}, {"Hebrew", unicode.Hebrew}, {"Arabic", unicode.Arabic},
	{"Devanagari", unicode.Devanagari}, {"Thai", unicode.Thai}, {"Georgian", unicode.Georgian},
	{"Han", unicode.Han}, {"Hiragana", unicode.Hiragana}, {"Katakana", unicode.Katakana},
	{"Hangul", unicode.Hangul}, {"Bopomofo", unicode.Bopomofo}, {"Cherokee", unicode.Cherokee},
}

var allowedCombos = []map[string]bool{
	{"Han": true, "Hiragana": true, "Katakana": true},
	{"Han": true, "Hangul": true},
	{"Han": true, "Bopomofo": true},
}

// labelScripts is the set of scripts of a label's letters.
func labelScripts(label string) map[string]bool {
	set := map[string]bool{}
	for _, r := range label {
		if r < 0x80 && !unicode.IsLetter(r) || unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
			continue
		}
		found := "other"
		for _, s := range scripts {
			if unicode.Is(s.table, r) {
				found = s.name
				break
			}
		}
		set[found] = true
	}
	return set
}

func singleScript(label string) bool {
	set := labelScripts(label)
	if len(set) <= 1 {
		return true
	}
	for _, combo := range allowedCombos {
		ok := true
		for s := range set {
			ok = ok && combo[s]
		}
		if ok {
			return true
		}
	}
	return false
}

// mixedScriptDomain reports a domain (Unicode or punycode) with a label
// that mixes scripts.
func mixedScriptDomain(domain string) bool {
	u, err := idna.Lookup.ToUnicode(domain)
	if err != nil {
		u = domain
	}
	for label := range strings.SplitSeq(u, ".") {
		if !singleScript(label) {
			return true
		}
	}
	return false
}
