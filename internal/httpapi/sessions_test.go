package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// The session endpoints (token/blacklist/, logout-all/, sessions/,
// sessions/{id}/) and the login endpoint's brute-force guard, over fakes.

const (
	sidAlice   = "5e55105e55105e55105e55105e55105e"
	bodyThrott = `{"detail":"Request was throttled. Expected available in 30 seconds."}`
	bodyBusy   = `{"detail":"Service temporarily unavailable, try again later."}`
	bodyNotFnd = `{"detail":"Not found."}`
	parsesMeta = `"renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]`
)

type fakeSessions struct {
	mu     sync.Mutex
	calls  map[string]int
	client tokens.Client
	args   []string // of the last call

	logout    func(refresh string) error
	list      func(userID int64, current string) ([]tokens.Session, error)
	revoke    func(userID int64, sid string) error
	revokeAll func(userID int64) (int64, error)
}

func (f *fakeSessions) record(call string, c tokens.Client, args ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[call]++
	f.client = c
	f.args = args
}

func (f *fakeSessions) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeSessions) last() (tokens.Client, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.client, f.args
}

func (f *fakeSessions) Logout(_ context.Context, refresh string, c tokens.Client) error {
	f.record("Logout", c, refresh)
	if f.logout != nil {
		return f.logout(refresh)
	}
	if refresh == "good-refresh" {
		return nil
	}
	return wrapped(tokens.ErrTokenInvalid)
}

func (f *fakeSessions) Sessions(_ context.Context, userID int64, current string) ([]tokens.Session, error) {
	f.record("Sessions", tokens.Client{}, fmt.Sprint(userID), current)
	if f.list != nil {
		return f.list(userID, current)
	}
	return []tokens.Session{}, nil
}

func (f *fakeSessions) RevokeSession(_ context.Context, userID int64, sid string, c tokens.Client) error {
	f.record("RevokeSession", c, fmt.Sprint(userID), sid)
	if f.revoke != nil {
		return f.revoke(userID, sid)
	}
	if userID == alice.ID && sid == sidAlice {
		return nil
	}
	return tokens.ErrNoSession
}

func (f *fakeSessions) RevokeAllSessions(_ context.Context, userID int64, c tokens.Client) (int64, error) {
	f.record("RevokeAllSessions", c, fmt.Sprint(userID))
	if f.revokeAll != nil {
		return f.revokeAll(userID)
	}
	return 2, nil
}

// fakeGuard records what the login handler tells it.
type fakeGuard struct {
	mu        sync.Mutex
	wait      time.Duration
	checkErr  error
	failErr   error
	okErr     error
	checked   []throttle.Attempt
	failed    []throttle.Attempt
	succeeded []throttle.Attempt
	userIDs   []int64
}

func (g *fakeGuard) Admit(_ context.Context, a throttle.Attempt) (time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checked = append(g.checked, a)
	return g.wait, g.checkErr
}

func (g *fakeGuard) Failed(_ context.Context, a throttle.Attempt) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failed = append(g.failed, a)
	return g.failErr
}

func (g *fakeGuard) Succeeded(_ context.Context, a throttle.Attempt, userID int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.succeeded = append(g.succeeded, a)
	g.userIDs = append(g.userIDs, userID)
	return g.okErr
}

// sessionFixture is the API over fakes, with Sessions and a Guard.
type sessionFixture struct {
	*fixture
	sessions *fakeSessions
	guard    *fakeGuard
}

type sessionCase struct {
	name   string
	setup  func(f *sessionFixture)
	req    req
	status int
	want   string // exact body
	allow  string // exact Allow header, when set
	check  func(t *testing.T, f *sessionFixture, r response)
	bug    string // a known defect: the case is skipped
}

func newSessionFixture(t testing.TB) *sessionFixture {
	sf := &sessionFixture{sessions: &fakeSessions{}, guard: &fakeGuard{}}
	sf.fixture = newFixture(t, func(o *Options) {
		o.Sessions = sf.sessions
		o.Guard = sf.guard
	})
	// Alice's access token belongs to session sidAlice.
	sf.tokens.verifyAccess = func(tok string) (tokens.AccessClaims, error) {
		if tok == tokAlice {
			return tokens.AccessClaims{UserID: alice.ID, SessionID: sidAlice}, nil
		}
		return (&fakeTokens{}).VerifyAccess(context.Background(), tok)
	}
	return sf
}

func runSessionCases(t *testing.T, cases []sessionCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			f := newSessionFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			r := f.do(t, tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if r.body != tc.want {
				t.Errorf("body\n got  %s\n want %s", r.body, tc.want)
			}
			if tc.allow != "" && r.header.Get("Allow") != tc.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), tc.allow)
			}
			method := tc.req.method
			if method == "" {
				method = http.MethodPost
			}
			checkInvariants(t, r, method)
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

var bearerAlice = []string{"Authorization: Bearer " + tokAlice}

func notCalled(call string) func(t *testing.T, f *sessionFixture, r response) {
	return func(t *testing.T, f *sessionFixture, _ response) {
		if n := f.sessions.called(call); n != 0 {
			t.Errorf("%s called %d times", call, n)
		}
	}
}

func TestLogoutEndpoint(t *testing.T) {
	p := "/api/token/blacklist/"
	logoutFails := func(err error) func(*sessionFixture) {
		return func(f *sessionFixture) { f.sessions.logout = func(string) error { return err } }
	}
	runSessionCases(t, []sessionCase{
		{name: "valid", req: req{path: p, body: `{"refresh":"good-refresh"}`, headers: []string{"User-Agent: probe/1"}, remote: "198.51.100.4:5555"},
			status: 200, want: `{}`, allow: allowPost,
			check: func(t *testing.T, f *sessionFixture, r response) {
				c, args := f.sessions.last()
				if c.IP != "198.51.100.4" || c.UserAgent != "probe/1" || len(args) != 1 || args[0] != "good-refresh" {
					t.Errorf("Logout got client %+v args %q", c, args)
				}
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
			}},
		{name: "no-trailing-slash", req: req{path: "/api/token/blacklist", body: `{"refresh":"good-refresh"}`}, status: 200, want: `{}`},
		{name: "form-encoded", req: req{path: p, body: "refresh=good-refresh", headers: []string{"Content-Type: application/x-www-form-urlencoded"}}, status: 200, want: `{}`},
		{name: "blacklisted", setup: logoutFails(wrapped(tokens.ErrBlacklisted)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyBlacklisted},
		{name: "invalid", req: req{path: p, body: `{"refresh":"garbage"}`}, status: 401, want: bodyInvalid},
		{name: "wrong-type", setup: logoutFails(wrapped(tokens.ErrWrongType)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyWrongType},
		{name: "internal-500", setup: logoutFails(errors.New("families: " + secret)), req: req{path: p, body: `{"refresh":"x"}`}, status: 500, want: bodyServerError},
		{name: "missing", req: req{path: p, body: `{}`}, status: 400, want: `{"refresh":["This field is required."]}`, check: notCalled("Logout")},
		{name: "blank", req: req{path: p, body: `{"refresh":" "}`}, status: 400, want: `{"refresh":["This field may not be blank."]}`, check: notCalled("Logout")},
		{name: "not-a-string", req: req{path: p, body: `{"refresh":["a"]}`}, status: 400, want: `{"refresh":["Not a valid string."]}`, check: notCalled("Logout")},
		{name: "get", req: req{method: http.MethodGet, path: p}, status: 405, want: `{"detail":"Method \"GET\" not allowed."}`, allow: allowPost},
		{name: "options", req: req{method: http.MethodOptions, path: p}, status: 200, allow: allowPost,
			want: `{"name":"Token Blacklist","description":"Takes a token and blacklists it.",` + parsesMeta + `,"actions":{"POST":{"refresh":{"type":"string","required":true,"read_only":false,"label":"Refresh"}}}}`},
		{name: "bearer-not-needed", req: req{path: p, body: `{"refresh":"good-refresh"}`, headers: []string{"Authorization: Bearer garbage"}}, status: 200, want: `{}`},
	})
}

func TestLogoutAllEndpoint(t *testing.T) {
	p := "/api/logout-all/"
	runSessionCases(t, []sessionCase{
		{name: "valid", req: req{path: p, headers: append([]string{"User-Agent: ua/2"}, bearerAlice...)}, status: 200, want: `{"revoked_sessions":2}`,
			check: func(t *testing.T, f *sessionFixture, r response) {
				c, args := f.sessions.last()
				if len(args) != 1 || args[0] != "1" || c.UserAgent != "ua/2" || c.IP != "192.0.2.1" {
					t.Errorf("RevokeAllSessions got client %+v args %q", c, args)
				}
			}},
		{name: "no-trailing-slash", req: req{path: "/api/logout-all", headers: bearerAlice}, status: 200, want: `{"revoked_sessions":2}`},
		{name: "body-ignored", req: req{path: p, body: `{"anything":1}`, headers: bearerAlice}, status: 200, want: `{"revoked_sessions":2}`},
		{name: "none-left", setup: func(f *sessionFixture) { f.sessions.revokeAll = func(int64) (int64, error) { return 0, nil } },
			req: req{path: p, headers: bearerAlice}, status: 200, want: `{"revoked_sessions":0}`},
		{name: "no-credentials", req: req{path: p}, status: 401, want: bodyNotProvided, check: notCalled("RevokeAllSessions")},
		{name: "invalid-bearer", req: req{path: p, headers: []string{"Authorization: Bearer garbage"}}, status: 401, want: bodyGivenInvalid, check: notCalled("RevokeAllSessions")},
		{name: "refresh-as-bearer", req: req{path: p, headers: []string{"Authorization: Bearer " + tokRefresh}}, status: 401, want: bodyGivenWrong, check: notCalled("RevokeAllSessions")},
		{name: "inactive-user", req: req{path: p, headers: []string{"Authorization: Bearer " + tokInactive}}, status: 401, want: bodyUserInactive, check: notCalled("RevokeAllSessions")},
		{name: "deleted-user", req: req{path: p, headers: []string{"Authorization: Bearer " + tokDeleted}}, status: 401, want: bodyUserNotFound, check: notCalled("RevokeAllSessions")},
		{name: "internal-500", setup: func(f *sessionFixture) {
			f.sessions.revokeAll = func(int64) (int64, error) { return 0, errors.New("db: " + secret) }
		}, req: req{path: p, headers: bearerAlice}, status: 500, want: bodyServerError},
		{name: "get", req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 405, want: `{"detail":"Method \"GET\" not allowed."}`, allow: allowPost,
			check: notCalled("RevokeAllSessions")},
		{name: "get-without-credentials-is-401-first", req: req{method: http.MethodGet, path: p}, status: 401, want: bodyNotProvided},
		{name: "options", req: req{method: http.MethodOptions, path: p, headers: bearerAlice}, status: 200, allow: allowPost,
			want:  `{"name":"Logout All","description":"Ends every session of the authenticated user.",` + parsesMeta + `}`,
			check: notCalled("RevokeAllSessions")},
	})
}

func TestSessionsEndpoint(t *testing.T) {
	p := "/api/sessions/"
	created := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	two := []tokens.Session{
		{ID: sidAlice, Created: created, LastUsed: created.Add(time.Hour), ExpiresAt: created.Add(25 * time.Hour),
			UserAgent: "Firefox <b>&</b>", IP: "192.0.2.1", Current: true},
		{ID: "0ther", Created: created.Add(-time.Hour), LastUsed: created.Add(-time.Hour), ExpiresAt: created.Add(23 * time.Hour),
			UserAgent: "", IP: "2001:db8::1", Current: false},
	}
	const twoJSON = `[{"id":"` + sidAlice + `","created":"2030-01-02T03:04:05.123456Z","last_used":"2030-01-02T04:04:05.123456Z","expires":"2030-01-03T04:04:05.123456Z","user_agent":"Firefox <b>&</b>","ip":"192.0.2.1","current":true},` +
		`{"id":"0ther","created":"2030-01-02T02:04:05.123456Z","last_used":"2030-01-02T02:04:05.123456Z","expires":"2030-01-03T02:04:05.123456Z","user_agent":"","ip":"2001:db8::1","current":false}]`
	listing := func(f *sessionFixture) {
		f.sessions.list = func(int64, string) ([]tokens.Session, error) { return two, nil }
	}
	runSessionCases(t, []sessionCase{
		{name: "list", setup: listing, req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 200, want: twoJSON,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if _, args := f.sessions.last(); len(args) != 2 || args[0] != "1" || args[1] != sidAlice {
					t.Errorf("Sessions got %q: want alice's id and the access token's session", args)
				}
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
			}},
		{name: "no-trailing-slash", setup: listing, req: req{method: http.MethodGet, path: "/api/sessions", headers: bearerAlice}, status: 200, want: twoJSON},
		{name: "empty-is-an-array", req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 200, want: `[]`},
		{name: "token-without-sid", setup: func(f *sessionFixture) {
			f.tokens.verifyAccess = func(string) (tokens.AccessClaims, error) { return tokens.AccessClaims{UserID: alice.ID}, nil }
		}, req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 200, want: `[]`,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if _, args := f.sessions.last(); len(args) != 2 || args[1] != "" {
					t.Errorf("Sessions got %q: want no current session", args)
				}
			}},
		{name: "no-credentials", req: req{method: http.MethodGet, path: p}, status: 401, want: bodyNotProvided, check: notCalled("Sessions")},
		{name: "expired-bearer", req: req{method: http.MethodGet, path: p, headers: []string{"Authorization: Bearer expired"}}, status: 401, want: bodyGivenInvalid, check: notCalled("Sessions")},
		{name: "internal-500", setup: func(f *sessionFixture) {
			f.sessions.list = func(int64, string) ([]tokens.Session, error) { return nil, errors.New("db: " + secret) }
		}, req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 500, want: bodyServerError},
		{name: "head", setup: listing, req: req{method: http.MethodHead, path: p, headers: bearerAlice}, status: 200, want: ""},
		{name: "post", req: req{path: p, headers: bearerAlice}, status: 405, want: `{"detail":"Method \"POST\" not allowed."}`, allow: "GET, HEAD, OPTIONS", check: notCalled("Sessions")},
		{name: "allow-names-head", req: req{method: http.MethodPut, path: p, headers: bearerAlice}, status: 405, want: `{"detail":"Method \"PUT\" not allowed."}`,
			allow: "GET, HEAD, OPTIONS"},
		{name: "options", req: req{method: http.MethodOptions, path: p, headers: bearerAlice}, status: 200,
			want:  `{"name":"Sessions","description":"The authenticated user's live login sessions.",` + parsesMeta + `}`,
			check: notCalled("Sessions")},
	})
}

func TestSessionEndpoint(t *testing.T) {
	p := "/api/sessions/" + sidAlice + "/"
	runSessionCases(t, []sessionCase{
		{name: "own", req: req{method: http.MethodDelete, path: p, headers: append([]string{"User-Agent: ua/3"}, bearerAlice...), remote: "203.0.113.9:1"},
			status: 204, want: "",
			check: func(t *testing.T, f *sessionFixture, r response) {
				c, args := f.sessions.last()
				if len(args) != 2 || args[0] != "1" || args[1] != sidAlice || c.IP != "203.0.113.9" || c.UserAgent != "ua/3" {
					t.Errorf("RevokeSession got client %+v args %q", c, args)
				}
				if r.header.Get("Content-Type") != "" {
					t.Errorf("204 with Content-Type %q", r.header.Get("Content-Type"))
				}
			}},
		{name: "no-trailing-slash", req: req{method: http.MethodDelete, path: "/api/sessions/" + sidAlice, headers: bearerAlice}, status: 204, want: ""},
		{name: "someone-elses-or-unknown", req: req{method: http.MethodDelete, path: "/api/sessions/abcdef/", headers: bearerAlice}, status: 404, want: bodyNotFnd},
		{name: "escaped-id", req: req{method: http.MethodDelete, path: "/api/sessions/a%2Fb%20c%00/", headers: bearerAlice}, status: 404, want: bodyNotFnd},
		{name: "long-id", req: req{method: http.MethodDelete, path: "/api/sessions/" + strings.Repeat("f", 4000) + "/", headers: bearerAlice}, status: 404, want: bodyNotFnd},
		{name: "internal-500", setup: func(f *sessionFixture) {
			f.sessions.revoke = func(int64, string) error { return errors.New("db: " + secret) }
		}, req: req{method: http.MethodDelete, path: p, headers: bearerAlice}, status: 500, want: bodyServerError},
		{name: "no-credentials", req: req{method: http.MethodDelete, path: p}, status: 401, want: bodyNotProvided, check: notCalled("RevokeSession")},
		{name: "inactive-user", req: req{method: http.MethodDelete, path: p, headers: []string{"Authorization: Bearer " + tokInactive}}, status: 401, want: bodyUserInactive, check: notCalled("RevokeSession")},
		{name: "get", req: req{method: http.MethodGet, path: p, headers: bearerAlice}, status: 405, want: `{"detail":"Method \"GET\" not allowed."}`, allow: "DELETE, OPTIONS", check: notCalled("RevokeSession")},
		{name: "post", req: req{path: p, headers: bearerAlice}, status: 405, want: `{"detail":"Method \"POST\" not allowed."}`, allow: "DELETE, OPTIONS", check: notCalled("RevokeSession")},
		{name: "options", req: req{method: http.MethodOptions, path: p, headers: bearerAlice}, status: 200,
			want:  `{"name":"Session","description":"One login session; DELETE ends it.",` + parsesMeta + `}`,
			check: notCalled("RevokeSession")},
	})
}

// TestLoginGuard: the login endpoint asks the guard first, tells it the
// outcome, and answers 429 or 503 with Retry-After.
func TestLoginGuard(t *testing.T) {
	p := "/api/token/"
	const good = `{"email":"alice@example.com","password":"s3cret-pass"}`
	const bad = `{"email":"alice@example.com","password":"wrong"}`
	blocked := func(d time.Duration) func(*sessionFixture) {
		return func(f *sessionFixture) { f.guard.wait = d }
	}
	wantRetryAfter := func(v string) func(t *testing.T, f *sessionFixture, r response) {
		return func(t *testing.T, f *sessionFixture, r response) {
			if got := r.header.Get("Retry-After"); got != v {
				t.Errorf("Retry-After %q, want %q", got, v)
			}
		}
	}
	noPasswordWork := func(t *testing.T, f *sessionFixture, r response) {
		if n := f.users.called("Authenticate"); n != 0 {
			t.Errorf("Authenticate called %d times for a throttled attempt", n)
		}
		if len(f.guard.failed)+len(f.guard.succeeded) != 0 {
			t.Errorf("a throttled attempt was counted: %d failed, %d succeeded", len(f.guard.failed), len(f.guard.succeeded))
		}
	}
	both := func(fns ...func(t *testing.T, f *sessionFixture, r response)) func(t *testing.T, f *sessionFixture, r response) {
		return func(t *testing.T, f *sessionFixture, r response) {
			for _, fn := range fns {
				fn(t, f, r)
			}
		}
	}
	busy := func(f *sessionFixture) {
		f.users.authenticate = func(string, string) (storage.User, error) {
			return storage.User{}, fmt.Errorf("verify password: %w", users.ErrBusy)
		}
	}
	runSessionCases(t, []sessionCase{
		{name: "success-reported", req: req{path: p, body: good, headers: []string{"User-Agent: app/1"}, remote: "198.51.100.7:4000"},
			status: 200, want: `{"refresh":"R1","access":"A1"}`,
			check: func(t *testing.T, f *sessionFixture, r response) {
				want := throttle.Attempt{Email: "alice@example.com", Identifier: "alice@example.com", IP: "198.51.100.7", UserAgent: "app/1"}
				if len(f.guard.checked) != 1 || f.guard.checked[0] != want {
					t.Errorf("checked %+v, want %+v", f.guard.checked, want)
				}
				if len(f.guard.succeeded) != 1 || f.guard.succeeded[0] != want || f.guard.userIDs[0] != alice.ID || len(f.guard.failed) != 0 {
					t.Errorf("succeeded %+v (users %v), failed %+v", f.guard.succeeded, f.guard.userIDs, f.guard.failed)
				}
			}},
		{name: "failure-reported", req: req{path: p, body: bad}, status: 401, want: bodyBadCreds,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if len(f.guard.failed) != 1 || f.guard.failed[0].Email != "alice@example.com" || f.guard.failed[0].IP != "192.0.2.1" || len(f.guard.succeeded) != 0 {
					t.Errorf("failed %+v succeeded %+v", f.guard.failed, f.guard.succeeded)
				}
				if r.header.Get("Retry-After") != "" {
					t.Errorf("Retry-After on a 401")
				}
			}},
		{name: "throttled-30s", setup: blocked(30 * time.Second), req: req{path: p, body: good}, status: 429, want: bodyThrott,
			check: both(wantRetryAfter("30"), noPasswordWork)},
		{name: "throttled-unknown-account-same-answer", setup: blocked(30 * time.Second), req: req{path: p, body: `{"email":"nobody@example.com","password":"x"}`},
			status: 429, want: bodyThrott, check: both(wantRetryAfter("30"), noPasswordWork)},
		{name: "throttled-rounds-up", setup: blocked(90*time.Second + time.Millisecond), req: req{path: p, body: good}, status: 429,
			want: `{"detail":"Request was throttled. Expected available in 91 seconds."}`, check: wantRetryAfter("91")},
		{name: "throttled-15m", setup: blocked(15 * time.Minute), req: req{path: p, body: good}, status: 429,
			want: `{"detail":"Request was throttled. Expected available in 900 seconds."}`, check: wantRetryAfter("900")},
		{name: "throttled-under-a-second-singular", setup: blocked(400 * time.Millisecond), req: req{path: p, body: good}, status: 429,
			want: `{"detail":"Request was throttled. Expected available in 1 second."}`, check: wantRetryAfter("1")},
		{name: "throttle-check-fails-500", setup: func(f *sessionFixture) { f.guard.checkErr = errors.New("throttle store: " + secret) },
			req: req{path: p, body: good}, status: 500, want: bodyServerError, check: noPasswordWork},
		{name: "count-failure-fails-500", setup: func(f *sessionFixture) { f.guard.failErr = errors.New("throttle store: " + secret) },
			req: req{path: p, body: bad}, status: 500, want: bodyServerError},
		{name: "record-success-fails-500", setup: func(f *sessionFixture) { f.guard.okErr = errors.New("throttle store: " + secret) },
			req: req{path: p, body: good}, status: 500, want: bodyServerError,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if n := f.tokens.called("Login"); n != 0 {
					t.Errorf("tokens issued (%d) although the login could not be recorded", n)
				}
			}},
		{name: "hashing-busy-503", setup: busy, req: req{path: p, body: good}, status: 503, want: bodyBusy,
			check: both(wantRetryAfter("1"), func(t *testing.T, f *sessionFixture, r response) {
				if len(f.guard.failed)+len(f.guard.succeeded) != 0 {
					t.Errorf("a busy answer was counted: failed %+v succeeded %+v", f.guard.failed, f.guard.succeeded)
				}
			})},
		{name: "validation-before-guard", req: req{path: p, body: `{}`}, status: 400, want: `{"email":["This field is required."],"password":["This field is required."]}`,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if len(f.guard.checked) != 0 {
					t.Errorf("guard consulted for an invalid body")
				}
			}},
	})
}

func TestRegisterBusy(t *testing.T) {
	runSessionCases(t, []sessionCase{
		{name: "hashing-busy-503", setup: func(f *sessionFixture) {
			f.users.register = func(users.Registration) (storage.User, error) {
				return storage.User{}, fmt.Errorf("hash password: %w", users.ErrBusy)
			}
		}, req: req{path: "/api/register/", body: `{"name":"A","email":"a@example.com","password":"s3cret-pass"}`}, status: 503, want: bodyBusy,
			check: func(t *testing.T, f *sessionFixture, r response) {
				if r.header.Get("Retry-After") != "1" {
					t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
				}
			}},
	})
}

// TestSessionJSONShape pins the member names of a listed session.
func TestSessionJSONShape(t *testing.T) {
	b, err := json.Marshal(tokens.Session{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "created", "last_used", "expires", "user_agent", "ip", "current"} {
		if _, ok := m[k]; !ok {
			t.Errorf("member %q missing: %s", k, b)
		}
	}
	if len(m) != 7 {
		t.Errorf("members %s", b)
	}
}
