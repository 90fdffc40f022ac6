package sqlstore

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Text rules, the same on both backends (Postgres refuses NUL bytes and
// invalid UTF-8 in TEXT; SQLite would store them):
//   - identifiers and values (emails, names, hashes, jtis, kids, JWKs) that
//     are not valid UTF-8 or contain NUL are refused with ErrInvalidText;
//     looked up, they match nothing (ErrNotFound);
//   - free-text client and audit metadata (user agent, IP, reasons, audit
//     fields) is cleaned instead, so that odd request headers never fail a
//     login: invalid bytes become U+FFFD and NUL bytes are dropped.

// ErrInvalidText refuses an identifier or value that cannot be stored.
var ErrInvalidText = errors.New("text is not valid UTF-8 or contains a NUL byte")

// ValidText reports whether every s can be stored as TEXT.
func ValidText(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// CheckText returns ErrInvalidText unless ValidText(ss...).
func CheckText(ss ...string) error {
	if !ValidText(ss...) {
		return ErrInvalidText
	}
	return nil
}

// CleanText makes free-text metadata storable.
func CleanText(s string) string {
	if ValidText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
