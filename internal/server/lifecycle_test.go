package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/storage/sqlite"
	"github.com/idp/idp/internal/storage/storagetest"
)

// eventually polls cond until it holds, failing the test after timeout.
// The pause between polls is a poll interval, not a wait for an ordering.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is a Server whose Run serves on a real loopback listener.
type running struct {
	addr   string
	url    string
	cancel context.CancelFunc
	done   chan error
}

// startRun runs s on a fresh listener until the test ends (or cancel is
// called) and waits until /healthz answers. wrap, if given, wraps the
// listener Run serves on.
func startRun(t *testing.T, s *Server, wrap ...func(net.Listener) net.Listener) *running {
	t.Helper()
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrap {
		ln = w(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			r.done <- err
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of cancellation")
		}
	})
	eventually(t, 30*time.Second, "GET /healthz answers 200", func() bool {
		resp, err := http.Get(r.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// result waits for Run to return.
func (r *running) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s")
		return nil
	}
}

// bodyWatch wraps a listener to tell when the server is reading the body
// of a request: on the connection whose first bytes start with prefix,
// once the server has read want bytes (the headers and the part of the
// body sent so far) and asks for more. By then net/http has parsed the
// headers and passed its shutdown check, and the handler is running, so
// the request is in flight. (A request whose headers are read after
// Shutdown began is dropped by net/http: it never was in flight.)
type bodyWatch struct {
	net.Listener
	prefix  string
	want    int
	reading chan struct{}
	once    sync.Once
}

func newBodyWatch(prefix string, want int) *bodyWatch {
	return &bodyWatch{prefix: prefix, want: want, reading: make(chan struct{})}
}

func (w *bodyWatch) wrap(ln net.Listener) net.Listener {
	w.Listener = ln
	return w
}

func (w *bodyWatch) Accept() (net.Conn, error) {
	c, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, w: w}, nil
}

// watchedConn's Read is called by one goroutine at a time (net/http's
// connReader serialises its reads).
type watchedConn struct {
	net.Conn
	w       *bodyWatch
	got     int
	first   bool
	matched bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	if c.matched && c.got >= c.w.want {
		c.w.once.Do(func() { close(c.w.reading) })
	}
	n, err := c.Conn.Read(p)
	if !c.first && n > 0 {
		c.first = true
		c.matched = bytes.HasPrefix(p[:n], []byte(c.w.prefix))
	}
	c.got += n
	return n, err
}

func newTestServer(t *testing.T, store storage.Store, opts Options) *Server {
	t.Helper()
	if opts.Config.Env == "" {
		opts.Config = testConfig()
	}
	opts.Store = store
	if opts.KEKs == nil {
		opts.KEKs = [][]byte{testKEK(t)}
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGracefulShutdown(t *testing.T) {
	store := storagetest.SQLite(t)
	srv := newTestServer(t, store, Options{})
	body := `{"name":"Grace","email":"grace@example.com","password":"in-flight-passphrase-1"}`
	half := len(body) / 2
	head := fmt.Sprintf("POST /api/register/ HTTP/1.1\r\nHost: idp.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	watch := newBodyWatch("POST /api/register/", len(head)+half)
	r := startRun(t, srv, watch.wrap)

	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head+body[:half]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch.reading:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never started reading the request body")
	}

	r.cancel()
	eventually(t, 30*time.Second, "the listener stops accepting connections", func() bool {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		t.Fatalf("Run returned (%v) while a request was still in flight", err)
	default:
	}

	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatalf("finish the in-flight request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), `"email":"grace@example.com"`) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, got)
	}
	if !resp.Close {
		t.Error("the answer during shutdown did not close the connection")
	}
	if err := r.result(t); err != nil {
		t.Fatalf("Run returned %v after a graceful shutdown, want nil", err)
	}
	if _, err := store.GetUserByEmail(context.Background(), "grace@example.com"); err != nil {
		t.Errorf("the in-flight registration was not stored: %v", err)
	}
}

func TestShutdownTimeoutCutsStalledRequests(t *testing.T) {
	cfg := testConfig()
	cfg.HTTP.ShutdownTimeout = 200 * time.Millisecond
	srv := newTestServer(t, storagetest.SQLite(t), Options{Config: cfg})
	// A body that never completes.
	stalled := "POST /api/register/ HTTP/1.1\r\nHost: idp.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":"
	watch := newBodyWatch("POST /api/register/", len(stalled))
	r := startRun(t, srv, watch.wrap)

	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, stalled); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch.reading:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never started reading the request body")
	}
	r.cancel()
	err = r.result(t)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want a graceful-shutdown deadline error", err)
	}

	t.Run("stalled-connection-closed-when-Run-returns", func(t *testing.T) {
		// The server should have hung up: the read ends at once with EOF
		// or a reset, not with our deadline.
		if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := conn.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the stalled connection is still open after Run returned")
		}
	})
}

// jwksKids fetches the published key ids.
func jwksKids(t *testing.T, url string) ([]string, string) {
	t.Helper()
	resp, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids, resp.Header.Get("ETag")
}

func TestKeyReload(t *testing.T) {
	// Two stores on one database, as two instances have.
	backends := []struct {
		name string
		open func(t *testing.T) (storage.Store, storage.Store)
	}{
		{"sqlite", func(t *testing.T) (storage.Store, storage.Store) {
			p := filepath.Join(t.TempDir(), "idp.db")
			return storagetest.OpenSQLite(t, p), storagetest.OpenSQLite(t, p)
		}},
		{"postgres", func(t *testing.T) (storage.Store, storage.Store) {
			u := storagetest.PostgresURL(t)
			return storagetest.OpenPostgres(t, u), storagetest.OpenPostgres(t, u)
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			storeA, storeB := be.open(t)
			keks := [][]byte{testKEK(t)}
			cfgA, cfgB := testConfig(), testConfig()
			cfgA.Keys.CheckInterval = 20 * time.Millisecond
			cfgB.Keys.CheckInterval = time.Hour
			a := newTestServer(t, storeA, Options{Config: cfgA, KEKs: keks})
			b := newTestServer(t, storeB, Options{Config: cfgB, KEKs: keks})
			if !bytes.Equal(a.Signer.JWKS().Body, b.Signer.JWKS().Body) {
				t.Fatalf("the second instance did not adopt the first one's keys:\n%s\n%s", a.Signer.JWKS().Body, b.Signer.JWKS().Body)
			}
			ra := startRun(t, a)
			kids0, etag0 := jwksKids(t, ra.url)
			if len(kids0) == 0 {
				t.Fatal("empty JWKS")
			}
			alg := cfgA.Keys.AccessAlgorithm
			active0, err := a.Signer.SigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			published := func(kid string) func() bool {
				return func() bool { kids, _ := jwksKids(t, ra.url); return slices.Contains(kids, kid) }
			}

			// Instance B adds a sealed next key: A publishes it.
			events, err := b.Signer.Lifecycle().Generate(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 || events[0].Type != "key.generated" {
				t.Fatalf("Generate: events %v", events)
			}
			next := events[0].KID
			if slices.Contains(kids0, next) {
				t.Fatalf("new kid %s already published", next)
			}
			eventually(t, 10*time.Second, "instance A publishes B's next key", published(next))
			if _, etag := jwksKids(t, ra.url); etag == etag0 {
				t.Errorf("ETag %s unchanged although the key set changed", etag)
			}
			if k, err := a.Signer.SigningKey(alg); err != nil || k.KID != active0.KID {
				t.Errorf("A signs with %v (%v), want the unchanged active key %s", k, err, active0.KID)
			}
			if k, err := a.Signer.VerificationKey(next); err != nil || k.Signer() == nil {
				t.Errorf("A cannot unseal B's key: %v, %v", k, err)
			}

			// B revokes it: A withdraws it.
			if _, err := b.Signer.Lifecycle().Revoke(ctx, next, "test"); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "instance A withdraws the revoked key", func() bool { return !published(next)() })
			if _, err := a.Signer.VerificationKey(next); !errors.Is(err, signer.ErrUnknownKey) {
				t.Errorf("A still verifies with the revoked key: %v", err)
			}

			// B rotates: A signs with the new active key.
			if _, err := b.Signer.Lifecycle().Rotate(ctx, alg, true); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "instance A signs with B's rotated-in key", func() bool {
				k, err := a.Signer.SigningKey(alg)
				return err == nil && k.KID != active0.KID
			})
			if !published(active0.KID)() {
				t.Errorf("the rotated-out key %s left A's JWKS at once: tokens it signed cannot be verified", active0.KID)
			}

			ra.cancel()
			if err := ra.result(t); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// logBuffer collects log output written by concurrent goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestNoSecretsInLogs(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T, log *slog.Logger) storage.Store
	}{
		{"sqlite", func(t *testing.T, log *slog.Logger) storage.Store {
			s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "idp.db"), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T, log *slog.Logger) storage.Store {
			s, err := postgres.Open(context.Background(), postgres.Options{URL: storagetest.PostgresURL(t), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			testNoSecretsInLogs(t, be.open)
		})
	}
}

func testNoSecretsInLogs(t *testing.T, open func(t *testing.T, log *slog.Logger) storage.Store) {
	ctx := context.Background()
	var buf logBuffer
	log := NewLogger(config.Log{Level: "debug", Format: "json"}, &buf)
	store := open(t, log)
	if err := Migrate(ctx, store); err != nil {
		t.Fatal(err)
	}
	kek := testKEK(t)
	srv := newTestServer(t, store, Options{KEKs: [][]byte{kek}, Logger: log})
	r := startRun(t, srv)

	client := &http.Client{Timeout: 30 * time.Second}
	requests := 0
	call := func(method, path, body string, headers ...string) (int, map[string]any) {
		t.Helper()
		requests++
		req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	expect := func(what string, want, got int, body map[string]any) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %d %v, want %d", what, got, body, want)
		}
	}

	const email, password = "secretive@example.com", "Pa55-phrase-never-logged"
	reg := fmt.Sprintf(`{"name":"S","email":%q,"password":%q}`, email, password)
	st, m := call("POST", "/api/register/", reg)
	expect("register", 200, st, m)
	st, m = call("POST", "/api/register/", reg)
	expect("register again", 400, st, m)
	st, m = call("POST", "/api/token/", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password+"x"))
	expect("wrong password", 401, st, m)
	st, m = call("POST", "/api/token/", fmt.Sprintf(`{"email":%q,"password":%q}`, "nobody@example.com", password))
	expect("unknown email", 401, st, m)
	st, m = call("POST", "/api/token/", fmt.Sprintf(`{"email":%q,"password":%q`, email, password))
	expect("truncated JSON with the password", 400, st, m)
	st, m = call("POST", "/api/token/", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	expect("login", 200, st, m)
	access, refresh := m["access"].(string), m["refresh"].(string)
	st, m = call("POST", "/api/token/refresh/", fmt.Sprintf(`{"refresh":%q}`, refresh))
	expect("refresh", 200, st, m)
	access2, refresh2 := m["access"].(string), m["refresh"].(string)
	st, m = call("POST", "/api/token/verify/", fmt.Sprintf(`{"token":%q}`, access2))
	expect("verify", 200, st, m)
	bad := tamper(access2)
	st, m = call("POST", "/api/token/verify/", fmt.Sprintf(`{"token":%q}`, bad))
	expect("verify tampered", 401, st, m)
	st, m = call("GET", "/api/logged-user/", "", "Authorization: Bearer "+access2)
	expect("logged-user", 200, st, m)
	st, m = call("GET", "/api/logged-user/", "", "Authorization: Bearer "+refresh2)
	expect("logged-user with a refresh token", 401, st, m)
	st, m = call("GET", "/api/logged-user/", "", "Authorization: Bearer "+bad)
	expect("logged-user with a tampered token", 401, st, m)
	st, m = call("POST", "/api/token/refresh/", fmt.Sprintf(`{"refresh":%q}`, tamper(refresh2)))
	expect("refresh tampered", 401, st, m)
	// Reuse of the rotated-out token (past the grace window on the
	// server's clock is not needed: reuse after a second rotation is
	// outside the grace, which covers only the immediate predecessor).
	st, m = call("POST", "/api/token/refresh/", fmt.Sprintf(`{"refresh":%q}`, refresh2))
	expect("refresh again", 200, st, m)
	refresh3 := m["refresh"].(string)
	st, m = call("POST", "/api/token/refresh/", fmt.Sprintf(`{"refresh":%q}`, refresh))
	expect("reuse", 401, st, m)

	r.cancel()
	if err := r.result(t); err != nil {
		t.Fatal(err)
	}

	u, err := store.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	secrets := map[string]string{
		"password":             password,
		"password hash":        u.PasswordHash,
		"password hash digest": u.PasswordHash[strings.LastIndexByte(u.PasswordHash, '$')+1:],
		"KEK (raw)":            string(kek),
		"KEK (base64)":         base64.StdEncoding.EncodeToString(kek),
		"KEK (base64url)":      base64.RawURLEncoding.EncodeToString(kek),
		"KEK (hex)":            hex.EncodeToString(kek),
		"tampered token":       bad,
	}
	for i, tok := range []string{access, refresh, access2, refresh2, refresh3} {
		secrets[fmt.Sprintf("token %d", i)] = tok
		secrets[fmt.Sprintf("token %d signature", i)] = tok[strings.LastIndexByte(tok, '.')+1:]
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}

	// Every line is JSON; every request line carries a request_id, and so
	// does every other line logged while serving a request.
	var requestLines, refused int
	var reuseLines []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		id, _ := rec["request_id"].(string)
		switch rec["msg"] {
		case "request", "request refused", "user registered":
			if id == "" {
				t.Errorf("log line without request_id: %s", line)
			}
		case "refresh token reuse detected; family revoked":
			reuseLines = append(reuseLines, line)
		}
		if rec["msg"] == "request" {
			requestLines++
		}
		if rec["msg"] == "request refused" {
			refused++
		}
	}
	if len(reuseLines) != 1 {
		t.Errorf("%d reuse-detected lines, want 1", len(reuseLines))
	}
	// Each request logs one line; the /healthz polls of startRun add some.
	if requestLines < requests {
		t.Errorf("%d request lines for %d requests", requestLines, requests)
	}
	if refused == 0 {
		t.Error("no debug line 'request refused': debug logging is not on, the test proves little")
	}
	t.Run("reuse-line-carries-request_id", func(t *testing.T) {
		for _, line := range reuseLines {
			if !strings.Contains(line, `"request_id":"`) {
				t.Errorf("reuse line without request_id: %s", line)
			}
		}
	})
	if testing.Verbose() && t.Failed() {
		os.Stderr.WriteString(logs)
	}
}

func TestResolveKEKs(t *testing.T) {
	configured, err := signer.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     string
		keys    []string
		file    string // content of a pre-existing kek file, "" for none
		mode    os.FileMode
		wantErr string
		// wantFile: a 0600 KEK file exists afterwards and is the KEK used.
		wantFile bool
		wantLog  string
	}{
		{name: "configured", env: config.EnvDevelopment, keys: []string{configured}},
		{name: "configured-in-production", env: config.EnvProduction, keys: []string{configured}},
		{name: "production-without", env: config.EnvProduction, wantErr: "IDP_KEYS_ENCRYPTION_KEY"},
		{name: "development-generates", env: config.EnvDevelopment, wantFile: true, wantLog: "generated a development key-encryption key"},
		{name: "development-reuses", env: config.EnvDevelopment, file: configured + "\n", mode: 0o600, wantFile: true, wantLog: "using the development key-encryption key"},
		{name: "development-refuses-readable-file", env: config.EnvDevelopment, file: configured + "\n", mode: 0o644, wantErr: "chmod 600"},
		{name: "production-refuses-the-development-kek", env: config.EnvProduction, keys: []string{configured}, file: configured + "\n", mode: 0o600, wantErr: "development KEK"},
		{name: "bad-configured-key", env: config.EnvDevelopment, keys: []string{"dG9vLXNob3J0"}, wantErr: "keys.encryption_keys[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Env = tc.env
			cfg.Keys.EncryptionKeys = tc.keys
			cfg.Keys.KEKFile = filepath.Join(t.TempDir(), "keys", "kek")
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Dir(cfg.Keys.KEKFile), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cfg.Keys.KEKFile, []byte(tc.file), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(cfg.Keys.KEKFile, tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			var buf logBuffer
			keks, err := ResolveKEKs(cfg, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			out := buf.String()
			if err != nil {
				out += err.Error()
			}
			if strings.Contains(out, configured) {
				t.Errorf("the KEK appears in the log or error: %s", out)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if tc.file == "" {
					if _, err := os.Stat(cfg.Keys.KEKFile); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("a KEK file was created on a refusal (err %v)", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keks) != 1 || len(keks[0]) != 32 {
				t.Fatalf("KEKs %d (first %d bytes), want one of 32 bytes", len(keks), len(keks[0]))
			}
			if !strings.Contains(out, tc.wantLog) {
				t.Errorf("log %q lacks %q", out, tc.wantLog)
			}
			fi, statErr := os.Stat(cfg.Keys.KEKFile)
			if !tc.wantFile {
				if !errors.Is(statErr, os.ErrNotExist) {
					t.Errorf("a KEK file exists although KEKs are configured (err %v)", statErr)
				}
				want, _ := config.DecodeKEK(tc.keys[0])
				if !bytes.Equal(keks[0], want) {
					t.Error("not the configured KEK")
				}
				return
			}
			if statErr != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("KEK file: %v, mode %v, want 0600", statErr, fi.Mode())
			}
			content, err := os.ReadFile(cfg.Keys.KEKFile)
			if err != nil {
				t.Fatal(err)
			}
			want, err := signer.ParseKEK(string(content))
			if err != nil || !bytes.Equal(keks[0], want) {
				t.Errorf("the KEK used is not the file's (%v)", err)
			}
			again, err := ResolveKEKs(cfg, slog.New(slog.DiscardHandler))
			if err != nil || !bytes.Equal(again[0], keks[0]) {
				t.Errorf("a second resolve gives another KEK (%v)", err)
			}
		})
	}
}
