package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tryItBlock is a shell block of the README marked to be run.
var tryItBlock = regexp.MustCompile("(?s)<!-- try-it -->\n```sh\n(.*?)```\n")

// shellStep is one command of a README block and what it must print.
type shellStep struct {
	command string   // with its continuation lines
	want    []string // the "# " lines after it, without "# "
}

// parseShellBlock splits a block into commands, each followed by the
// comment lines showing its output.
func parseShellBlock(block string) []shellStep {
	var steps []shellStep
	lines := strings.Split(strings.TrimSuffix(block, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "#") {
			if len(steps) > 0 {
				steps[len(steps)-1].want = append(steps[len(steps)-1].want, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
			}
			continue
		}
		cmd := line
		for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i]
		}
		steps = append(steps, shellStep{command: cmd})
	}
	return steps
}

// outputPattern matches what a step shows: "…" stands for any text
// within a line.
func outputPattern(want []string) *regexp.Regexp {
	parts := strings.Split(strings.Join(want, "\n"), "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `[^\n]*?`) + `$`)
}

// TestREADMEShell runs the README's shell blocks as a newcomer would —
// against `idp serve` with the embedded store, from the directory it runs
// in, with `bin/idp` the binary — and fails when what a command prints
// differs from what the README shows under it.
func TestREADMEShell(t *testing.T) {
	needE2E(t)
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("IDP_TEST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
				t.Fatalf("%s not found: %v", tool, err)
			}
			t.Skipf("%s not found (%v); IDP_TEST_REQUIRE_INTEROP=1 makes this a failure", tool, err)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := tryItBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 2 {
		t.Fatalf("README has %d <!-- try-it --> blocks, want the Try it and the configuration ones", len(blocks))
	}

	// The repository's configs/idp.yaml in the working directory, as
	// after a clone; the server on a free port instead of 8080.
	addr := freeAddr(t)
	p := newProcess(t, "idp serve", childEnv(map[string]string{"IDP_HTTP_ADDR": addr}), bins.idp, "serve")
	dir := p.cmd.Dir
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "configs", "idp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configs", "idp.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bins.idp, filepath.Join(dir, "bin", "idp")); err != nil {
		t.Fatal(err)
	}
	p.start(t)
	waitReady(t, p, "http://"+addr+"/readyz", 60*time.Second)

	for bi, b := range blocks {
		steps := parseShellBlock(b[1])
		var script strings.Builder
		script.WriteString("exec 2>&1\n")
		for i, s := range steps {
			fmt.Fprintf(&script, "printf '@@step %d@@\\n'\n%s\n", i, strings.ReplaceAll(s.command, "localhost:8080", addr))
		}
		sh := exec.Command("bash", "--noprofile", "--norc", "-c", script.String())
		sh.Dir = dir
		sh.Env = childEnv(nil)
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("block %d: bash: %v\n%s", bi+1, err, out)
		}
		got := regexp.MustCompile(`(?m)^@@step \d+@@\n`).Split(string(out), -1)[1:]
		if len(got) != len(steps) {
			t.Fatalf("block %d: %d outputs for %d commands:\n%s", bi+1, len(got), len(steps), out)
		}
		for i, s := range steps {
			if got[i] != "" && !strings.HasSuffix(got[i], "\n") {
				t.Errorf("block %d, %s\n  output does not end with a newline: %q", bi+1, s.command, got[i])
			}
			if !outputPattern(s.want).MatchString(strings.TrimSuffix(got[i], "\n")) {
				t.Errorf("block %d: %s\n  README shows:\n%s\n  it printed:\n%s", bi+1, s.command,
					indent(strings.Join(s.want, "\n")), indent(strings.TrimSuffix(got[i], "\n")))
			}
		}
	}
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
