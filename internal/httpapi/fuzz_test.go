package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// fuzzContentTypes are the Content-Types FuzzDecodeBody picks from.
var fuzzContentTypes = []string{
	"application/json",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=B",
	"multipart/form-data",
	"text/plain",
	"",
}

const fuzzMultipart = "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAlice\r\n" +
	"--B\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ns3cret\r\n--B--\r\n"

// contractBodies are request bodies from seed-api-contract.md §4–§6, with
// the index of their Content-Type in fuzzContentTypes.
var contractBodies = []struct {
	raw string
	ct  uint8
}{
	{`{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`, 0},
	{`{}`, 0},
	{`{"name":"B","email":"b@example.com"}`, 0},
	{`{"name":null,"email":null,"password":null}`, 0},
	{`{"name":"Alice","email":"alice@example.com","password":"  padded-pass  ","id":999,"is_staff":true}`, 0},
	{`{"name": `, 0},
	{`{"email": `, 0},
	{`[1,2]`, 0},
	{`null`, 0},
	{`1.5e3`, 0},
	{`{"refresh":""}`, 0},
	{`{"token":{"a":[1,true,null]}}`, 0},
	{"{\"a\":\n 1,\n \"b\": }", 0},
	{`{} x`, 0},
	{`{"é": `, 0},
	{"{\"a\":\"\xff\"}", 0},
	{`{"a":"x\u0000y","a":"z"}`, 0},
	{"name=Form&email=form%40example.com&password=x1234567", 1},
	{"email=a&email=b&password=%zz;x", 1},
	{"a=%ff", 1},
	{fuzzMultipart, 2},
	{fuzzMultipart, 3},
	{"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\xff\r\n--B--\r\n", 2},
	{"hello", 4},
	{`{"a":"b"}`, 5},
}

var parsePosition = regexp.MustCompile(`: line (\d+) column (\d+) \(char (\d+)\)$`)

// FuzzDecodeBody: whatever the bytes and the Content-Type, decodeBody
// never panics and returns exactly one of a body (valid UTF-8 throughout)
// or an *Error with a 4xx status and a JSON-marshalable body.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range contractBodies {
		f.Add([]byte(s.raw), s.ct)
	}
	const max = 4096
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		ct := fuzzContentTypes[int(which)%len(fuzzContentTypes)]
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		b, herr := decodeBody(r, max)
		if herr != nil {
			if b != nil {
				t.Fatalf("both a body %v and an error %v", b, herr)
			}
			if herr.Status < 400 || herr.Status >= 500 {
				t.Fatalf("status %d for %q (%s)", herr.Status, raw, ct)
			}
			js, err := json.Marshal(herr.Body)
			if err != nil || !json.Valid(js) {
				t.Fatalf("error body %#v does not marshal: %v", herr.Body, err)
			}
			if len(raw) > max && herr.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over the limit answered %d", len(raw), herr.Status)
			}
			if d, ok := herr.Body.(detailBody); ok && strings.HasPrefix(d.Detail, "JSON parse error - ") {
				checkPosition(t, raw, d.Detail)
			}
			return
		}
		if b == nil {
			t.Fatal("neither a body nor an error")
		}
		if len(raw) > max {
			t.Fatalf("%d bytes over the limit decoded", len(raw))
		}
		if len(raw) > 0 && ct != fuzzContentTypes[0] && ct != fuzzContentTypes[1] && ct != fuzzContentTypes[2] {
			t.Fatalf("decoded %q under Content-Type %q", raw, ct)
		}
		if ct == fuzzContentTypes[0] && len(raw) > 0 && !json.Valid(raw) {
			t.Fatalf("decoded invalid JSON %q", raw)
		}
		for k, v := range b {
			if !utf8.ValidString(k) || !utf8.ValidString(v.value) {
				t.Fatalf("invalid UTF-8 in %q: %q", k, v.value)
			}
			if v.kind != fieldString && v.value != "" {
				t.Fatalf("field %q of kind %d carries %q", k, v.kind, v.value)
			}
			var ve users.ValidationError
			got := b.str(k, false, &ve)
			if v.kind != fieldString && ve.Empty() {
				t.Fatalf("field %q of kind %d passed str()", k, v.kind)
			}
			if !ve.Empty() && got != "" {
				t.Fatalf("str() returned %q with errors %v", got, ve)
			}
		}
		if ct == fuzzContentTypes[0] && len(raw) > 0 && utf8.Valid(raw) && json.Valid(raw) {
			// Valid JSON: decoded means it was an object.
			if t0 := bytes.TrimLeft(raw, " \t\r\n"); len(t0) == 0 || t0[0] != '{' {
				t.Fatalf("non-object %q decoded", raw)
			}
		}
	})
}

// checkPosition asserts that a JSON parse error's position lies inside
// the body and that line and column agree with the char offset.
func checkPosition(t *testing.T, raw []byte, detail string) {
	t.Helper()
	if detail == "JSON parse error - invalid UTF-8" {
		if utf8.Valid(raw) {
			t.Fatalf("valid UTF-8 %q reported invalid", raw)
		}
		return
	}
	if utf8.Valid(raw) && json.Valid(raw) {
		t.Fatalf("valid JSON %q reported as %q", raw, detail)
	}
	m := parsePosition.FindStringSubmatch(detail)
	if m == nil {
		t.Fatalf("no position in %q", detail)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	off, _ := strconv.Atoi(m[3])
	if off < 0 || off > len(raw) {
		t.Fatalf("offset %d outside a %d-byte body: %q", off, len(raw), detail)
	}
	before := raw[:off]
	wantLine := 1 + bytes.Count(before, []byte("\n"))
	wantCol := off + 1
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		wantCol = off - i
	}
	if line != wantLine || col != wantCol {
		t.Fatalf("%q: line %d column %d, want %d %d for char %d", detail, line, col, wantLine, wantCol, off)
	}
}

// knownAuthBodies are every answer logged-user may give to a bearer
// header with the fuzz fakes.
var knownAuthBodies = map[string]bool{
	bodyAlice: true, bodyNotProvided: true, bodyBadHeader: true, bodyGivenInvalid: true,
	bodyGivenWrong: true, bodyNoUserID: true, bodyUserNotFound: true, bodyUserInactive: true,
}

// FuzzAuthorizationHeader sends random Authorization headers through the
// real handlers (logged-user/ and register/) over fake Tokens: never a
// 5xx, always JSON, every 401 with WWW-Authenticate, and only the
// contract's answers.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, h := range []string{
		"", " ", "Bearer", "Bearer ", "Bearer " + tokAlice, "Bearer  " + tokAlice, "Bearer\t" + tokAlice,
		"Bearer " + tokAlice + " extra", "bearer " + tokAlice, "BEARER x", "Token x", "JWT " + tokAlice,
		"Basic YWxpY2U6cHc=", "Bearer garbage", "Bearer " + tokRefresh, "Bearer " + tokNoUserID,
		"Bearer " + tokDeleted, "Bearer " + tokInactive, "Bearer\u00a0" + tokAlice, "Bearer \x00",
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ1c2VyX2lkIjoxfQ.", "Bearer\r\n" + tokAlice,
	} {
		f.Add(h, false)
		f.Add(h, true)
	}
	f.Fuzz(func(t *testing.T, header string, register bool) {
		fx := newFixture(t)
		// The fake's tokens minus the one that simulates a server failure.
		fx.tokens.verifyAccess = func(tok string) (tokens.AccessClaims, error) {
			if tok == tokInternal {
				return tokens.AccessClaims{}, wrapped(tokens.ErrTokenInvalid)
			}
			return (&fakeTokens{}).VerifyAccess(context.Background(), tok)
		}
		r := req{method: http.MethodGet, path: "/api/logged-user/", headers: []string{"Authorization: " + header}}
		if register {
			r = req{path: "/api/register/", body: `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`, headers: r.headers}
		}
		res := fx.do(t, r)
		if res.status >= 500 {
			t.Fatalf("%q: %s", header, res)
		}
		checkInvariants(t, res, r.method)
		if res.header.Get("Content-Type") != mimeJSON {
			t.Fatalf("%q: Content-Type %q", header, res.header.Get("Content-Type"))
		}
		noBearer := !strings.Contains(header, "Bearer")
		switch {
		case register && res.status == http.StatusOK:
			if fx.users.called("Register") != 1 {
				t.Fatalf("%q: 200 without registering", header)
			}
		case register && res.status == http.StatusUnauthorized:
			if fx.users.called("Register") != 0 || noBearer || !knownAuthBodies[res.body] {
				t.Fatalf("%q: %s", header, res)
			}
		case register:
			t.Fatalf("%q: %s", header, res)
		case res.status == http.StatusOK:
			if res.body != bodyAlice || !strings.Contains(header, tokAlice) {
				t.Fatalf("%q: %s", header, res)
			}
		case res.status == http.StatusUnauthorized:
			if !knownAuthBodies[res.body] || (noBearer && res.body != bodyNotProvided) {
				t.Fatalf("%q: %s", header, res)
			}
		default:
			t.Fatalf("%q: %s", header, res)
		}
	})
}

// FuzzEndpoints posts random bodies to every POST endpoint over the fakes:
// never a 5xx, always one JSON answer that satisfies the invariants.
func FuzzEndpoints(f *testing.F) {
	for i, s := range contractBodies {
		f.Add([]byte(s.raw), s.ct, uint8(i))
	}
	paths := []string{"/api/register/", "/api/token/", "/api/token/refresh/", "/api/token/verify/"}
	f.Fuzz(func(t *testing.T, raw []byte, which, endpoint uint8) {
		fx := newFixture(t, func(o *Options) { o.MaxBodyBytes = 4096 })
		ct := fuzzContentTypes[int(which)%len(fuzzContentTypes)]
		hr := httptest.NewRequest(http.MethodPost, paths[int(endpoint)%len(paths)], bytes.NewReader(raw))
		if ct != "" {
			hr.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		fx.e.ServeHTTP(rec, hr)
		res := newResponse(rec.Code, rec.Header(), rec.Body.String())
		if res.status >= 500 || res.status < 200 {
			t.Fatalf("%s %q (%s): %s", hr.URL.Path, raw, ct, res)
		}
		checkInvariants(t, res, http.MethodPost)
		if res.header.Get("Allow") != allowPost {
			t.Fatalf("Allow %q", res.header.Get("Allow"))
		}
	})
}
