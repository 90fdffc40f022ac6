package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/internal/users"
)

// noCT sends no Content-Type header at all.
const noCT = "\x00none"

func decodeReq(ct, raw string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(raw))
	if ct != noCT {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

func str(v string) field { return field{kind: fieldString, value: v} }

var (
	null    = field{kind: fieldNull}
	invalid = field{kind: fieldInvalid}
)

// errJSON renders an *Error's body as the client would see it.
func errJSON(t testing.TB, e *Error) string {
	t.Helper()
	b, err := json.Marshal(e.Body)
	if err != nil {
		t.Fatalf("error body %#v does not marshal: %v", e.Body, err)
	}
	return string(b)
}

func parseErr(detail string) string {
	b, _ := json.Marshal(detailBody{Detail: detail})
	return string(b)
}

// multipartBody builds a multipart/form-data body from ordered key/value
// pairs; a key starting with "file:" becomes a file part.
func multipartBody(t testing.TB, kv ...string) (ct, raw string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i < len(kv); i += 2 {
		var err error
		if name, ok := strings.CutPrefix(kv[i], "file:"); ok {
			var fw io.Writer
			fw, err = w.CreateFormFile(name, "x.txt")
			if err == nil {
				_, err = fw.Write([]byte(kv[i+1]))
			}
		} else {
			err = w.WriteField(kv[i], kv[i+1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.String()
}

func TestDecodeBody(t *testing.T) {
	mpCT, mpRaw := multipartBody(t, "name", "Alice", "a", "1", "a", "2", "file:avatar", "PNG…", "email", "alice@example.com")
	mpBadCT, mpBad := multipartBody(t, "name", "\xff")
	tests := []struct {
		name   string
		ct     string
		raw    string
		want   body   // when the body decodes
		status int    // otherwise
		detail string // exact JSON of the error body
	}{
		// JSON objects.
		{name: "json/object", ct: "application/json", raw: `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`,
			want: body{"name": str("Alice"), "email": str("alice@example.com"), "password": str("s3cret-pass")}},
		{name: "json/empty-object", ct: "application/json", raw: `{}`, want: body{}},
		{name: "json/whitespace-around", ct: "application/json", raw: " \r\n\t{\"a\":\"b\"} \n", want: body{"a": str("b")}},
		{name: "json/nested-values-not-strings", ct: "application/json", raw: `{"o":{"a":"b"},"l":["x"],"e":[],"t":true,"f":false}`,
			want: body{"o": invalid, "l": invalid, "e": invalid, "t": invalid, "f": invalid}},
		{name: "json/numbers-keep-their-text", ct: "application/json", raw: `{"i":42,"neg":-7,"z":-0,"f":1.50,"e":1e5,"big":123456789012345678901234567890}`,
			want: body{"i": str("42"), "neg": str("-7"), "z": str("-0"), "f": str("1.50"), "e": str("1e5"), "big": str("123456789012345678901234567890")}},
		{name: "json/null-value", ct: "application/json", raw: `{"name":null}`, want: body{"name": null}},
		{name: "json/duplicate-keys-last-wins", ct: "application/json", raw: `{"a":"1","b":"x","a":"2","b":null,"c":null,"c":"y"}`,
			want: body{"a": str("2"), "b": null, "c": str("y")}},
		{name: "json/escapes", ct: "application/json", raw: `{"a":"\u00e9\n\"\\","b":"\ud800"}`,
			want: body{"a": str("é\n\"\\"), "b": str("\ufffd")}},
		{name: "json/nul-kept-for-the-field-check", ct: "application/json", raw: `{"a":"x\u0000y"}`, want: body{"a": str("x\x00y")}},
		{name: "json/content-type-case-and-params", ct: "Application/JSON; charset=UTF-8", raw: `{"a":"b"}`, want: body{"a": str("b")}},
		{name: "json/content-type-trailing-semicolon", ct: "application/json;", raw: `{"a":"b"}`, want: body{"a": str("b")}},

		// JSON that is not an object: DRF's non_field_errors.
		{name: "json/top-level-array", ct: "application/json", raw: `[1,2]`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "json/top-level-empty-array", ct: "application/json", raw: `[]`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "json/top-level-string", ct: "application/json", raw: `"x"`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
		{name: "json/top-level-int", ct: "application/json", raw: `42`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}`},
		{name: "json/top-level-negative-int", ct: "application/json", raw: `-1`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}`},
		{name: "json/top-level-float", ct: "application/json", raw: `1.5`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}`},
		{name: "json/top-level-exponent-is-float", ct: "application/json", raw: `1E3`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}`},
		{name: "json/top-level-true", ct: "application/json", raw: `true`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got bool."]}`},
		{name: "json/top-level-false", ct: "application/json", raw: `false`, status: 400, detail: `{"non_field_errors":["Invalid data. Expected a dictionary, but got bool."]}`},
		{name: "json/top-level-null", ct: "application/json", raw: `null`, status: 400, detail: `{"non_field_errors":["No data provided"]}`},

		// Broken JSON, worded and positioned as Python's json module does.
		{name: "json/invalid-utf8", ct: "application/json", raw: "{\"a\":\"\xff\"}", status: 400, detail: parseErr("JSON parse error - invalid UTF-8")},
		{name: "json/truncated-after-colon", ct: "application/json", raw: `{"name": `, status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 10 (char 9)")},
		{name: "json/truncated-token-contract-row", ct: "application/json", raw: `{"email": `, status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 11 (char 10)")},
		{name: "json/truncated-array", ct: "application/json", raw: `[1,`, status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 4 (char 3)")},
		{name: "json/truncated-multi-line", ct: "application/json", raw: "{\"a\":\n  1,\n  \"b\": ", status: 400, detail: parseErr("JSON parse error - Expecting value: line 3 column 8 (char 18)")},
		{name: "json/missing-value-multi-line", ct: "application/json", raw: "{\"a\":\n  1,\n  \"b\": }", status: 400, detail: parseErr("JSON parse error - Expecting value: line 3 column 8 (char 18)")},
		{name: "json/garbage-after-blank-lines", ct: "application/json", raw: "\n\n   x", status: 400, detail: parseErr("JSON parse error - Expecting value: line 3 column 4 (char 5)")},
		{name: "json/whitespace-only", ct: "application/json", raw: " ", status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 2 (char 1)")},
		{name: "json/not-json", ct: "application/json", raw: "x", status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 1 (char 0)")},
		{name: "json/trailing-comma-in-array", ct: "application/json", raw: `[1,]`, status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 4 (char 3)")},
		{name: "json/utf8-bom", ct: "application/json", raw: "\ufeff{}", status: 400, detail: parseErr("JSON parse error - Expecting value: line 1 column 1 (char 0)")},
		{name: "json/extra-data-after-space", ct: "application/json", raw: `{} x`, status: 400, detail: parseErr("JSON parse error - Extra data: line 1 column 4 (char 3)")},
		{name: "json/extra-data-adjacent", ct: "application/json", raw: `{}x`, status: 400, detail: parseErr("JSON parse error - Extra data: line 1 column 3 (char 2)")},
		{name: "json/extra-bracket", ct: "application/json", raw: `{"a":1}]`, status: 400, detail: parseErr("JSON parse error - Extra data: line 1 column 8 (char 7)")},
		{name: "json/extra-data-after-number", ct: "application/json", raw: `123abc`, status: 400, detail: parseErr("JSON parse error - Extra data: line 1 column 4 (char 3)")},
		{name: "json/extra-data-multi-line", ct: "application/json", raw: "{\"a\":1}\n\n  x", status: 400, detail: parseErr("JSON parse error - Extra data: line 3 column 3 (char 11)")},

		// Form-encoded, like Django's QueryDict.
		{name: "form/fields", ct: "application/x-www-form-urlencoded", raw: "name=Form&email=form%40example.com&password=x+1234%2B",
			want: body{"name": str("Form"), "email": str("form@example.com"), "password": str("x 1234+")}},
		{name: "form/last-value-wins", ct: "application/x-www-form-urlencoded", raw: "a=1&b=x&a=2", want: body{"a": str("2"), "b": str("x")}},
		{name: "form/blank-and-bare-keys", ct: "application/x-www-form-urlencoded", raw: "a=&b", want: body{"a": str(""), "b": str("")}},
		{name: "form/charset-param", ct: "application/x-www-form-urlencoded; charset=utf-8", raw: "a=%C3%A9", want: body{"a": str("é")}},
		{name: "form/nul-kept-for-the-field-check", ct: "application/x-www-form-urlencoded", raw: "a=x%00y", want: body{"a": str("x\x00y")}},
		{name: "form/invalid-utf8-value", ct: "application/x-www-form-urlencoded", raw: "name=%ff", status: 400, detail: parseErr("Malformed request.")},
		{name: "form/invalid-utf8-raw-byte", ct: "application/x-www-form-urlencoded", raw: "name=\xc3", status: 400, detail: parseErr("Malformed request.")},
		{name: "form/invalid-utf8-key", ct: "application/x-www-form-urlencoded", raw: "%ff=x", status: 400, detail: parseErr("Malformed request.")},
		{name: "form/not-form-data-at-all", ct: "application/x-www-form-urlencoded", raw: `{"name":"x"}`, want: body{`{"name":"x"}`: str("")}},

		// Multipart.
		{name: "multipart/fields-last-wins-files-ignored", ct: mpCT, raw: mpRaw,
			want: body{"name": str("Alice"), "a": str("2"), "email": str("alice@example.com")}},
		{name: "multipart/no-boundary", ct: "multipart/form-data", raw: mpRaw, status: 400, detail: parseErr("Multipart form parse error - Invalid boundary in multipart: None")},
		{name: "multipart/empty-boundary", ct: `multipart/form-data; boundary=""`, raw: mpRaw, status: 400, detail: parseErr("Multipart form parse error - Invalid boundary in multipart: None")},
		{name: "multipart/wrong-boundary", ct: "multipart/form-data; boundary=nope", raw: mpRaw, status: 400, detail: parseErr("Multipart form parse error - Malformed request.")},
		{name: "multipart/garbage", ct: "multipart/form-data; boundary=X", raw: "garbage", status: 400, detail: parseErr("Multipart form parse error - Malformed request.")},
		{name: "multipart/truncated", ct: mpCT, raw: mpRaw[:len(mpRaw)/2], status: 400, detail: parseErr("Multipart form parse error - Malformed request.")},
		{name: "multipart/invalid-utf8", ct: mpBadCT, raw: mpBad, status: 400, detail: parseErr("Malformed request.")},

		// Content types.
		{name: "empty/json", ct: "application/json", raw: "", want: body{}},
		{name: "empty/no-content-type", ct: noCT, raw: "", want: body{}},
		{name: "empty/unsupported-type", ct: "text/plain", raw: "", want: body{}},
		{name: "no-content-type", ct: noCT, raw: `{"a":"b"}`, status: 415, detail: `{"detail":"Unsupported media type \"\" in request."}`},
		{name: "text-plain", ct: "text/plain", raw: "hello", status: 415, detail: `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{name: "text-plain-with-params", ct: "text/plain; charset=utf-8", raw: "hello", status: 415, detail: `{"detail":"Unsupported media type \"text/plain; charset=utf-8\" in request."}`},
		{name: "application-xml", ct: "application/xml", raw: "<a/>", status: 415, detail: `{"detail":"Unsupported media type \"application/xml\" in request."}`},
		{name: "json-suffix-type", ct: "application/vnd.api+json", raw: `{}`, status: 415, detail: `{"detail":"Unsupported media type \"application/vnd.api+json\" in request."}`},
		{name: "unparsable-type", ct: "a b", raw: `{}`, status: 415, detail: `{"detail":"Unsupported media type \"a b\" in request."}`},
		{name: "type-list", ct: "application/json, text/plain", raw: `{}`, status: 415, detail: `{"detail":"Unsupported media type \"application/json, text/plain\" in request."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, herr := decodeBody(decodeReq(tc.ct, tc.raw), 1<<20)
			if tc.status != 0 {
				if herr == nil {
					t.Fatalf("decoded %v, want %d %s", got, tc.status, tc.detail)
				}
				if got != nil {
					t.Errorf("body %v returned with an error", got)
				}
				if herr.Status != tc.status {
					t.Errorf("status %d, want %d", herr.Status, tc.status)
				}
				if b := errJSON(t, herr); b != tc.detail {
					t.Errorf("error body\n got  %s\n want %s", b, tc.detail)
				}
				return
			}
			if herr != nil {
				t.Fatalf("error %d %s", herr.Status, errJSON(t, herr))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("body\n got  %#v\n want %#v", got, tc.want)
			}
		})
	}
}

// TestDecodeBodyParsePositions covers syntax errors whose Python wording
// has no Go equivalent: the reason may differ, the position may not.
func TestDecodeBodyParsePositions(t *testing.T) {
	tests := []struct{ name, raw, pos string }{
		{"open-brace", `{`, "line 1 column 2 (char 1)"},
		{"key-without-colon", `{"name"`, "line 1 column 8 (char 7)"},
		{"value-without-comma", `{"a":1`, "line 1 column 7 (char 6)"},
		{"value-instead-of-colon", `{"a" 1}`, "line 1 column 6 (char 5)"},
		{"trailing-comma-in-object", `{"a":1,}`, "line 1 column 8 (char 7)"},
		{"control-character", "{\"a\":\"\x01\"}", "line 1 column 7 (char 6)"},
		{"multi-line-missing-colon", "{\n  \"a\"\n  1}", "line 3 column 3 (char 10)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, herr := decodeBody(decodeReq("application/json", tc.raw), 1<<20)
			if herr == nil || herr.Status != http.StatusBadRequest {
				t.Fatalf("got %v, want a 400", herr)
			}
			d := herr.Body.(detailBody).Detail
			if !strings.HasPrefix(d, "JSON parse error - ") || !strings.HasSuffix(d, ": "+tc.pos) {
				t.Errorf("detail %q, want a JSON parse error at %s", d, tc.pos)
			}
		})
	}
}

// Python's json module reports the position of the first extra byte and
// counts characters, not bytes (DRF decodes the body before parsing).
func TestDecodeBodyParsePositionsLikePython(t *testing.T) {
	tests := []struct{ name, raw, detail string }{
		{"extra-object-after-space", `{} {}`, "JSON parse error - Extra data: line 1 column 4 (char 3)"},
		{"extra-object-adjacent", `{}{}`, "JSON parse error - Extra data: line 1 column 3 (char 2)"},
		{"extra-number", `{} 1`, "JSON parse error - Extra data: line 1 column 4 (char 3)"},
		{"leading-zero", `01`, "JSON parse error - Extra data: line 1 column 2 (char 1)"},
		{"non-ascii-key-truncated", `{"é": `, "JSON parse error - Expecting value: line 1 column 7 (char 6)"},
		{"non-ascii-then-extra-data", `{"é":1} x`, "JSON parse error - Extra data: line 1 column 9 (char 8)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, herr := decodeBody(decodeReq("application/json", tc.raw), 1<<20)
			if herr == nil {
				t.Fatal("decoded")
			}
			if d := herr.Body.(detailBody).Detail; d != tc.detail {
				t.Errorf("detail\n got  %q\n want %q", d, tc.detail)
			}
		})
	}
}

func TestDecodeBodyDeepNesting(t *testing.T) {
	// Python's json raises RecursionError here (a 500 in the tutorial app);
	// idp must answer 400.
	for _, raw := range []string{strings.Repeat("[", 20000), `{"a":` + strings.Repeat("[", 20000)} {
		_, herr := decodeBody(decodeReq("application/json", raw), 1<<20)
		if herr == nil || herr.Status != http.StatusBadRequest || !strings.HasPrefix(herr.Body.(detailBody).Detail, "JSON parse error - ") {
			t.Errorf("%.10q…: got %v, want a 400 JSON parse error", raw, herr)
		}
	}
}

func TestDecodeBodyFormLenient(t *testing.T) {
	// A bad escape must not fail the request (Django's QueryDict tolerates
	// it) and must not take the other fields with it.
	got, herr := decodeBody(decodeReq("application/x-www-form-urlencoded", "name=A%zz&email=e%40x&password=100%"), 1<<20)
	if herr != nil {
		t.Fatalf("error %d %s", herr.Status, errJSON(t, herr))
	}
	if got["email"] != str("e@x") {
		t.Errorf("email %#v", got["email"])
	}
	for _, k := range []string{"name", "password"} {
		if f, ok := got[k]; ok && f.kind != fieldString {
			t.Errorf("%s %#v", k, f)
		}
	}
}

func TestDecodeBodyFormKeepsWhatDjangoKeeps(t *testing.T) {
	got, herr := decodeBody(decodeReq("application/x-www-form-urlencoded", "name=A%zz&email=e%40x&password=pa;ss&x=100%"), 1<<20)
	if herr != nil {
		t.Fatalf("error %d %s", herr.Status, errJSON(t, herr))
	}
	want := body{"name": str("A%zz"), "email": str("e@x"), "password": str("pa;ss"), "x": str("100%")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body\n got  %#v\n want %#v", got, want)
	}
}

func TestDecodeBodyContentTypeWithBadParameter(t *testing.T) {
	for _, ct := range []string{"application/json; charset", "application/json;;"} {
		got, herr := decodeBody(decodeReq(ct, `{"a":"b"}`), 1<<20)
		if herr != nil || got["a"] != str("b") {
			t.Errorf("%q: got %v, %v", ct, got, herr)
		}
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	raw := `{"name":"` + strings.Repeat("x", 100) + `"}`
	n := int64(len(raw))
	tests := []struct {
		name   string
		ct     string
		raw    string
		max    int64
		status int
	}{
		{name: "exactly-at-the-limit", ct: "application/json", raw: raw, max: n},
		{name: "one-byte-over", ct: "application/json", raw: raw, max: n - 1, status: 413},
		{name: "far-over", ct: "application/json", raw: raw + strings.Repeat(" ", 1<<16), max: n, status: 413},
		{name: "size-checked-before-type", ct: "text/plain", raw: raw, max: n - 1, status: 413},
		{name: "size-checked-before-syntax", ct: "application/json", raw: raw + "garbage", max: n, status: 413},
		{name: "form-one-byte-over", ct: "application/x-www-form-urlencoded", raw: "a=123", max: 4, status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, herr := decodeBody(decodeReq(tc.ct, tc.raw), tc.max)
			switch {
			case tc.status == 0 && herr != nil:
				t.Fatalf("error %d %s", herr.Status, errJSON(t, herr))
			case tc.status != 0 && herr == nil:
				t.Fatalf("decoded, want %d", tc.status)
			case tc.status != 0:
				if herr.Status != tc.status || errJSON(t, herr) != `{"detail":"Request body is too large."}` {
					t.Errorf("got %d %s", herr.Status, errJSON(t, herr))
				}
			}
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestDecodeBodyReadErrors(t *testing.T) {
	t.Run("max-bytes-reader-413", func(t *testing.T) {
		r := decodeReq("application/json", `{"name":"`+strings.Repeat("x", 100)+`"}`)
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
		_, herr := decodeBody(r, 1<<20)
		if herr == nil || herr.Status != 413 || errJSON(t, herr) != `{"detail":"Request body is too large."}` {
			t.Fatalf("got %v", herr)
		}
	})
	t.Run("broken-connection-400-cause-kept", func(t *testing.T) {
		cause := errors.New("connection reset: " + secret)
		r := decodeReq("application/json", "")
		r.Body = io.NopCloser(failingReader{cause})
		_, herr := decodeBody(r, 1<<20)
		if herr == nil || herr.Status != 400 {
			t.Fatalf("got %v", herr)
		}
		if b := errJSON(t, herr); b != `{"detail":"Malformed request."}` {
			t.Errorf("body %s", b)
		}
		if !errors.Is(herr, cause) {
			t.Errorf("cause %v not kept for the log", herr.Cause)
		}
	})
}

func TestBodyStr(t *testing.T) {
	b := body{
		"null":       null,
		"invalid":    invalid,
		"empty":      str(""),
		"spaces":     str(" \t\r\n\v\f\u00a0\u3000"),
		"padded":     str("  x  "),
		"nul":        str("a\x00b"),
		"only-nul":   str("\x00"),
		"spaced-nul": str(" \x00 "),
		"number":     str("42"),
	}
	tests := []struct {
		name       string
		field      string
		allowBlank bool
		want       string
		msgs       []string
	}{
		{name: "missing", field: "absent", msgs: []string{"This field is required."}},
		{name: "missing-blank-allowed", field: "absent", allowBlank: true, msgs: []string{"This field is required."}},
		{name: "null", field: "null", msgs: []string{"This field may not be null."}},
		{name: "null-blank-allowed", field: "null", allowBlank: true, msgs: []string{"This field may not be null."}},
		{name: "not-a-string", field: "invalid", msgs: []string{"Not a valid string."}},
		{name: "empty", field: "empty", msgs: []string{"This field may not be blank."}},
		{name: "empty-blank-allowed", field: "empty", allowBlank: true, want: ""},
		{name: "whitespace-only", field: "spaces", msgs: []string{"This field may not be blank."}},
		{name: "whitespace-only-blank-allowed-untrimmed", field: "spaces", allowBlank: true, want: " \t\r\n\v\f\u00a0\u3000"},
		{name: "padded-returned-untrimmed", field: "padded", want: "  x  "},
		{name: "nul", field: "nul", msgs: []string{"Null characters are not allowed."}},
		{name: "nul-blank-allowed", field: "nul", allowBlank: true, msgs: []string{"Null characters are not allowed."}},
		{name: "only-nul-is-not-blank", field: "only-nul", msgs: []string{"Null characters are not allowed."}},
		{name: "nul-in-spaces-is-not-blank", field: "spaced-nul", msgs: []string{"Null characters are not allowed."}},
		{name: "number-text", field: "number", want: "42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ve users.ValidationError
			got := b.str(tc.field, tc.allowBlank, &ve)
			if got != tc.want {
				t.Errorf("value %q, want %q", got, tc.want)
			}
			if msgs := ve.Messages(tc.field); !reflect.DeepEqual(msgs, tc.msgs) {
				t.Errorf("messages %q, want %q", msgs, tc.msgs)
			}
			if len(ve.Fields) > 1 {
				t.Errorf("errors on other fields: %v", ve.Fields)
			}
		})
	}
}

// DRF trims with Python's str.strip(), which also strips the ASCII
// separators U+001C–U+001F (users.pyStrip knows this; str() does not).
func TestBodyStrBlankLikePython(t *testing.T) {
	for _, v := range []string{"\x1c", "\x1d", "\x1e", "\x1f", " \x1f\t"} {
		var ve users.ValidationError
		body{"f": str(v)}.str("f", false, &ve)
		if msgs := ve.Messages("f"); !reflect.DeepEqual(msgs, []string{"This field may not be blank."}) {
			t.Errorf("%q: messages %q", v, msgs)
		}
	}
}
