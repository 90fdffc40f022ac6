package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// logBuffer is a JSON slog sink with request ids, at debug level.
type logBuffer struct{ buf bytes.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(LogHandler(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// records parses every line logged so far.
func (l *logBuffer) records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (l *logBuffer) find(t testing.TB, msg string) map[string]any {
	t.Helper()
	for _, r := range l.records(t) {
		if r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no %q record in\n%s", msg, l.buf.String())
	return nil
}

func TestErrorHandler(t *testing.T) {
	type unmarshalable struct{ C chan int }
	tests := []struct {
		name    string
		method  string
		handler echo.HandlerFunc
		status  int
		want    string
		header  map[string]string
		logMsg  string // a record the error must leave
	}{
		{name: "panic-string", handler: func(echo.Context) error { panic("boom " + secret) },
			status: 500, want: bodyServerError, logMsg: "request failed"},
		{name: "panic-error", handler: func(echo.Context) error { panic(errors.New("nil map " + secret)) },
			status: 500, want: bodyServerError, logMsg: "request failed"},
		{name: "plain-error", handler: func(echo.Context) error { return errors.New("db down " + secret) },
			status: 500, want: bodyServerError, logMsg: "request failed"},
		{name: "wrapped-api-error", handler: func(echo.Context) error {
			return fmt.Errorf("outer: %w", errCode(401, "User not found", "user_not_found"))
		}, status: 401, want: bodyUserNotFound},
		{name: "api-error-headers-copied", handler: func(echo.Context) error {
			e := &Error{Status: 503, Body: detailBody{Detail: msgUnavailable}, Header: http.Header{"Retry-After": {"3"}}, Cause: errors.New(secret)}
			return e
		}, status: 503, want: `{"detail":"Service temporarily unavailable, try again later."}`, header: map[string]string{"Retry-After": "3"}, logMsg: "request failed"},
		{name: "api-error-4xx-cause-logged-at-debug", handler: func(echo.Context) error {
			return &Error{Status: 400, Body: detailBody{Detail: msgMalformed}, Cause: errors.New("multipart: " + secret)}
		}, status: 400, want: `{"detail":"Malformed request."}`, logMsg: "request refused"},
		{name: "401-gets-www-authenticate", handler: func(echo.Context) error { return errDetail(401, msgNotProvided) },
			status: 401, want: bodyNotProvided, header: map[string]string{"WWW-Authenticate": wwwAuthenticate}},
		{name: "unmarshalable-body-becomes-500", handler: func(echo.Context) error {
			return &Error{Status: 400, Body: unmarshalable{make(chan int)}}
		}, status: 500, want: bodyServerError},
		{name: "head-error-has-no-body", method: "HEAD", handler: func(echo.Context) error { return errDetail(400, msgMalformed) },
			status: 400, want: "", header: map[string]string{"Content-Length": fmt.Sprint(len(`{"detail":"Malformed request."}` + "\n"))}},
		{name: "committed-response-kept", handler: func(c echo.Context) error {
			if err := c.String(http.StatusOK, "partial"); err != nil {
				return err
			}
			return errors.New("late failure")
		}, status: 200, want: "partial"},
	}
	for _, code := range []struct {
		code int
		want string
	}{
		{400, `{"detail":"Bad Request."}`},
		{401, `{"detail":"Unauthorized."}`},
		{403, `{"detail":"Forbidden."}`},
		{404, `{"detail":"Not found."}`},
		{405, `{"detail":"Method \"GET\" not allowed."}`},
		{409, `{"detail":"Conflict."}`},
		{413, `{"detail":"Request body is too large."}`},
		{415, `{"detail":"Unsupported Media Type."}`},
		{429, `{"detail":"Too Many Requests."}`},
		{500, bodyServerError},
		{502, bodyServerError},
		{503, `{"detail":"Service temporarily unavailable, try again later."}`},
	} {
		status := code.code
		if status == 502 {
			status = 500 // anything 5xx but 503 is "a server error"
		}
		tests = append(tests, struct {
			name    string
			method  string
			handler echo.HandlerFunc
			status  int
			want    string
			header  map[string]string
			logMsg  string
		}{
			name:    fmt.Sprintf("echo-http-error-%d", code.code),
			handler: func(echo.Context) error { return echo.NewHTTPError(code.code, "internal "+secret) },
			status:  status, want: code.want,
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			f := newFixture(t, func(o *Options) { o.Logger = logs.logger() })
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			f.e.Add(method, "/test", tc.handler)
			r := f.do(t, req{method: method, path: "/test", headers: []string{"X-Request-Id: req-" + strings.ReplaceAll(tc.name, "/", "-")}})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if r.body != tc.want {
				t.Errorf("body\n got  %s\n want %s", r.body, tc.want)
			}
			for h, v := range tc.header {
				if got := r.header.Get(h); got != v {
					t.Errorf("%s %q, want %q", h, got, v)
				}
			}
			if tc.name != "committed-response-kept" {
				checkInvariants(t, r, method)
			}
			if tc.logMsg != "" {
				rec := logs.find(t, tc.logMsg)
				if rec["request_id"] != r.header.Get(headerRequestID) {
					t.Errorf("log record %v lacks the request id %q", rec, r.header.Get(headerRequestID))
				}
			}
		})
	}
}

func TestErrorHandlerRoutes(t *testing.T) {
	runHandlerCases(t, []handlerCase{
		{name: "unknown-path", req: req{method: "GET", path: "/nope"}, status: 404, want: `{"detail":"Not found."}`},
		{name: "root", req: req{method: "GET", path: "/"}, status: 404, want: `{"detail":"Not found."}`},
		{name: "unknown-api-path", req: req{method: "GET", path: "/api/nope/"}, status: 404, want: `{"detail":"Not found."}`},
		{name: "no-prefix", req: req{path: "/token/", body: `{}`}, status: 404, want: `{"detail":"Not found."}`},
		{name: "double-slash", req: req{path: "/api/token//", body: `{}`}, status: 404, want: `{"detail":"Not found."}`},
		{name: "head-unknown-path", req: req{method: "HEAD", path: "/nope"}, status: 404, want: "",
			check: func(t *testing.T, f *fixture, r response) {
				if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(`{"detail":"Not found."}`+"\n")) {
					t.Errorf("Content-Length %q", cl)
				}
			}},
		{name: "echo-405-on-healthz", req: req{path: "/healthz", body: `{}`}, status: 405, want: `{"detail":"Method \"POST\" not allowed."}`,
			check: func(t *testing.T, f *fixture, r response) {
				if !strings.Contains(r.header.Get("Allow"), "GET") {
					t.Errorf("Allow %q", r.header.Get("Allow"))
				}
			}},
	})
}

// Every 400 the API can produce, and no WWW-Authenticate on any of them.
func TestNoWWWAuthenticateOn400(t *testing.T) {
	for _, r := range []req{
		{path: "/api/register/", body: `{}`},
		{path: "/api/register/", body: `{"name": `},
		{path: "/api/token/", body: `{}`},
		{path: "/api/token/", body: `[]`},
		{path: "/api/token/refresh/", body: `{"refresh":""}`},
		{path: "/api/token/verify/", body: `{"token":null}`},
		{path: "/api/token/verify/", body: "token=%ff", headers: []string{"Content-Type: application/x-www-form-urlencoded"}},
		{path: "/api/token/verify/", body: "x", headers: []string{"Content-Type: multipart/form-data"}},
	} {
		got := newFixture(t).do(t, r)
		if got.status != 400 {
			t.Errorf("%s %s: %s", r.path, r.body, got)
		}
		checkInvariants(t, got, "POST")
	}
}

func TestWriteJSON(t *testing.T) {
	f := newFixture(t)
	f.e.GET("/test", func(c echo.Context) error {
		return writeJSON(c, http.StatusCreated, map[string]any{"b": []string{"x"}, "a": 1})
	})
	r := f.do(t, req{method: "GET", path: "/test"})
	if r.status != 201 || r.body != `{"a":1,"b":["x"]}` {
		t.Errorf("%s", r)
	}
	if r.header.Get("Content-Length") != fmt.Sprint(len(r.raw)) || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.header)
	}
}

// DRF renders with json.dumps: no HTML escaping (users.ValidationError
// already follows it; userBody does not).
func TestWriteJSONNoHTMLEscaping(t *testing.T) {
	f := newFixture(t)
	f.users.get = func(int64) (storage.User, error) {
		return storage.User{ID: 1, Name: "<Tom & Jerry>", Email: "tj@example.com", IsActive: true}, nil
	}
	r := f.do(t, req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + tokAlice}})
	if want := `{"id":1,"name":"<Tom & Jerry>","email":"tj@example.com","is_active":true}`; r.body != want {
		t.Errorf("body\n got  %s\n want %s", r.body, want)
	}
}

func TestErrorType(t *testing.T) {
	cause := errors.New("cause")
	if got := (&Error{Status: 400, Cause: cause}).Error(); got != "http 400: cause" {
		t.Errorf("%q", got)
	}
	if got := (&Error{Status: 404}).Error(); got != "http 404" {
		t.Errorf("%q", got)
	}
	if !errors.Is(&Error{Status: 500, Cause: fmt.Errorf("x: %w", cause)}, cause) {
		t.Error("Unwrap does not reach the cause")
	}
}

// failingWriter is a client that hung up: every body write fails.
type failingWriter struct{ h http.Header }

func (w *failingWriter) Header() http.Header       { return w.h }
func (w *failingWriter) WriteHeader(int)           {}
func (w *failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestErrorHandlerWriteFailureLogged(t *testing.T) {
	var logs logBuffer
	f := newFixture(t, func(o *Options) { o.Logger = logs.logger() })
	f.e.ServeHTTP(&failingWriter{h: http.Header{}}, newRequest(t, req{method: "GET", path: "/nope", headers: []string{"X-Request-Id: gone-1"}}))
	if rec := logs.find(t, "write error response"); rec["request_id"] != "gone-1" || rec["err"] != "broken pipe" {
		t.Errorf("log record %v", rec)
	}
}
