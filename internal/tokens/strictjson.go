package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
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
func strictObject(b []byte) (map[string]json.RawMessage, error) {
	if err := checkNoDuplicates(b); err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errNotObject
	}
	return m, nil
}

// checkNoDuplicates walks b's tokens: one JSON object, no member name twice
// in any object, nothing after it.
func checkNoDuplicates(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	// One frame per open object or array: the member names seen (nil for
	// an array) and whether the next token of an object is a name.
	type frame struct {
		names     map[string]bool
		expectKey bool
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 || first {
				return errNotObject
			}
			return nil
		}
		if err != nil {
			return errNotObject
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errNotObject
			}
		} else if len(stack) == 0 {
			return errNotObject // trailing data after the object
		}
		first = false
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.names != nil && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, ok := tok.(string)
			if !ok {
				return errNotObject
			}
			if top.names[name] {
				return errDuplicateMember
			}
			top.names[name] = true
			top.expectKey = false
			continue
		}
		// A value (or the end of an array).
		if top != nil && top.names != nil {
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
		}
	}
}

// checkHeader decodes a compact token's protected header strictly and
// honours crit (RFC 7515 §4.1.11): idp understands no extension header
// parameters, so a token that marks any as critical is rejected — as is an
// empty or malformed crit, which the RFC forbids.
func checkHeader(token string) error {
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return invalid("malformed header")
	}
	h, err := strictObject(raw)
	if err != nil {
		return invalid("header: " + err.Error())
	}
	if _, present := h["crit"]; present {
		return invalid("crit header parameter (no extensions are understood)")
	}
	return nil
}
