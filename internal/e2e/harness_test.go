package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
)

// bins are the binaries TestMain builds: idp, resource-server and
// goverify (the README's Go snippet).
var bins struct{ idp, rs, goverify string }

// repoRoot is the module root (where go.mod is).
var repoRoot string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	if testing.Short() {
		return m.Run() // the process tests skip; nothing to build
	}
	dir, err := os.MkdirTemp("", "idp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go not on PATH:", err)
		return 1
	}
	build := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator),
		"./cmd/idp", "./cmd/resource-server", "./internal/e2e/testdata/goverify")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	bins.idp = filepath.Join(dir, "idp")
	bins.rs = filepath.Join(dir, "resource-server")
	bins.goverify = filepath.Join(dir, "goverify")
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// needE2E skips in -short mode (TestMain built nothing).
func needE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: starts real processes; skipped in -short mode")
	}
}

// logBuffer collects a process's output for the failure dump.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a child process of the test. It is stopped at cleanup (also
// when the test fails) and, should the test binary die, killed by the
// kernel (Pdeathsig). Its output is dumped when the test failed.
type process struct {
	name   string
	cmd    *exec.Cmd
	logs   *logBuffer
	stdin  io.Closer // closed first at stop, if set
	exited chan struct{}
	err    error // valid once exited is closed
}

// newProcess prepares bin in a fresh working directory (so no configs/ or
// keys/ of the repository is read) with exactly env. Attach pipes, then
// start.
func newProcess(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, logs: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return p
}

func (p *process) start(t *testing.T) *process {
	t.Helper()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s (%s) ---\n%s", p.name, p.err, p.logs)
		}
	})
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop ends the process: EOF on its stdin (drivers exit on it), SIGTERM
// (graceful shutdown), SIGKILL when that takes too long.
func (p *process) stop() {
	if p.stdin != nil {
		p.stdin.Close()
	}
	if !p.running() {
		return
	}
	if p.stdin != nil {
		select {
		case <-p.exited:
			return
		case <-time.After(2 * time.Second):
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// childEnv is this process's environment without idp's, the resource
// server's or the snippets' variables, plus vars.
func childEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "IDP_") || strings.HasPrefix(k, "RS_") || k == "JWKS_CACHE_SECONDS" || k == "PYTHONPATH" || k == "PYTHONHOME" {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls url until it answers 200, failing the test when p exits
// or the deadline passes.
func waitReady(t *testing.T, p *process, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := httpClient.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not ready after %s", p.name, url, timeout)
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready: %v", p.name, p.err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// deployment is one idp installation: a fresh Postgres schema, a KEK and
// settings shared by its instances and by the CLI.
type deployment struct {
	env        map[string]string
	issuer     string // http://<address of the first instance>
	firstAddr  string
	mu         sync.Mutex
	started    int
	checkEvery time.Duration
	jwksMaxAge time.Duration
}

// newDeployment prepares an installation; settings override the defaults
// below (IDP_* variables). The defaults shorten every period so that the
// behaviour under test happens in seconds.
func newDeployment(t *testing.T, settings map[string]string) *deployment {
	t.Helper()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	d := &deployment{firstAddr: freeAddr(t)}
	d.issuer = "http://" + d.firstAddr
	d.env = map[string]string{
		"IDP_DATABASE_URL":          storagetest.PostgresURL(t),
		"IDP_DATABASE_MAX_CONNS":    "8",
		"IDP_KEYS_ENCRYPTION_KEY":   base64.StdEncoding.EncodeToString(kek),
		"IDP_TOKENS_ISSUER":         d.issuer,
		"IDP_LOG_FORMAT":            "json",
		"IDP_JWKS_MAX_AGE":          "1s",
		"IDP_KEYS_CHECK_INTERVAL":   "500ms",
		"IDP_KEYS_PREPUBLISH":       "3s",
		"IDP_KEYS_ROTATION_PERIOD":  "1h",
		"IDP_TOKENS_ACCESS_TTL":     "1m",
		"IDP_HTTP_SHUTDOWN_TIMEOUT": "5s",
	}
	maps.Copy(d.env, settings)
	var err error
	if d.checkEvery, err = time.ParseDuration(d.env["IDP_KEYS_CHECK_INTERVAL"]); err != nil {
		t.Fatal(err)
	}
	if d.jwksMaxAge, err = time.ParseDuration(d.env["IDP_JWKS_MAX_AGE"]); err != nil {
		t.Fatal(err)
	}
	return d
}

// instance is one running `idp serve`.
type instance struct {
	*process
	api
}

// launch starts an instance without waiting for it (several can then
// start at once); the first one listens on the issuer's address.
func (d *deployment) launch(t *testing.T, name string) *instance {
	t.Helper()
	d.mu.Lock()
	addr := d.firstAddr
	if d.started > 0 {
		addr = freeAddr(t)
	}
	d.started++
	d.mu.Unlock()
	env := maps.Clone(d.env)
	env["IDP_HTTP_ADDR"] = addr
	p := newProcess(t, name, childEnv(env), bins.idp, "serve").start(t)
	return &instance{process: p, api: api{base: "http://" + addr}}
}

// start launches an instance and waits until /readyz answers 200.
func (d *deployment) start(t *testing.T, name string) *instance {
	t.Helper()
	in := d.launch(t, name)
	in.waitReady(t)
	return in
}

func (in *instance) waitReady(t *testing.T) {
	t.Helper()
	waitReady(t, in.process, in.base+"/readyz", 60*time.Second)
}

// cli runs `idp args...` against the deployment's database and returns
// its standard output (standard error is added to the error).
func (d *deployment) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.idp, args...)
	cmd.Env = childEnv(d.env)
	cmd.Dir = os.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("idp %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (d *deployment) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.cli(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyInfo is one row of `idp keys list --json`.
type keyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	Created   time.Time `json:"created"`
	Activates time.Time `json:"activates"`
}

func (d *deployment) keys(t *testing.T) []keyInfo {
	t.Helper()
	var ks []keyInfo
	if err := json.Unmarshal([]byte(d.mustCLI(t, "keys", "list", "--json")), &ks); err != nil {
		t.Fatalf("idp keys list --json: %v", err)
	}
	return ks
}

// resourceServer is one running cmd/resource-server.
type resourceServer struct {
	*process
	base string
}

// startResourceServer runs the resource server for issuer (discovery) and
// waits until it has fetched the keys.
func startResourceServer(t *testing.T, issuer string, args ...string) *resourceServer {
	t.Helper()
	addr := freeAddr(t)
	args = append([]string{"--issuer", issuer, "--addr", addr, "--log-format", "json"}, args...)
	p := newProcess(t, "resource-server", childEnv(nil), bins.rs, args...).start(t)
	rs := &resourceServer{process: p, base: "http://" + addr}
	waitReady(t, p, rs.base+"/readyz", 30*time.Second)
	return rs
}

// whoami calls GET /whoami with token and returns the status.
func (rs *resourceServer) whoami(token string) (int, error) {
	st, _, _, err := api{base: rs.base}.get("/whoami", token)
	return st, err
}

var httpClient = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// api is idp's HTTP API at base.
type api struct{ base string }

type tokenPair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// statusError is an answer with an unexpected status.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func (a api) do(method, path string, body any, bearer string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func (a api) get(path, bearer string) (int, http.Header, []byte, error) {
	return a.do(http.MethodGet, path, nil, bearer)
}

// call POSTs body to path and decodes a 200 answer into out.
func (a api) call(path string, body, out any) error {
	st, _, b, err := a.do(http.MethodPost, path, body, "")
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return &statusError{st, string(b)}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (a api) register(name, email, password string) error {
	return a.call("/api/register/", map[string]string{"name": name, "email": email, "password": password}, nil)
}

func (a api) login(email, password string) (tokenPair, error) {
	var p tokenPair
	err := a.call("/api/token/", map[string]string{"email": email, "password": password}, &p)
	return p, err
}

func (a api) refresh(refresh string) (tokenPair, error) {
	var p tokenPair
	err := a.call("/api/token/refresh/", map[string]string{"refresh": refresh}, &p)
	return p, err
}

// verify is POST token/verify/: the status (200 valid, 401 not).
func (a api) verify(token string) (int, error) {
	st, _, _, err := a.do(http.MethodPost, "/api/token/verify/", map[string]string{"token": token}, "")
	return st, err
}

// jwks fetches the JWKS: its ETag and kids.
func (a api) jwks() (string, []string, error) {
	st, h, b, err := a.get("/.well-known/jwks.json", "")
	if err != nil {
		return "", nil, err
	}
	if st != http.StatusOK {
		return "", nil, &statusError{st, string(b)}
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return "", nil, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return h.Get("ETag"), kids, nil
}

// newUser registers a user on a and returns its email and password.
func newUser(t *testing.T, a api, label string) (email, password string) {
	t.Helper()
	email = fmt.Sprintf("%s-%s@example.com", label, randHex(t, 4))
	password = "e2e-" + randHex(t, 8)
	if err := a.register("E2E "+label, email, password); err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return email, password
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// jwtHeader is the part of a JWT header the tests look at.
type jwtHeader struct {
	Alg string `json:"alg"`
	KID string `json:"kid"`
	Typ string `json:"typ"`
}

func segment(token string, i int, out any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func headerOf(t testing.TB, token string) jwtHeader {
	t.Helper()
	var h jwtHeader
	if err := segment(token, 0, &h); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return h
}

func kidOf(token string) string {
	var h jwtHeader
	_ = segment(token, 0, &h)
	return h.KID
}

func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	var c map[string]any
	if err := segment(token, 1, &c); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return c
}

func expOf(t testing.TB, token string) time.Time {
	t.Helper()
	exp, ok := claimsOf(t, token)["exp"].(float64)
	if !ok {
		t.Fatal("JWT without exp")
	}
	return time.Unix(int64(exp), 0)
}

// reencode replaces part i (0 header, 1 claims) of token by v, keeping the
// other parts (and so the now wrong signature).
func reencode(t testing.TB, token string, i int, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	parts[i] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// pollUntil calls f every interval until it returns true, and returns how
// long that took; it fails the test after timeout.
func pollUntil(t *testing.T, what string, interval, timeout time.Duration, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(interval)
	}
	return time.Since(start)
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
