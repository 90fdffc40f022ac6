// Package loadbench is `make bench-load`: it starts idp as a real process
// on a throw-away store (SQLite in a temporary directory, or a schema it
// creates in a PostgreSQL database), seeds users and refresh families
// through the store, drives idp's hot paths over real HTTP on 127.0.0.1,
// and prints one table with the limits of this machine measured in the
// same run next to each path's rate: the single-core RS256-2048 sign rate,
// the argon2id rate over every core at idp's default parameters, and a
// bare net/http server answering idp's JWKS bytes.
//
// idp runs with its production settings (argon2id parameters, login
// throttling, audit); every setting the benchmark changes is printed.
package loadbench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/idp/idp/internal/config"
)

// Paths the benchmark knows, in the order they run.
var Paths = []string{"jwks", "verify", "logged-user", "refresh", "client_credentials", "login", "login64", "mixed"}

// Options is one benchmark run.
type Options struct {
	// IDP is the idp binary to run.
	IDP string
	// DatabaseURL selects PostgreSQL (a schema is created in it and dropped
	// after); empty: SQLite in a temporary directory.
	DatabaseURL string
	Users       int
	Families    int
	Clients     int
	Duration    time.Duration
	// Paths to drive (default all).
	Paths []string
	// AccessAlgorithm overrides keys.access_algorithm (e.g. ES256).
	AccessAlgorithm string
	// Env is extra IDP_* settings for the server (printed).
	Env []string
	// LogFile receives idp's output; empty: a file in the temporary dir.
	Out io.Writer
	// Keep keeps the temporary directory (logs, SQLite file).
	Keep bool
	// ProfileDir, if set, receives a CPU profile of idp per path
	// (<path>.pprof), taken through a debug listener (debug.addr).
	ProfileDir string
}

const password = "loadbench-correct-horse"

// Run runs the benchmark and prints its table on o.Out.
func Run(ctx context.Context, o Options) error {
	if len(o.Paths) == 0 {
		o.Paths = Paths
	}
	for _, p := range o.Paths {
		if !slices.Contains(Paths, p) {
			return fmt.Errorf("unknown path %q (known: %s)", p, strings.Join(Paths, ", "))
		}
	}
	bin, err := filepath.Abs(o.IDP)
	if err != nil {
		return err
	}
	o.IDP = bin
	tmp, err := os.MkdirTemp("", "idp-loadbench-")
	if err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintf(o.Out, "keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	cfg := config.Default()
	changed := []string{}
	store := "sqlite " + filepath.Join(tmp, "idp.db")
	if o.DatabaseURL != "" {
		url, drop, err := throwAwaySchema(ctx, o.DatabaseURL)
		if err != nil {
			return err
		}
		if o.Keep {
			fmt.Fprintf(o.Out, "keeping the PostgreSQL schema: %s\n", redact(url))
		} else {
			defer drop()
		}
		cfg.Database.URL = url
		store = "postgres " + redact(url)
		changed = append(changed, "database.url=<throw-away schema>")
	} else {
		cfg.Database.SQLitePath = filepath.Join(tmp, "idp.db")
		changed = append(changed, "database.sqlite_path=<temp dir>")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	env := map[string]string{
		"IDP_ENV":                  "production",
		"IDP_HTTP_ADDR":            fmt.Sprintf("127.0.0.1:%d", port),
		"IDP_TOKENS_ISSUER":        "https://idp.loadbench.invalid",
		"IDP_KEYS_ENCRYPTION_KEY":  base64.StdEncoding.EncodeToString(kek),
		"IDP_DATABASE_URL":         cfg.Database.URL,
		"IDP_DATABASE_SQLITE_PATH": cfg.Database.SQLitePath,
		"IDP_OAUTH2_SCOPES":        "loadbench:read",
	}
	changed = append(changed, "env=production", "http.addr="+env["IDP_HTTP_ADDR"], "tokens.issuer="+env["IDP_TOKENS_ISSUER"], "keys.encryption_keys=<generated>", "oauth2.scopes=[loadbench:read] (for the client_credentials client)")
	if o.AccessAlgorithm != "" {
		env["IDP_KEYS_ACCESS_ALGORITHM"] = o.AccessAlgorithm
		changed = append(changed, "keys.access_algorithm="+o.AccessAlgorithm)
	}
	debugAddr := ""
	if o.ProfileDir != "" {
		dp, err := freePort()
		if err != nil {
			return err
		}
		debugAddr = fmt.Sprintf("127.0.0.1:%d", dp)
		env["IDP_DEBUG_ADDR"] = debugAddr
		changed = append(changed, "debug.addr="+debugAddr+" (CPU profiles into "+o.ProfileDir+")")
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		changed = append(changed, kv)
	}
	cfg.Tokens.Issuer = env["IDP_TOKENS_ISSUER"]

	fmt.Fprintf(o.Out, "idp load benchmark: %s, %d users, %d seeded families, %d clients, %s per path\n", store, o.Users, o.Families, o.Clients, o.Duration)
	fmt.Fprintf(o.Out, "machine: %d CPUs, load average %s\n", numCPU(), loadAvg())
	fmt.Fprintf(o.Out, "settings changed from the defaults: %s\n", strings.Join(changed, ", "))
	fmt.Fprintf(o.Out, "unchanged: argon2id %d KiB t=%d p=%d, login throttling, audit, max_concurrent_hashes=%d (0: one per CPU), unless changed above\n",
		cfg.Passwords.Argon2.MemoryKiB, cfg.Passwords.Argon2.Iterations, cfg.Passwords.Argon2.Parallelism, cfg.Passwords.MaxConcurrentHashes)

	// The binary under test creates the schema, so that it is its own.
	migrate := exec.CommandContext(ctx, o.IDP, "migrate")
	migrate.Env, migrate.Dir = idpEnv(env), os.TempDir()
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("idp migrate: %w: %s", err, out)
	}
	t0 := time.Now()
	if err := seed(ctx, cfg, o.Users, o.Families, password); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(o.Out, "seeded in %s\n", time.Since(t0).Round(time.Millisecond))

	secret, err := createClient(ctx, o.IDP, env)
	if err != nil {
		return err
	}
	srv, err := startIDP(ctx, o.IDP, env, filepath.Join(tmp, "idp.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(o.Out, "idp pid %d ready in %s; idle RSS %.1f MiB 1.5 s after start\n", srv.pid(), srv.readyIn.Round(time.Millisecond), float64(srv.idleRSS)/1024)

	b := &bench{o: o, base: "http://" + env["IDP_HTTP_ADDR"], srv: srv, secret: secret, debug: debugAddr}
	b.client = newClient(max(o.Clients, 64) + 8)
	if err := b.limits(ctx, tmp); err != nil {
		return err
	}
	for _, p := range o.Paths {
		rs, err := b.path(ctx, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		b.results = append(b.results, rs...)
	}
	b.print()
	// The limits again: how far they drifted during the run (other load
	// on a shared machine) says how far to trust the ratios.
	rs256, err := limitRS256(ctx, 3*time.Second)
	if err != nil {
		return err
	}
	argon2, _ := limitArgon2(3 * time.Second)
	fmt.Fprintf(o.Out, "limits re-measured after the paths: RS256 1 core %.0f/s (was %.0f), argon2id %.1f/s (was %.1f); load average %s\n",
		rs256, b.rs256, argon2, b.argon2, loadAvg())
	return nil
}

func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "processor\t:"))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i > 0 {
		if j := strings.Index(url, "://"); j > 0 && j < i {
			if k := strings.IndexByte(url[j+3:i], ':'); k >= 0 {
				return url[:j+3+k] + ":***" + url[i:]
			}
		}
	}
	return url
}

// idpProc is the idp server under test.
type idpProc struct {
	cmd     *exec.Cmd
	readyIn time.Duration
	idleRSS int64
}

func (p *idpProc) pid() int { return p.cmd.Process.Pid }

func (p *idpProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func idpEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDP_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// startIDP runs `idp serve` and waits until /readyz answers 200, then
// until 1.5 s after the start to read the idle RSS.
func startIDP(ctx context.Context, bin string, env map[string]string, logFile string) (*idpProc, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = idpEnv(env)
	cmd.Dir = filepath.Dir(logFile) // no configs/idp.yaml there: defaults + the printed env
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &idpProc{cmd: cmd}
	c := newClient(1)
	url := "http://" + env["IDP_HTTP_ADDR"] + "/readyz"
	for i := 0; ; i++ {
		if i == 600 {
			p.stop()
			return nil, fmt.Errorf("idp not ready after 30 s; see %s", logFile)
		}
		if err := ctx.Err(); err != nil {
			p.stop()
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if do(c, req, nil) == http.StatusOK {
			break
		}
		if cmd.ProcessState != nil {
			return nil, fmt.Errorf("idp exited; see %s", logFile)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.readyIn = time.Since(start)
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	p.idleRSS, _ = memKiB(p.pid(), "VmRSS")
	return p, nil
}

// createClient registers the client_credentials client with `idp clients
// create` and returns its secret.
func createClient(ctx context.Context, bin string, env map[string]string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "clients", "create", "--id", "loadbench", "--name", "loadbench",
		"--grant", "client_credentials", "--scope", "loadbench:read", "--json")
	cmd.Env = idpEnv(env)
	cmd.Dir = os.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("idp clients create: %w: %s", err, stderr.String())
	}
	var v struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := jsonUnmarshal(out, &v); err != nil || v.ClientSecret == "" {
		return "", fmt.Errorf("idp clients create: no secret in %s", out)
	}
	return v.ClientSecret, nil
}
