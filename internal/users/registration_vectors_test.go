package users

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestValidateRegistrationMatchesDRF replays testdata/registration_vectors.json:
// the answers Django 3.2.25 + DRF 3.14.0 (the tutorial's stack) give for
// the same inputs, with Django's default password validators added (see
// testdata/drf_oracle.py).
func TestValidateRegistrationMatchesDRF(t *testing.T) {
	raw, err := os.ReadFile("testdata/registration_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		In   map[string]string   `json:"in"`
		Want map[string][]string `json:"want"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 100 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	s := newPolicyService(t)
	for i, v := range vectors {
		r := Registration{Name: v.In["name"], Email: v.In["email"], Password: v.In["password"]}
		ve := s.ValidateRegistration(r)
		want := &ValidationError{}
		for _, f := range []string{FieldName, FieldEmail, FieldPassword} {
			for _, m := range v.Want[f] {
				want.Add(f, m)
			}
		}
		got, _ := json.Marshal(ve)
		if ve == nil {
			got = []byte("{}")
		}
		wantJSON, _ := want.MarshalJSON()
		if string(got) != string(wantJSON) {
			t.Errorf("vector %d %q:\n got %s\nwant %s", i, r, got, wantJSON)
		}
	}
}

// FuzzValidateRegistration: any input gives known messages only, on the
// three fields in order, and never a panic.
func FuzzValidateRegistration(f *testing.F) {
	f.Add("Alice", "alice@example.com", "s3cret-pass")
	f.Add("", "", "")
	f.Add(" \x00", "a@[::1]", "1234")
	f.Add("x", `"q\"x"@bücher.de`, "alice@bücher.de")
	known := map[string]bool{MsgBlank: true, MsgNullCharacter: true, MsgMaxLength100: true, MsgMaxLength128: true,
		MsgInvalidEmail: true, MsgTooSimilar: true, MsgTooCommon: true, MsgNumeric: true}
	s := newPolicyService(f)
	f.Fuzz(func(t *testing.T, name, email, password string) {
		ve := s.ValidateRegistration(Registration{Name: name, Email: email, Password: password})
		if ve == nil {
			return
		}
		last := -1
		for _, fe := range ve.Fields {
			i := map[string]int{FieldName: 0, FieldEmail: 1, FieldPassword: 2}[fe.Field]
			if i <= last {
				t.Errorf("field order: %v", ve.Fields)
			}
			last = i
			for _, m := range fe.Messages {
				if !known[m] && !strings.HasPrefix(m, "This password is too short.") {
					t.Errorf("unknown message %q", m)
				}
			}
		}
		if _, err := ve.MarshalJSON(); err != nil {
			t.Error(err)
		}
	})
}

func BenchmarkValidateRegistration(b *testing.B) {
	s := newPolicyService(b)
	r := Registration{Name: "Alice Liddell", Email: "alice.liddell@example.com", Password: "through-the-looking-glass"}
	for b.Loop() {
		if ve := s.ValidateRegistration(r); ve != nil {
			b.Fatal(ve)
		}
	}
}
