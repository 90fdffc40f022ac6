package users

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestValidationError(t *testing.T) {
	t.Run("add-keeps-field-and-message-order", func(t *testing.T) {
		ve := &ValidationError{}
		ve.Add(FieldPassword, "p1")
		ve.Add(FieldName, "n1")
		ve.Add(FieldPassword, "p2")
		got, err := json.Marshal(ve)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"password":["p1","p2"],"name":["n1"]}`; string(got) != want {
			t.Errorf("got %s, want %s", got, want)
		}
		if !ve.Has(FieldName) || ve.Has(FieldEmail) {
			t.Errorf("Has: name %v email %v", ve.Has(FieldName), ve.Has(FieldEmail))
		}
		if !slices.Equal(ve.Messages(FieldPassword), []string{"p1", "p2"}) {
			t.Errorf("Messages = %q", ve.Messages(FieldPassword))
		}
	})
	t.Run("empty-and-nil", func(t *testing.T) {
		var nilVE *ValidationError
		if !nilVE.Empty() || nilVE.Has(FieldName) || nilVE.Err() != nil {
			t.Error("nil ValidationError is not empty")
		}
		zero := &ValidationError{}
		if !zero.Empty() {
			t.Error("zero ValidationError is not empty")
		}
		if err := zero.Err(); err != nil {
			t.Errorf("Err() = %#v, want untyped nil", err)
		}
		b, _ := zero.MarshalJSON()
		if string(b) != "{}" {
			t.Errorf("empty JSON = %s", b)
		}
		withEmptyField := &ValidationError{Fields: []FieldError{{Field: FieldName}}}
		if !withEmptyField.Empty() {
			t.Error("a field without messages counts as an error")
		}
	})
	t.Run("err-is-usable-with-errors-as", func(t *testing.T) {
		ve := &ValidationError{}
		ve.Add(FieldEmail, MsgEmailTaken)
		var target *ValidationError
		if !errors.As(ve.Err(), &target) || !target.Has(FieldEmail) {
			t.Error("errors.As failed")
		}
		if got, want := ve.Error(), "email: User with this email already exists."; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	})
	t.Run("merge-appends-field-by-field", func(t *testing.T) {
		ve := &ValidationError{}
		ve.Add(FieldName, MsgRequired)
		other := &ValidationError{}
		other.Add(FieldEmail, MsgInvalidEmail)
		other.Add(FieldName, MsgMaxLength100)
		ve.Merge(other)
		ve.Merge(nil)
		b, _ := json.Marshal(ve)
		if want := `{"name":["This field is required.","Ensure this field has no more than 100 characters."],"email":["Enter a valid email address."]}`; string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
	})
	t.Run("json-is-compact-without-html-escaping", func(t *testing.T) {
		ve := &ValidationError{}
		ve.Add("non_field_errors", `<a & "b">`)
		ve.Add(FieldName, "é")
		// MarshalJSON itself; json.Marshal around it re-escapes HTML.
		b, _ := ve.MarshalJSON()
		if want := `{"non_field_errors":["<a & \"b\">"],"name":["é"]}`; string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
	})
}
