package postgres

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Text rules, the same on both backends (Postgres refuses NUL bytes and
// invalid UTF-8 in TEXT; SQLite would store them):
//   - identifiers and values (emails, names, hashes, jtis, kids, JWKs) that
//     are not valid UTF-8 or contain NUL are refused with errInvalidText;
//     looked up, they match nothing (ErrNotFound);
//   - free-text client and audit metadata (user agent, IP, reasons, audit
//     fields) is cleaned instead, so that odd request headers never fail a
//     login: invalid bytes become U+FFFD and NUL bytes are dropped.

var errInvalidText = errors.New("text is not valid UTF-8 or contains a NUL byte")

// validText reports whether every s can be stored as TEXT.
func validText(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// checkText returns errInvalidText unless validText(ss...).
func checkText(ss ...string) error {
	if !validText(ss...) {
		return errInvalidText
	}
	return nil
}

// cleanText makes free-text metadata storable.
func cleanText(s string) string {
	if validText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
