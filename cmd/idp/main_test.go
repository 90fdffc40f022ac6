package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes the test binary run main() instead of the tests, with
// the JSON array in it as arguments: the real binary, exit status and
// signal handling included.
const runMainEnv = "IDP_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if args := os.Getenv(runMainEnv); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			panic(err)
		}
		os.Args = append([]string{"idp"}, argv...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// binary returns a command running main() with args in the test's working
// directory and environment.
func binary(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(args)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), runMainEnv+"="+string(a))
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestExitStatus(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stdout string
		// stderr must start with this.
		stderr string
	}{
		{name: "ok", args: []string{"--version"}, code: 0, stdout: buildInfo().Line() + "\n"},
		{
			name: "configuration-problems-are-printed-as-they-are",
			env:  map[string]string{"IDP_LOG_LEVEL": "loud"},
			args: []string{"config", "check"}, code: 1,
			stderr: "invalid configuration:\n  log.level: \"loud\"",
		},
		{name: "other-errors-are-prefixed", args: []string{"users", "create", "--email", "x@example.com", "--name", "X"}, code: 1, stderr: "idp: standard input is not a terminal"},
		{name: "unknown-command", args: []string{"frobnicate"}, code: 1, stderr: "idp: unknown command \"frobnicate\""},
		{name: "unknown-flag", args: []string{"serve", "--frob"}, code: 1, stderr: "idp: unknown flag: --frob"},
		{name: "unknown-subcommand", args: []string{"keys", "lst"}, code: 1, stderr: "idp: unknown command \"lst\" for \"idp keys\"\n\nDid you mean this?\n\tlist\n"},
		{name: "missing-store", args: []string{"users", "list"}, code: 1, stderr: "idp: no idp store at data/idp.db"},
		{name: "config-check-json-problems-on-stdout-only", env: map[string]string{"IDP_LOG_LEVEL": "loud"}, args: []string{"config", "check", "--json"}, code: 1,
			stdout: "{\n  \"file\": \"\",\n  \"ok\": false,\n  \"problems\": [\n    \"log.level: \\\"loud\\\": must be debug, info, warn or error\"\n  ]\n}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sandbox(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cmd := binary(t, tc.args...)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Stdin = strings.NewReader("") // a pipe: not a terminal
			err := cmd.Run()
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit status %d (%v), want %d; stderr:\n%s", got, err, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if !strings.HasPrefix(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tc.stderr)
			}
		})
	}
}

// TestServeStopsOnSignal runs the real binary and stops it as an init
// system or a terminal would.
func TestServeStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			sandbox(t)
			addr := freeAddr(t)
			t.Setenv("IDP_HTTP_ADDR", addr)
			cmd := binary(t, "serve")
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
					<-done
				}
			})

			deadline := time.Now().Add(60 * time.Second)
			for {
				resp, err := http.Get("http://" + addr + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("not healthy within 60s: %v\n%s", err, stderr.String())
				}
				select {
				case err := <-done:
					done <- err
					t.Fatalf("idp serve exited early: %v\n%s", err, stderr.String())
				case <-time.After(20 * time.Millisecond): // poll interval
				}
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				done <- err
				if code := exitCode(err); code != 0 {
					t.Fatalf("exit status %d after %s, want 0; stderr:\n%s", code, sig, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("idp serve still running 30s after %s", sig)
			}
			for _, w := range []string{"shutting down", "stopped"} {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if listening(addr) {
				t.Error("still listening after exit")
			}
		})
	}
}
