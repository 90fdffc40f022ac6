package tokens

import (
	"bytes"
	"encoding/json"
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

// FuzzStrictObject: the token payload decoder never accepts duplicate
// member names, and what it accepts decodes exactly as encoding/json
// decodes it (so the claims it yields are not ambiguous).
func FuzzStrictObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"user_id":1}`, `{"user_id":1,"user_id":2}`, `{"user_id":1,"user\u005fid":2}`,
		`{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1}]}`, `{"a":[{"b":1,"b":1}]}`, `{"a":1}{"a":2}`,
		`{"a":1} `, `[]`, `"x"`, `{"a":}`, `{"\ud800":1,"\ufffd":2}`, `{"exp":1,"EXP":2}`,
		`{"a":"\u0000","a\u0000":1}`, `{"aud":["x","x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
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
