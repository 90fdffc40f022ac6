// Package deploy holds idp's deployment artefacts (Dockerfile, Compose
// file, Kubernetes manifests) and the test that checks them against the
// program, since Docker and a cluster are not at hand: every IDP_*
// variable they set is a configuration key and the configuration they
// give is valid, probes and ports match the addresses idp listens on, the
// commands they run exist, the image and pods run as non-root.
package deploy

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/idp/idp/internal/config"
)

// idpBinary builds cmd/idp once per test run.
func idpBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idp")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/idp/idp/cmd/idp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build idp: %v\n%s", err, out)
	}
	return bin
}

// commands lists idp's subcommands, from its --help.
func commands(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			cmds = append(cmds, strings.Fields(line)[0])
		}
	}
	return cmds
}

// kekFile writes a fresh KEK where a mounted secret would be.
func kekFile(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	p := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkConfig loads the configuration a container would get from env (the
// image's, overridden by the manifest's) and fails on any problem: an
// IDP_* variable naming no key, a bad value, a missing production setting.
func checkConfig(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	var environ []string
	for k, v := range env {
		if k == "IDP_CONFIG" {
			continue // the image's copy of configs/idp.yaml: read from the repo
		}
		if strings.HasPrefix(k, "IDP_") {
			environ = append(environ, k+"="+v)
		}
	}
	cfg, err := config.LoadValid(config.Sources{File: "../configs/idp.yaml", Environ: environ})
	if err != nil {
		t.Fatalf("%s: the configuration it gives idp is refused:\n%v", where, err)
	}
	return cfg
}

func port(t *testing.T, where, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("%s: address %q has no port", where, addr)
	}
	return n
}

func nonRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name != "" && name != "root" && name != "0"
}
