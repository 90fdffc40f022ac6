package users

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// commonPasswordsGz is Django 3.2's own list of 19,726 common passwords
// (lower-cased), the one its CommonPasswordValidator uses. Source: the
// Debian package python3-django 3:3.2.25-0+deb12u7, file
// django/contrib/auth/common-passwords.txt.gz, unchanged. Licence:
// BSD-3-Clause (Django Software Foundation); list by Royce Williams. See
// common-passwords.NOTICE.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords decompresses the list once per process (≈20k entries).
var commonPasswords = sync.OnceValues(func() (map[string]struct{}, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return nil, fmt.Errorf("read common passwords: %w", err)
	}
	defer zr.Close()
	set := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if p := Strip(sc.Text()); p != "" {
			set[p] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read common passwords: %w", err)
	}
	return set, nil
})

// maxSimilarity is Django's UserAttributeSimilarityValidator default.
const maxSimilarity = 0.7

// passwordPolicy is Django's four default AUTH_PASSWORD_VALIDATORS, in
// their settings order.
type passwordPolicy struct {
	minLength int
	common    map[string]struct{}
}

// check returns every policy message that applies to the (already
// trimmed) password, in Django's validator order: similarity to the email,
// minimum length, common password, entirely numeric.
func (p passwordPolicy) check(password, email string) []string {
	var msgs []string
	if tooSimilar(password, email) {
		msgs = append(msgs, MsgTooSimilar)
	}
	if utf8.RuneCountInString(password) < p.minLength {
		msgs = append(msgs, tooShortMessage(p.minLength))
	}
	if _, ok := p.common[Strip(strings.ToLower(password))]; ok {
		msgs = append(msgs, MsgTooCommon)
	}
	if pyIsDigits(password) {
		msgs = append(msgs, MsgNumeric)
	}
	return msgs
}

// tooShortMessage is MinimumLengthValidator's ngettext message.
func tooShortMessage(n int) string {
	if n == 1 {
		return "This password is too short. It must contain at least 1 character."
	}
	return fmt.Sprintf("This password is too short. It must contain at least %d characters.", n)
}

// tooSimilar is UserAttributeSimilarityValidator for the one attribute the
// tutorial's user has (email, whose verbose name is "email"): the password
// is compared, lower-cased, with the lower-cased email and with each of its
// parts split on runs of non-word characters.
func tooSimilar(password, email string) bool {
	if email == "" {
		return false
	}
	pw := []rune(strings.ToLower(password))
	value := strings.ToLower(email)
	parts := append(splitNonWord(value), value)
	for _, part := range parts {
		v := []rune(part)
		if exceedsMaximumLengthRatio(len(pw), len(v)) {
			continue
		}
		if quickRatio(pw, v) >= maxSimilarity {
			return true
		}
	}
	return false
}

// exceedsMaximumLengthRatio is Django's exceeds_maximum_length_ratio (4.x,
// backported to 3.2.x): a password ten times longer than the value can not
// reach max_similarity, so the comparison is skipped.
func exceedsMaximumLengthRatio(pwLen, valueLen int) bool {
	lengthBoundSimilarity := maxSimilarity / 2 * float64(pwLen)
	return pwLen >= 10*valueLen && float64(valueLen) < lengthBoundSimilarity
}

// quickRatio is Python's difflib.SequenceMatcher(a=a, b=b).quick_ratio():
// 2·M/T where M is the size of the multiset intersection of the two
// sequences' elements and T the sum of their lengths (1.0 when both are
// empty). Django compares with quick_ratio, not ratio.
func quickRatio(a, b []rune) float64 {
	if len(a)+len(b) == 0 {
		return 1.0
	}
	avail := make(map[rune]int, len(b))
	for _, r := range b {
		avail[r]++
	}
	matches := 0
	for _, r := range a {
		if avail[r] > 0 {
			matches++
		}
		avail[r]--
	}
	return 2.0 * float64(matches) / float64(len(a)+len(b))
}

// splitNonWord is Python's re.split(r'\W+', s) on a str: the pieces
// between runs of non-word characters, with empty strings where s starts
// or ends with a separator.
func splitNonWord(s string) []string {
	var parts []string
	start, inSep := 0, false
	for i, r := range s {
		switch {
		case pyIsWord(r) && inSep:
			start, inSep = i, false
		case !pyIsWord(r) && !inSep:
			parts = append(parts, s[start:i])
			inSep = true
		}
	}
	if inSep {
		return append(parts, "")
	}
	return append(parts, s[start:])
}

// pyIsWord is the \w class of Python's re for str patterns: letters,
// numbers and the underscore.
func pyIsWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// pyDigitExtra holds the characters Python's str.isdigit accepts beyond
// the decimal digits (Nd): superscripts, circled and parenthesised digits
// and the like (Numeric_Type=Digit; generated from Python 3.11).
var pyDigitExtra = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00b2, Hi: 0x00b3, Stride: 1},
		{Lo: 0x00b9, Hi: 0x00b9, Stride: 1},
		{Lo: 0x1369, Hi: 0x1371, Stride: 1},
		{Lo: 0x19da, Hi: 0x19da, Stride: 1},
		{Lo: 0x2070, Hi: 0x2070, Stride: 1},
		{Lo: 0x2074, Hi: 0x2079, Stride: 1},
		{Lo: 0x2080, Hi: 0x2089, Stride: 1},
		{Lo: 0x2460, Hi: 0x2468, Stride: 1},
		{Lo: 0x2474, Hi: 0x247c, Stride: 1},
		{Lo: 0x2488, Hi: 0x2490, Stride: 1},
		{Lo: 0x24ea, Hi: 0x24ea, Stride: 1},
		{Lo: 0x24f5, Hi: 0x24fd, Stride: 1},
		{Lo: 0x24ff, Hi: 0x24ff, Stride: 1},
		{Lo: 0x2776, Hi: 0x277e, Stride: 1},
		{Lo: 0x2780, Hi: 0x2788, Stride: 1},
		{Lo: 0x278a, Hi: 0x2792, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x10a40, Hi: 0x10a43, Stride: 1},
		{Lo: 0x10e60, Hi: 0x10e68, Stride: 1},
		{Lo: 0x11052, Hi: 0x1105a, Stride: 1},
		{Lo: 0x1f100, Hi: 0x1f10a, Stride: 1},
	},
}

// pyIsDigits is Python's str.isdigit: non-empty and every character a
// digit (NumericPasswordValidator uses it).
func pyIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) && !unicode.Is(pyDigitExtra, r) {
			return false
		}
	}
	return true
}
