package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the resource-server binary
// (TestBinary runs it with RS_TEST_RUN_MAIN=1).
func TestMain(m *testing.M) {
	if os.Getenv("RS_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseFlags(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(o options) bool
		wantErr string
	}{
		{"flags/defaults", []string{"--issuer", "http://idp"}, env(), func(o options) bool {
			return o.addr == "127.0.0.1:9090" && o.verifier.Leeway == 30*time.Second &&
				o.verifier.MinRefetchInterval == 5*time.Second && o.verifier.Audience == "" && o.logLevel == slog.LevelInfo
		}, ""},
		{"flags/all", []string{"--issuer=http://idp", "--jwks-url=http://idp/jwks", "--addr=:0", "--audience=api",
			"--leeway=1s", "--min-refetch-interval=2s", "--log-level=debug", "--log-format=json"}, env(), func(o options) bool {
			return o.verifier.JWKSURL == "http://idp/jwks" && o.addr == ":0" && o.verifier.Audience == "api" &&
				o.verifier.Leeway == time.Second && o.verifier.MinRefetchInterval == 2*time.Second &&
				o.logLevel == slog.LevelDebug && o.logFormat == "json"
		}, ""},
		{"flags/env", nil, env("RS_ISSUER", "http://env", "RS_MIN_REFETCH_INTERVAL", "9s", "RS_AUDIENCE", "a"), func(o options) bool {
			return o.verifier.Issuer == "http://env" && o.verifier.MinRefetchInterval == 9*time.Second && o.verifier.Audience == "a"
		}, ""},
		{"flags/flag-beats-env", []string{"--issuer", "http://flag"}, env("RS_ISSUER", "http://env"), func(o options) bool {
			return o.verifier.Issuer == "http://flag"
		}, ""},
		{"flags/no-issuer", nil, env(), nil, "--issuer (or RS_ISSUER) is required"},
		{"flags/bad-env-duration", []string{"--issuer", "http://idp"}, env("RS_LEEWAY", "soon"), nil, `RS_LEEWAY: "soon"`},
		{"flags/bad-format", []string{"--issuer", "http://idp", "--log-format", "xml"}, env(), nil, "--log-format"},
		{"flags/extra-args", []string{"--issuer", "http://idp", "serve"}, env(), nil, "unexpected arguments"},
		{"flags/unknown-flag", []string{"--nope"}, env(), nil, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(o) {
				t.Fatalf("parseFlags = %+v, %v", o, err)
			}
		})
	}
}

// TestBinary runs the real main in a child process, as the end-to-end
// tests will: it discovers the fake issuer, serves a token, and exits 0
// on SIGTERM.
func TestBinary(t *testing.T) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(t, rsa.pub)
	// No arguments (they would be the test binary's): configured by RS_*.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RS_TEST_RUN_MAIN=1", "RS_ISSUER="+f.URL, "RS_ADDR=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The log says where it listens.
	lines := bufio.NewScanner(stderr)
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	var addr string
	var logged []string
	for addr == "" && lines.Scan() {
		logged = append(logged, lines.Text())
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no listening line:\n%s", strings.Join(logged, "\n"))
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	// Wait for readiness, then call /whoami with a real token.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a child process: no other signal
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/resource", nil)
	req.Header.Set("Authorization", "Bearer "+signAccess(t, rsa, accessClaims(f.URL, time.Now())))
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != `{"message":"hello alice@example.com","user_id":7}` {
		t.Fatalf("GET /resource: %d %s", res.StatusCode, body)
	}

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	out := <-rest
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
	}
	for _, want := range []string{"shutting down", "jwks fetched", "discovered jwks_uri"} {
		if !strings.Contains(strings.Join(logged, "\n")+out, want) {
			t.Errorf("log lacks %q:\n%s%s", want, strings.Join(logged, "\n"), out)
		}
	}
}
