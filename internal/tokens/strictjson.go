package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Strict decoding of a token's JSON (header and payload). Go's decoder,
// like most, keeps the last of duplicate member names, while other parsers
// keep the first: {"user_id":1,"user_id":2} would mean user 1 to one
// verifier and user 2 to another. RFC 7515 §4 and RFC 7519 §4 say such
// input MUST be rejected (or the last used, which is weaker); idp rejects
// it, at any depth, comparing names after unescaping.

var (
	errDuplicateMember = errors.New("duplicate member name")
	errNotObject       = errors.New("not a JSON object")
)

// strictObject decodes a JSON object into its members, refusing duplicate
// member names at any depth, trailing data and anything but an object.
// The members' values are b's own bytes (as json.RawMessage, what
// encoding/json would copy out), the names decoded as encoding/json does.
func strictObject(b []byte) (map[string]json.RawMessage, error) {
	m := make(map[string]json.RawMessage, 16)
	if err := walkDocument(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkNoDuplicates reports whether b is one JSON object with no member
// name twice in any object, at any depth, and nothing after it. It runs on
// every token verified, so it allocates nothing for what idp issues:
// encoding/json validates b (json.Valid), then one walk over the valid
// bytes compares each object's names — as raw bytes when a name is plain
// ASCII without escapes, else as encoding/json decodes it (escapes,
// invalid UTF-8 and lone surrogates become what Unmarshal makes of them,
// so "\u0061" and "a" are the same name).
func checkNoDuplicates(b []byte) error { return walkDocument(b, nil) }

// walkDocument checks b as checkNoDuplicates does and, if top is not
// nil, puts the object's members in it.
func walkDocument(b []byte, top map[string]json.RawMessage) error {
	if !json.Valid(b) {
		return errNotObject
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errNotObject
	}
	_, err := walkObject(b, i, top)
	return err
}

// walkValue walks the valid JSON value starting at b[i] and returns the
// index just past it.
func walkValue(b []byte, i int) (int, error) {
	switch b[i] {
	case '{':
		return walkObject(b, i, nil)
	case '[':
		i = skipSpace(b, i+1)
		if b[i] == ']' {
			return i + 1, nil
		}
		for {
			end, err := walkValue(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if b[i] == ']' {
				return i + 1, nil
			}
			i = skipSpace(b, i+1) // past ','
		}
	case '"':
		return stringEnd(b, i), nil
	default: // number, true, false, null
		for i < len(b) && !endsLiteral(b[i]) {
			i++
		}
		return i, nil
	}
}

// manyNames is the member count past which an object's names go into a
// map instead of being compared pairwise.
const manyNames = 32

// walkObject walks the object starting at b[i] ('{'), putting its members
// in members unless that is nil.
func walkObject(b []byte, i int, members map[string]json.RawMessage) (int, error) {
	var small [16][]byte
	names := small[:0]
	var seen map[string]bool
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		end := stringEnd(b, i)
		name := b[i+1 : end-1]
		if needsDecoding(name) {
			var s string
			_ = json.Unmarshal(b[i:end], &s) // b is valid: a string
			name = []byte(s)
		}
		var key string
		switch {
		case members != nil:
			key = string(name)
			if _, dup := members[key]; dup {
				return 0, errDuplicateMember
			}
		case seen != nil:
			if seen[string(name)] {
				return 0, errDuplicateMember
			}
			seen[string(name)] = true
		default:
			for _, n := range names {
				if bytes.Equal(n, name) {
					return 0, errDuplicateMember
				}
			}
			names = append(names, name)
			if len(names) > manyNames {
				seen = make(map[string]bool, 2*manyNames)
				for _, n := range names {
					seen[string(n)] = true
				}
			}
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past ':'
		end, err := walkValue(b, i)
		if err != nil {
			return 0, err
		}
		if members != nil {
			members[key] = b[i:end:end]
		}
		i = skipSpace(b, end)
		if b[i] == '}' {
			return i + 1, nil
		}
		i = skipSpace(b, i+1) // past ','
	}
}

// stringEnd is the index just past the valid JSON string starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte (a \uXXXX's digits are plain bytes)
		case '"':
			return i + 1
		}
	}
}

// needsDecoding: name (a string's raw bytes) holds an escape or a
// non-ASCII byte, so its decoded form may differ from its bytes.
func needsDecoding(name []byte) bool {
	for _, c := range name {
		if c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

// endsLiteral: c is the first byte after a number or literal.
func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// checkHeader decodes a compact token's protected header strictly and
// honours crit (RFC 7515 §4.1.11): idp understands no extension header
// parameters, so a token that marks any as critical is rejected — as is an
// empty or malformed crit, which the RFC forbids. b64 (RFC 7797, an
// unencoded payload) is refused too, with or without crit: idp's tokens
// never carry it, and reading the payload as base64url regardless would
// verify a different message than a library honouring it.
func checkHeader(token string) (map[string]json.RawMessage, error) {
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, invalid("malformed header")
	}
	h, err := strictObject(raw)
	if err != nil {
		return nil, invalid("header: " + err.Error())
	}
	if _, present := h["crit"]; present {
		return nil, invalid("crit header parameter (no extensions are understood)")
	}
	if _, present := h["b64"]; present {
		return nil, invalid("b64 header parameter (unencoded payloads are not accepted)")
	}
	return h, nil
}
