package tokens

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// topLevelNames lists an object's member names in order with the
// decoder's Token/Decode (an implementation independent of
// checkNoDuplicates); ok is false if b is not one object.
func topLevelNames(b []byte) (names []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, isName := t.(string)
		if !isName {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		names = append(names, name)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	return names, true
}

// checkNoDuplicatesByTokens is the former checkNoDuplicates, kept as
// the reference the byte walker is fuzzed against: it walks b's tokens: one JSON object, no member name twice
// in any object, nothing after it.
func checkNoDuplicatesByTokens(b []byte) error {
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

// FuzzStrictObject: the token payload decoder never accepts duplicate
// member names, and what it accepts decodes exactly as encoding/json
// decodes it (so the claims it yields are not ambiguous).
func FuzzStrictObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"user_id":1}`, `{"user_id":1,"user_id":2}`, `{"user_id":1,"user\u005fid":2}`,
		`{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1}]}`, `{"a":[{"b":1,"b":1}]}`, `{"a":1}{"a":2}`,
		`{"a":1} `, `[]`, `"x"`, `{"a":}`, `{"\ud800":1,"\ufffd":2}`, `{"exp":1,"EXP":2}`,
		`{"a":"\u0000","a\u0000":1}`, `{"aud":["x","x"]}`,
		"{\"\xff\":1,\"\\ufffd\":2}", `{"a\"b":1,"a\u0022b":2}`, `{"a\\":1,"a\u005c":2}`,
		` {"a" : [ 1 , {"b":true,"c":null} ] , "d" : -1.5e3 } `, `{"a":1,}`, `{"a" 1}`,
		`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11,"12":12,"13":13,"14":14,"15":15,"16":16,"17":17,"18":18,"19":19,"20":20,"21":21,"22":22,"23":23,"24":24,"25":25,"26":26,"27":27,"28":28,"29":29,"30":30,"31":31,"32":32,"33":33,"34":34,"35":35,"1":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The byte walker decides as the token walker it replaced.
		if got, ref := checkNoDuplicates(b), checkNoDuplicatesByTokens(b); (got == nil) != (ref == nil) {
			t.Fatalf("checkNoDuplicates(%q) = %v, the token walker says %v", b, got, ref)
		}
		m, err := strictObject(b)
		if err != nil {
			return
		}
		names, ok := topLevelNames(b)
		if !ok {
			t.Fatalf("accepted %q, which is not one JSON object", b)
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Fatalf("accepted %q with member %q twice", b, n)
			}
			seen[n] = true
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil || len(want) != len(m) {
			t.Fatalf("accepted %q: encoding/json says %v (%d members, strict %d)", b, err, len(want), len(m))
		}
		for k, v := range want {
			if !bytes.Equal(m[k], v) {
				t.Fatalf("member %q: %s, encoding/json %s", k, m[k], v)
			}
		}
	})
}

func TestStrictObjectNested(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":{"b":1,"c":{"b":2}}}`, true},
		{`{"a":[{"b":1},{"b":1}]}`, true},
		{`{"a":[{"b":1,"b":1}]}`, false},
		{`{"a":{"b":{"c":1,"c":2}}}`, false},
		{`{"a":1,"b":[1,2,{"a":1}],"c":{}}`, true},
	} {
		_, err := strictObject([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("strictObject(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
