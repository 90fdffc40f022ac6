package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The third-party verifiers. Each runs one of the README's snippets in a
// small driver (testdata/*_driver.*) that answers one JSON line per token.
const (
	joseName  = "jose"
	pyjwtName = "PyJWT"
	drfName   = "DRF+SimpleJWT"
	jwxName   = "jwx"
)

var verifierNames = []string{joseName, pyjwtName, drfName, jwxName}

// systemPython is Debian's interpreter, which has Debian's python3-jwt,
// python3-django, ... (not the pyenv python3 that may come first on PATH).
const systemPython = "/usr/bin/python3"

// needInterop skips (or, under `make test` and in CI, fails) when the
// verifiers `make e2e-deps` installs are missing.
func needInterop(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, ".cache/npm/node_modules/jose/package.json")); err != nil {
		missing = append(missing, "jose in .cache/npm")
	}
	py := exec.Command(systemPython, "-c", "import jwt, cryptography, django, rest_framework, rest_framework_simplejwt")
	if out, err := py.CombinedOutput(); err != nil {
		missing = append(missing, fmt.Sprintf("%s modules (%v: %s)", systemPython, err, strings.TrimSpace(string(out))))
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("interop verifiers missing: %s; run `make e2e-deps`", strings.Join(missing, ", "))
	if os.Getenv("IDP_TEST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (IDP_TEST_REQUIRE_INTEROP=1 or CI makes this a failure)")
}

// answer is a driver's reply to one token.
type answer struct {
	OK     bool           `json:"ok"`
	Error  string         `json:"error"`
	Status int            `json:"status"` // DRF only: the HTTP status
	UserID any            `json:"user_id"`
	Body   map[string]any `json:"body"`
}

// verifier is one running driver.
type verifier struct {
	name    string
	version string
	runtime string
	hello   map[string]any
	p       *process
	in      io.Writer
	lines   chan string
	// checked counts tokens this verifier judged; failures the judgements
	// that were not what the test expected.
	checked, failures int
}

// startVerifier runs the driver of name against the deployment's issuer.
// jwksCache is how long the snippets cache the JWKS (the test gives idp's
// jwks.max_age; SimpleJWT's 300 s cannot be configured).
func startVerifier(t *testing.T, name, issuer, alg string, jwksCache time.Duration) *verifier {
	t.Helper()
	env := childEnv(map[string]string{
		"IDP_ISSUER":              issuer,
		"IDP_ACCESS_ALGORITHM":    alg,
		"JWKS_CACHE_SECONDS":      fmt.Sprint(max(1, int(jwksCache.Seconds()))),
		"PYTHONDONTWRITEBYTECODE": "1",
	})
	testdata := filepath.Join(repoRoot, "internal/e2e/testdata")
	var p *process
	switch name {
	case joseName:
		// jose resolves from the script's folder: a copy of the scripts
		// beside a link to the npm folder `make e2e-deps` fills.
		dir := t.TempDir()
		for _, f := range []string{"jose_verify.mjs", "jose_driver.mjs"} {
			b, err := os.ReadFile(filepath.Join(testdata, f))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
		}
		must(t, os.Symlink(filepath.Join(repoRoot, ".cache/npm/node_modules"), filepath.Join(dir, "node_modules")))
		p = newProcess(t, name, env, "node", filepath.Join(dir, "jose_driver.mjs"))
	case pyjwtName:
		p = newProcess(t, name, env, systemPython, filepath.Join(testdata, "pyjwt_driver.py"))
	case drfName:
		p = newProcess(t, name, env, systemPython, filepath.Join(testdata, "drf_driver.py"))
	case jwxName:
		p = newProcess(t, name, env, bins.goverify)
	default:
		t.Fatalf("unknown verifier %s", name)
	}
	p.cmd.Stdout = nil
	in, err := p.cmd.StdinPipe()
	must(t, err)
	out, err := p.cmd.StdoutPipe()
	must(t, err)
	p.stdin = in
	v := &verifier{name: name, p: p, in: in, lines: make(chan string, 1)}
	p.start(t)
	go func() {
		defer close(v.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
	}()
	line := v.readLine(t, time.Minute)
	if err := json.Unmarshal([]byte(line), &v.hello); err != nil {
		t.Fatalf("%s: first line %q: %v", name, line, err)
	}
	v.version, _ = v.hello["version"].(string)
	v.runtime, _ = v.hello["runtime"].(string)
	return v
}

func (v *verifier) readLine(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-v.lines:
		if !ok {
			<-v.p.exited
			t.Fatalf("%s exited: %v", v.name, v.p.err)
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("%s: no answer within %s", v.name, timeout)
	}
	return ""
}

// ask sends one request line and returns the answer.
func (v *verifier) ask(t *testing.T, req map[string]any) answer {
	t.Helper()
	b, err := json.Marshal(req)
	must(t, err)
	if _, err := v.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("%s: write: %v", v.name, err)
	}
	var a answer
	line := v.readLine(t, 30*time.Second)
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("%s: answer %q: %v", v.name, line, err)
	}
	return a
}

// check has the verifier judge one token and counts it.
func (v *verifier) check(t *testing.T, token string, extra map[string]any) answer {
	t.Helper()
	req := map[string]any{"token": token}
	for k, x := range extra {
		req[k] = x
	}
	v.checked++
	return v.ask(t, req)
}

// expect checks token and records a failure unless it is accepted (accept)
// or refused with an error containing one of errHas (any error if none).
func (v *verifier) expect(t *testing.T, label, token string, accept bool, errHas ...string) answer {
	t.Helper()
	return v.expectWith(t, label, token, nil, accept, errHas...)
}

func (v *verifier) expectWith(t *testing.T, label, token string, extra map[string]any, accept bool, errHas ...string) answer {
	t.Helper()
	a := v.check(t, token, extra)
	ok := a.OK == accept
	if ok && !accept && len(errHas) > 0 {
		ok = false
		for _, s := range errHas {
			ok = ok || strings.Contains(a.Error, s)
		}
	}
	if !ok {
		v.failures++
		want := "accepted"
		if !accept {
			want = fmt.Sprintf("refused (error containing one of %q)", errHas)
		}
		t.Errorf("%s: %s: got ok=%v error=%q status=%d, want %s", v.name, label, a.OK, a.Error, a.Status, want)
	}
	return a
}

// summary is the line each verifier reports.
func (v *verifier) summary() string {
	return fmt.Sprintf("%-14s %-8s (%s): %3d tokens checked, %d failures", v.name, v.version, v.runtime, v.checked, v.failures)
}
