package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// image is what the Dockerfile says about the final stage.
type image struct {
	stages      int
	base        string
	user        string
	env         map[string]string
	expose      []int
	healthcheck []string
	entrypoint  []string
	cmd         []string
	copies      map[string]string // destination → source
}

var instruction = regexp.MustCompile(`^(\w+)\s+(.*)$`)

func parseDockerfile(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines.
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	img := image{env: map[string]string{}, copies: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := instruction.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("Dockerfile: cannot parse %q", line)
		}
		op, arg := strings.ToUpper(m[1]), strings.TrimSpace(m[2])
		switch op {
		case "FROM":
			img.stages++
			img.base = strings.Fields(arg)[0]
			img.user, img.env, img.expose, img.copies = "", map[string]string{}, nil, map[string]string{}
		case "USER":
			img.user = arg
		case "ENV":
			for _, kv := range strings.Fields(arg) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %q: use KEY=value", arg)
				}
				img.env[k] = v
			}
		case "EXPOSE":
			for _, p := range strings.Fields(arg) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				if err != nil {
					t.Fatalf("Dockerfile: EXPOSE %q", p)
				}
				img.expose = append(img.expose, n)
			}
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(arg, "CMD ")
			if !ok {
				t.Fatalf("Dockerfile: HEALTHCHECK without CMD: %q", arg)
			}
			img.healthcheck = jsonArray(t, cmd)
		case "ENTRYPOINT":
			img.entrypoint = jsonArray(t, arg)
		case "CMD":
			img.cmd = jsonArray(t, arg)
		case "COPY":
			f := strings.Fields(arg)
			if !strings.HasPrefix(f[0], "--from") {
				img.copies[f[len(f)-1]] = f[0]
			}
		}
	}
	return img
}

// jsonArray decodes the exec form ["a", "b"] (the shell form is refused:
// distroless has no shell).
func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	if err := yaml.Unmarshal([]byte(s), &out); err != nil || !strings.HasPrefix(strings.TrimSpace(s), "[") {
		t.Fatalf("Dockerfile: %q is not an exec-form array (distroless has no shell)", s)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	img := parseDockerfile(t)
	if img.stages < 2 {
		t.Errorf("Dockerfile has %d stage(s), want a multi-stage build", img.stages)
	}
	if !strings.HasPrefix(img.base, "gcr.io/distroless/static") && img.base != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", img.base)
	}
	if !nonRoot(img.user) {
		t.Errorf("final stage USER %q, want a non-root user", img.user)
	}
	if src := img.copies[img.env["IDP_CONFIG"]]; src != "configs/idp.yaml" {
		t.Errorf("IDP_CONFIG=%s is not a copy of configs/idp.yaml (%q)", img.env["IDP_CONFIG"], src)
	}
	env := map[string]string{"IDP_KEYS_ENCRYPTION_KEYS_FILE": kekFile(t), "IDP_TOKENS_ISSUER": "https://idp.example.com",
		"IDP_DATABASE_URL": "postgres://idp@db:5432/idp"}
	for k, v := range img.env {
		env[k] = v
	}
	cfg := checkConfig(t, "Dockerfile ENV", env)
	if !slices.Contains(img.expose, port(t, "IDP_HTTP_ADDR", cfg.HTTP.Addr)) {
		t.Errorf("EXPOSE %v lacks the http.addr port of %s", img.expose, cfg.HTTP.Addr)
	}

	bin := idpBinary(t)
	cmds := commands(t, bin)
	if len(img.entrypoint) != 1 || img.entrypoint[0] != "/usr/local/bin/idp" || len(img.cmd) == 0 || !slices.Contains(cmds, img.cmd[0]) {
		t.Errorf("ENTRYPOINT %v CMD %v: want the idp binary and one of its commands %v", img.entrypoint, img.cmd, cmds)
	}
	// The HEALTHCHECK, run as written against a server answering where the
	// image's http.addr points: it must pass, and fail once that is gone.
	if len(img.healthcheck) < 2 || img.healthcheck[0] != img.entrypoint[0] {
		t.Fatalf("HEALTHCHECK %v does not run the binary itself", img.healthcheck)
	}
	var probed []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probed = append(probed, r.URL.Path)
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	run := func() error {
		c := exec.Command(bin, img.healthcheck[1:]...)
		c.Env = []string{"IDP_HTTP_ADDR=" + strings.Replace(ts.Listener.Addr().String(), "127.0.0.1", "0.0.0.0", 1)}
		for k, v := range env {
			if k != "IDP_HTTP_ADDR" && k != "IDP_CONFIG" {
				c.Env = append(c.Env, k+"="+v)
			}
		}
		c.Env = append(c.Env, "IDP_CONFIG=../configs/idp.yaml")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			return errors.New(err.Error() + ": " + out.String())
		}
		return nil
	}
	if err := run(); err != nil {
		t.Errorf("HEALTHCHECK %v against a healthy server: %v", img.healthcheck, err)
	}
	if !slices.Equal(probed, []string{"/healthz"}) {
		t.Errorf("HEALTHCHECK probed %v, want /healthz", probed)
	}
	ts.Close()
	if err := run(); err == nil {
		t.Error("HEALTHCHECK passed with nothing serving")
	}
}
