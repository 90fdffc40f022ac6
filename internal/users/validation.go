package users

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Field names, in the order the contract reports them.
const (
	FieldName     = "name"
	FieldEmail    = "email"
	FieldPassword = "password"
)

// Messages, exactly as Django REST Framework and Django word them.
const (
	MsgRequired      = "This field is required."
	MsgNull          = "This field may not be null."
	MsgBlank         = "This field may not be blank."
	MsgNullCharacter = "Null characters are not allowed."
	MsgMaxLength100  = "Ensure this field has no more than 100 characters."
	MsgMaxLength128  = "Ensure this field has no more than 128 characters."
	MsgInvalidEmail  = "Enter a valid email address."
	MsgEmailTaken    = "User with this email already exists."
	MsgTooSimilar    = "The password is too similar to the email."
	MsgTooCommon     = "This password is too common."
	MsgNumeric       = "This password is entirely numeric."
)

// FieldError is one field's messages, in the order they were added.
type FieldError struct {
	Field    string
	Messages []string
}

// ValidationError collects field errors in the contract's shape
// {"name":["…"],"email":["…"]}. Fields keep the order in which they were
// first added. The zero value is empty and ready to use; the methods that
// only read (Has, Messages, Empty, Err, Error, MarshalJSON) accept a nil
// pointer as empty.
type ValidationError struct {
	Fields []FieldError
}

// Add appends msg to field's messages, creating the field at the end if it
// is new.
func (e *ValidationError) Add(field, msg string) {
	for i := range e.Fields {
		if e.Fields[i].Field == field {
			e.Fields[i].Messages = append(e.Fields[i].Messages, msg)
			return
		}
	}
	e.Fields = append(e.Fields, FieldError{Field: field, Messages: []string{msg}})
}

// Has reports whether field has at least one message.
func (e *ValidationError) Has(field string) bool {
	return len(e.Messages(field)) > 0
}

// Messages returns field's messages (nil if none).
func (e *ValidationError) Messages(field string) []string {
	if e == nil {
		return nil
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Messages
		}
	}
	return nil
}

// Empty reports whether there are no messages at all.
func (e *ValidationError) Empty() bool {
	if e == nil {
		return true
	}
	for _, f := range e.Fields {
		if len(f.Messages) > 0 {
			return false
		}
	}
	return true
}

// Merge appends other's messages field by field (other's new fields go at
// the end, in other's order). A nil other is a no-op.
func (e *ValidationError) Merge(other *ValidationError) {
	if other == nil {
		return
	}
	for _, f := range other.Fields {
		for _, m := range f.Messages {
			e.Add(f.Field, m)
		}
	}
}

// Err returns e as an error, or an untyped nil when e is empty (avoiding
// the typed-nil-in-interface trap).
func (e *ValidationError) Err() error {
	if e.Empty() {
		return nil
	}
	return e
}

// Error lists every message: `name: This field may not be blank.; …`.
func (e *ValidationError) Error() string {
	if e.Empty() {
		return "validation failed"
	}
	var b strings.Builder
	for _, f := range e.Fields {
		for _, m := range f.Messages {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.Field)
			b.WriteString(": ")
			b.WriteString(m)
		}
	}
	return b.String()
}

// MarshalJSON renders the compact object {"field":["msg",…],…} with fields
// in order and, like DRF, without HTML escaping. Fields without messages
// are left out.
func (e *ValidationError) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	if e != nil {
		for _, f := range e.Fields {
			if len(f.Messages) == 0 {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			if err := writeJSON(&buf, f.Field); err != nil {
				return nil, err
			}
			buf.WriteByte(':')
			if err := writeJSON(&buf, f.Messages); err != nil {
				return nil, err
			}
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's trailing newline
	return nil
}
