package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/idp/idp/internal/users"
)

// A request body, decoded the way Django REST Framework's parsers and
// CharFields see it: JSON, form-encoded or multipart; each field missing,
// null, a string, or something that is not a string.

type fieldKind uint8

const (
	fieldMissing fieldKind = iota
	fieldNull
	fieldString
	fieldInvalid // a JSON bool, object or array: "Not a valid string."
)

type field struct {
	kind  fieldKind
	value string
}

type body map[string]field

// DRF's CharField messages.
const (
	msgRequired    = "This field is required."
	msgNull        = "This field may not be null."
	msgBlank       = "This field may not be blank."
	msgNotString   = "Not a valid string."
	msgNullChars   = "Null characters are not allowed."
	msgNoData      = "No data provided"
	msgUnsupported = "Unsupported media type %q in request."
)

// decodeBody reads at most max bytes of the request body and parses it by
// its Content-Type. Every failure is an *Error in the contract's shape.
func decodeBody(r *http.Request, max int64) (body, *Error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errDetail(http.StatusRequestEntityTooLarge, msgBodyTooLarge)
		}
		return nil, &Error{Status: http.StatusBadRequest, Body: detailBody{Detail: msgMalformed}, Cause: err}
	}
	if int64(len(raw)) > max {
		return nil, errDetail(http.StatusRequestEntityTooLarge, msgBodyTooLarge)
	}
	if len(raw) == 0 {
		return body{}, nil
	}
	ct := r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil && !(errors.Is(err, mime.ErrInvalidMediaParameter) && mediaType != "") {
		// A malformed parameter (application/json; charset) still names
		// the type, and Django reads it as such.
		return nil, errDetail(http.StatusUnsupportedMediaType, fmt.Sprintf(msgUnsupported, ct))
	}
	switch mediaType {
	case "application/json":
		return decodeJSON(raw)
	case "application/x-www-form-urlencoded":
		return decodeForm(raw)
	case "multipart/form-data":
		return decodeMultipart(raw, params["boundary"], max)
	}
	return nil, errDetail(http.StatusUnsupportedMediaType, fmt.Sprintf(msgUnsupported, ct))
}

func decodeJSON(raw []byte) (body, *Error) {
	if !utf8.Valid(raw) {
		return nil, errDetail(http.StatusBadRequest, "JSON parse error - invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, jsonParseError(raw, err)
	}
	// Python's json.loads refuses anything but whitespace after the value,
	// pointing at where the extra data starts.
	off := dec.InputOffset()
	for off < int64(len(raw)) && isJSONSpace(raw[off]) {
		off++
	}
	if off < int64(len(raw)) {
		return nil, errDetail(http.StatusBadRequest, "JSON parse error - Extra data: "+position(raw, off))
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return nil, nonFieldError(top)
	}
	b := make(body, len(obj))
	for k, v := range obj {
		switch v := v.(type) {
		case nil:
			b[k] = field{kind: fieldNull}
		case string:
			b[k] = field{kind: fieldString, value: v}
		case json.Number:
			b[k] = field{kind: fieldString, value: v.String()}
		default:
			b[k] = field{kind: fieldInvalid}
		}
	}
	return b, nil
}

// nonFieldError is DRF's answer to a JSON body that is not an object.
func nonFieldError(top any) *Error {
	ve := &users.ValidationError{}
	if top == nil {
		ve.Add("non_field_errors", msgNoData)
		return errFields(ve)
	}
	typ := "str"
	switch top.(type) {
	case []any:
		typ = "list"
	case bool:
		typ = "bool"
	case json.Number:
		typ = "int"
		if strings.ContainsAny(top.(json.Number).String(), ".eE") {
			typ = "float"
		}
	}
	ve.Add("non_field_errors", fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", typ))
	return errFields(ve)
}

// jsonParseError words a syntax error as DRF does ("JSON parse error -
// Expecting value: line 1 column 10 (char 9)"), with Go's reason where
// Python's has no direct equivalent.
func jsonParseError(raw []byte, err error) *Error {
	var off int64 = int64(len(raw))
	reason := "Expecting value"
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
		if !strings.Contains(se.Error(), "looking for beginning of value") {
			reason = strings.TrimPrefix(se.Error(), "invalid character ")
			reason = "Invalid character " + reason
		}
		if off > 0 {
			off-- // Go counts the offending byte as read
		}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
	default:
		reason = "Invalid JSON"
	}
	return errDetail(http.StatusBadRequest, "JSON parse error - "+reason+": "+position(raw, off))
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// position renders a byte offset as Python's json module does: in
// characters, not bytes.
func position(raw []byte, off int64) string {
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	before := raw[:off]
	line := 1 + bytes.Count(before, []byte("\n"))
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col := utf8.RuneCount(before[lineStart:]) + 1
	return fmt.Sprintf("line %d column %d (char %d)", line, col, utf8.RuneCount(before))
}

// decodeForm parses application/x-www-form-urlencoded as Django's QueryDict
// does (Python's parse_qsl): pairs split on "&" only, "+" is a space, a
// malformed percent-escape is kept as written, blank values are kept, and
// the last value of a key wins.
func decodeForm(raw []byte) (body, *Error) {
	values := map[string][]string{}
	for _, pair := range strings.Split(string(raw), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, val := formUnescape(k), formUnescape(v)
		values[key] = append(values[key], val)
	}
	return fromValues(values)
}

// formUnescape decodes "+" and %XX, leaving malformed escapes as they are.
func formUnescape(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func decodeMultipart(raw []byte, boundary string, max int64) (body, *Error) {
	if boundary == "" {
		return nil, errDetail(http.StatusBadRequest, "Multipart form parse error - Invalid boundary in multipart: None")
	}
	form, err := multipart.NewReader(bytes.NewReader(raw), boundary).ReadForm(max)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Body: detailBody{Detail: "Multipart form parse error - " + msgMalformed}, Cause: err}
	}
	defer form.RemoveAll()
	return fromValues(form.Value)
}

func fromValues(values map[string][]string) (body, *Error) {
	b := make(body, len(values))
	for k, vs := range values {
		v := vs[len(vs)-1]
		if !utf8.ValidString(v) || !utf8.ValidString(k) {
			return nil, errDetail(http.StatusBadRequest, msgMalformed)
		}
		b[k] = field{kind: fieldString, value: v}
	}
	return b, nil
}

// str checks one CharField: present, not null, a string without NUL
// characters. allowBlank=false also refuses "" after trimming (the check
// DRF makes for fields the core does not validate itself).
func (b body) str(name string, allowBlank bool, ve *users.ValidationError) string {
	f := b[name]
	switch f.kind {
	case fieldMissing:
		ve.Add(name, msgRequired)
	case fieldNull:
		ve.Add(name, msgNull)
	case fieldInvalid:
		ve.Add(name, msgNotString)
	default:
		if strings.ContainsRune(f.value, 0) {
			ve.Add(name, msgNullChars)
			return ""
		}
		if !allowBlank && users.Strip(f.value) == "" {
			ve.Add(name, msgBlank)
			return ""
		}
		return f.value
	}
	return ""
}
