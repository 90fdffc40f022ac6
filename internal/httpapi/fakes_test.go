package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// Fakes of the narrow interfaces httpapi declares (api.go), so the tests
// reach every branch — including answers the real core rarely gives —
// without a database, a clock or key material.

// secret is put into every private error reason; no response body may
// ever contain it.
const secret = "PRIVATE-REASON-do-not-leak"

// reasonError mimics tokens' private wrapper: a sentinel plus a reason that
// is for the log only.
type reasonError struct {
	sentinel error
	reason   string
}

func (e *reasonError) Error() string { return e.sentinel.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.sentinel }

func wrapped(sentinel error) error { return &reasonError{sentinel, secret} }

// Users of the fake user store.
var (
	alice    = storage.User{ID: 1, Name: "Alice", Email: "alice@example.com", IsActive: true}
	inactive = storage.User{ID: 2, Name: "Ina", Email: "ina@example.com", IsActive: false}
)

type fakeUsers struct {
	mu    sync.Mutex
	calls map[string]int
	// got is the last Registration passed to ValidateRegistration.
	got users.Registration

	validate     func(users.Registration) *users.ValidationError
	register     func(users.Registration) (storage.User, error)
	authenticate func(email, password string) (storage.User, error)
	get          func(id int64) (storage.User, error)
}

func (f *fakeUsers) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[call]++
}

func (f *fakeUsers) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeUsers) ValidateRegistration(r users.Registration) *users.ValidationError {
	f.record("ValidateRegistration")
	f.mu.Lock()
	f.got = r
	f.mu.Unlock()
	if f.validate != nil {
		return f.validate(r)
	}
	return nil
}

func (f *fakeUsers) Register(_ context.Context, r users.Registration) (storage.User, error) {
	f.record("Register")
	if f.register != nil {
		return f.register(r)
	}
	return storage.User{ID: 7, Name: r.Name, Email: r.Email, IsActive: true}, nil
}

func (f *fakeUsers) Authenticate(_ context.Context, email, password string) (storage.User, error) {
	f.record("Authenticate")
	if f.authenticate != nil {
		return f.authenticate(email, password)
	}
	if email == alice.Email && password == "s3cret-pass" {
		return alice, nil
	}
	return storage.User{}, fmt.Errorf("authenticate %q: %w", email, users.ErrInvalidCredentials)
}

func (f *fakeUsers) Get(_ context.Context, id int64) (storage.User, error) {
	f.record("Get")
	if f.get != nil {
		return f.get(id)
	}
	switch id {
	case alice.ID:
		return alice, nil
	case inactive.ID:
		return inactive, nil
	}
	return storage.User{}, fmt.Errorf("get user %d: %w", id, storage.ErrNotFound)
}

// Access tokens the fake Tokens knows.
const (
	tokAlice    = "access-alice"
	tokInactive = "access-inactive"
	tokDeleted  = "access-deleted"
	tokRefresh  = "refresh-alice" // a refresh token used as an access token
	tokNoUserID = "access-no-user-id"
	tokInternal = "access-internal" // VerifyAccess fails with a plain error
)

type fakeTokens struct {
	mu     sync.Mutex
	calls  map[string]int
	client tokens.Client // of the last Login/Refresh

	login        func(storage.User) (tokens.Pair, error)
	refresh      func(string) (tokens.Pair, error)
	verifyAccess func(string) (tokens.AccessClaims, error)
	verify       func(string) error
}

func (f *fakeTokens) record(call string, c tokens.Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[call]++
	if call == "Login" || call == "Refresh" {
		f.client = c
	}
}

func (f *fakeTokens) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeTokens) lastClient() tokens.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.client
}

func (f *fakeTokens) Login(_ context.Context, u storage.User, c tokens.Client) (tokens.Pair, error) {
	f.record("Login", c)
	if f.login != nil {
		return f.login(u)
	}
	return tokens.Pair{Access: "A" + strconv.FormatInt(u.ID, 10), Refresh: "R" + strconv.FormatInt(u.ID, 10)}, nil
}

func (f *fakeTokens) Refresh(_ context.Context, refresh string, c tokens.Client) (tokens.Pair, error) {
	f.record("Refresh", c)
	if f.refresh != nil {
		return f.refresh(refresh)
	}
	if refresh == "good-refresh" {
		return tokens.Pair{Access: "A2", Refresh: "R2"}, nil
	}
	return tokens.Pair{}, wrapped(tokens.ErrTokenInvalid)
}

func (f *fakeTokens) VerifyAccess(_ context.Context, token string) (tokens.AccessClaims, error) {
	f.record("VerifyAccess", tokens.Client{})
	if f.verifyAccess != nil {
		return f.verifyAccess(token)
	}
	switch token {
	case tokAlice:
		return tokens.AccessClaims{UserID: alice.ID}, nil
	case tokInactive:
		return tokens.AccessClaims{UserID: inactive.ID}, nil
	case tokDeleted:
		return tokens.AccessClaims{UserID: 999}, nil
	case tokRefresh:
		return tokens.AccessClaims{}, wrapped(tokens.ErrWrongType)
	case tokNoUserID:
		return tokens.AccessClaims{}, tokens.ErrNoUserID
	case tokInternal:
		return tokens.AccessClaims{}, errors.New("jwks cache: " + secret)
	}
	return tokens.AccessClaims{}, wrapped(tokens.ErrTokenInvalid)
}

func (f *fakeTokens) Verify(_ context.Context, token string) error {
	f.record("Verify", tokens.Client{})
	if f.verify != nil {
		return f.verify(token)
	}
	if token == "good-token" {
		return nil
	}
	return wrapped(tokens.ErrTokenInvalid)
}

type fakeKeys struct{ doc signer.JWKS }

func (k fakeKeys) JWKS() signer.JWKS { return k.doc }

var testJWKS = signer.JWKS{
	Body: []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`),
	ETag: `"jwks-3f2a"`,
}

// fixture is one API over fakes.
type fixture struct {
	users  *fakeUsers
	tokens *fakeTokens
	e      *echo.Echo
}

// newFixture builds the API over fresh fakes; edit tweaks the options
// (after the fakes are set) before New.
func newFixture(t testing.TB, edit ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{users: &fakeUsers{}, tokens: &fakeTokens{}}
	opts := Options{
		Users:      f.users,
		Tokens:     f.tokens,
		Keys:       fakeKeys{testJWKS},
		APIPrefix:  "/api",
		JWKSMaxAge: 5 * time.Minute,
	}
	for _, fn := range edit {
		fn(&opts)
	}
	f.e = New(opts)
	return f
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	// body is the body without the newline every JSON answer ends with;
	// raw is the body as sent.
	body, raw string
}

func newResponse(status int, h http.Header, raw string) response {
	return response{status: status, header: h, body: strings.TrimSuffix(raw, "\n"), raw: raw}
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// req is one request. A non-empty body is sent as application/json unless
// headers name a Content-Type ("Content-Type:" with no value: none at all).
type req struct {
	method  string
	path    string
	body    string
	headers []string
	remote  string
}

func (f *fixture) do(t testing.TB, r req) response {
	t.Helper()
	return serve(t, f.e, r)
}

func serve(t testing.TB, h http.Handler, r req) response {
	t.Helper()
	hr := newRequest(t, r)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return newResponse(res.StatusCode, res.Header, string(b))
}

func newRequest(t testing.TB, r req) *http.Request {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	hr := httptest.NewRequest(method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		hr.Header.Set("Content-Type", mimeJSON)
	}
	for _, h := range r.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			t.Fatalf("bad header %q", h)
		}
		v = strings.TrimLeft(v, " ")
		if http.CanonicalHeaderKey(k) == "Content-Type" && v == "" {
			hr.Header.Del(k)
			continue
		}
		// Set raw: header values are attacker-controlled bytes.
		hr.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	return hr
}

// checkInvariants asserts what every answer of the API must satisfy.
func checkInvariants(t testing.TB, r response, method string) {
	t.Helper()
	if r.status >= 400 || r.header.Get("Content-Type") != "" {
		if ct := r.header.Get("Content-Type"); ct != mimeJSON {
			t.Errorf("Content-Type %q, want %q", ct, mimeJSON)
		}
	}
	if method == http.MethodHead {
		if r.body != "" {
			t.Errorf("HEAD answered with a body: %q", r.body)
		}
	} else if r.body != "" && !json.Valid([]byte(r.body)) {
		t.Errorf("body is not JSON: %q", r.body)
	} else if r.raw != "" && !strings.HasSuffix(r.raw, "}\n") && !strings.HasSuffix(r.raw, "]\n") {
		t.Errorf("JSON body does not end with a newline: %q", r.raw)
	}
	if cl := r.header.Get("Content-Length"); cl != "" && method != http.MethodHead && cl != strconv.Itoa(len(r.raw)) {
		t.Errorf("Content-Length %s, body has %d bytes", cl, len(r.raw))
	}
	switch wa := r.header.Get("WWW-Authenticate"); {
	case r.status == http.StatusUnauthorized && wa != wwwAuthenticate:
		t.Errorf("401 with WWW-Authenticate %q, want %q", wa, wwwAuthenticate)
	case r.status != http.StatusUnauthorized && wa != "":
		t.Errorf("%d with WWW-Authenticate %q", r.status, wa)
	}
	for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
		if got := r.header.Get(h); got != v {
			t.Errorf("%s %q, want %q", h, got, v)
		}
	}
	if id := r.header.Get(headerRequestID); !wellFormedID(id) {
		t.Errorf("X-Request-Id %q", id)
	}
	if strings.Contains(r.body, secret) {
		t.Errorf("body leaks a private reason: %s", r.body)
	}
}
