// Package deploy holds idp's deployment artefacts (Dockerfile, Compose
// file, Kubernetes manifests) and the test that checks them against the
// program, since Docker and a cluster are not at hand: every IDP_*
// variable they set is a configuration key and the configuration they
// give is valid, probes and ports match the addresses idp listens on, the
// commands they run exist, the image and pods run as non-root.
package deploy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idp/idp/internal/config"
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

// expandCompose resolves ${VAR:-default} and ${VAR:?msg} as Compose does
// with an empty environment (defaults; required ones get a placeholder).
var composeVar = regexp.MustCompile(`\$\{(\w+)(:?[-?])([^}]*)\}`)

func expandCompose(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		p := composeVar.FindStringSubmatch(m)
		if strings.HasSuffix(p[2], "-") {
			return p[3]
		}
		return "required-" + p[1]
	})
}

func TestCompose(t *testing.T) {
	img := parseDockerfile(t)
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Build       *struct{ Dockerfile string } `yaml:"build"`
			Image       string                       `yaml:"image"`
			Command     []string                     `yaml:"command"`
			Environment map[string]string            `yaml:"environment"`
			Ports       []string                     `yaml:"ports"`
			Secrets     []string                     `yaml:"secrets"`
			ReadOnly    bool                         `yaml:"read_only"`
			CapDrop     []string                     `yaml:"cap_drop"`
			User        string                       `yaml:"user"`
		} `yaml:"services"`
		Secrets map[string]struct{ File string } `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	bin := idpBinary(t)
	cmds := commands(t, bin)
	servers := 0
	for name, s := range doc.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: builds %q, want deploy/Dockerfile", name, s.Build.Dockerfile)
		}
		if s.User != "" && !nonRoot(s.User) {
			t.Errorf("%s: user %q", name, s.User)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: want read_only: true and cap_drop: [ALL]", name)
		}
		env := map[string]string{}
		for k, v := range img.env {
			env[k] = v
		}
		for k, v := range s.Environment {
			env[k] = expandCompose(v)
		}
		// Secrets are mounted at /run/secrets/<name>.
		for _, sec := range s.Secrets {
			if _, ok := doc.Secrets[sec]; !ok {
				t.Errorf("%s: secret %q is not defined", name, sec)
			}
			for k, v := range env {
				if v == "/run/secrets/"+sec {
					env[k] = kekFile(t)
				}
			}
		}
		if strings.HasPrefix(env["IDP_KEYS_ENCRYPTION_KEYS_FILE"], "/run/secrets/") {
			t.Errorf("%s: IDP_KEYS_ENCRYPTION_KEYS_FILE names a secret the service does not mount", name)
		}
		if _, ok := env["IDP_KEYS_ENCRYPTION_KEY"]; ok {
			t.Errorf("%s: the KEK is an environment variable; use the secret file", name)
		}
		cfg := checkConfig(t, "docker-compose.yml service "+name, env)
		if u := cfg.Database.URL; u != "" {
			host := strings.TrimPrefix(regexp.MustCompile(`@([^:/]+)`).FindString(u), "@")
			if _, ok := doc.Services[host]; !ok {
				t.Errorf("%s: database host %q is no service", name, host)
			}
		}
		command := img.cmd
		if len(s.Command) > 0 {
			command = s.Command
		}
		if !slices.Contains(cmds, command[0]) {
			t.Errorf("%s: command %v is not an idp command (%v)", name, command, cmds)
		}
		if command[0] != "serve" {
			continue
		}
		servers++
		want := map[int]bool{port(t, "http.addr", cfg.HTTP.Addr): false}
		if cfg.Metrics.Addr != "" {
			want[port(t, "metrics.addr", cfg.Metrics.Addr)] = false
		}
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			n, _ := strconv.Atoi(parts[len(parts)-1])
			if _, ok := want[n]; !ok {
				t.Errorf("%s: publishes container port %d, which idp does not listen on", name, n)
			}
			want[n] = true
		}
		for p, ok := range want {
			if !ok {
				t.Errorf("%s: container port %d is not published", name, p)
			}
		}
	}
	if servers < 2 {
		t.Errorf("docker-compose.yml runs %d idp servers, want 2", servers)
	}
	if _, ok := doc.Services["postgres"]; !ok {
		t.Error("docker-compose.yml has no postgres service")
	}
}

// k8s is the part of the Kubernetes objects the test reads.
type k8s struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas       int `yaml:"replicas"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		MinAvailable   any `yaml:"minAvailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		// Service
		Ports []struct {
			Name       string `yaml:"name"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Volumes []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct{ Key, Path string }
		} `yaml:"secret"`
	} `yaml:"volumes"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

func readK8s(t *testing.T) (objs []k8s, selectors map[string]map[string]string) {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	selectors = map[string]map[string]string{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var node yaml.Node
			if err := dec.Decode(&node); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var o k8s
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "Service" {
				var svc struct {
					Spec struct {
						Selector map[string]string `yaml:"selector"`
					} `yaml:"spec"`
				}
				_ = node.Decode(&svc)
				selectors[o.Metadata.Name] = svc.Spec.Selector
			}
			objs = append(objs, o)
		}
	}
	return objs, selectors
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	img := parseDockerfile(t)
	objs, selectors := readK8s(t)
	byKind := map[string][]k8s{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "Secret"} {
		if len(byKind[kind]) == 0 {
			t.Fatalf("deploy/kubernetes has no %s", kind)
		}
	}
	secrets := map[string]map[string]string{}
	for _, s := range byKind["Secret"] {
		secrets[s.Metadata.Name] = s.StringData
		for k, v := range s.StringData {
			if !strings.Contains(v, "REPLACE-ME") {
				t.Errorf("Secret %s key %s holds a value, not a placeholder: never commit secrets", s.Metadata.Name, k)
			}
		}
	}
	bin := idpBinary(t)
	cmds := commands(t, bin)
	d := byKind["Deployment"][0]
	pod := d.Spec.Template.Spec
	labels := d.Spec.Template.Metadata.Labels
	if d.Spec.Replicas != 3 {
		t.Errorf("Deployment replicas %d, want 3", d.Spec.Replicas)
	}
	if !subset(d.Spec.Selector.MatchLabels, labels) {
		t.Errorf("Deployment selector %v does not match its pods %v", d.Spec.Selector.MatchLabels, labels)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Error("pod securityContext: want runAsNonRoot and a non-zero runAsUser")
	}
	if len(pod.InitContainers) == 0 || !slices.Equal(pod.InitContainers[0].Args, []string{"migrate"}) {
		t.Error("no init container running `idp migrate`")
	}
	for _, pdb := range byKind["PodDisruptionBudget"] {
		if !subset(pdb.Spec.Selector.MatchLabels, labels) {
			t.Errorf("PodDisruptionBudget %s selects no idp pod", pdb.Metadata.Name)
		}
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %s bounds nothing", pdb.Metadata.Name)
		}
	}

	var cfg config.Config
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		where := "container " + c.Name
		if len(c.Args) == 0 || !slices.Contains(cmds, c.Args[0]) {
			t.Errorf("%s: args %v: not an idp command (%v)", where, c.Args, cmds)
		}
		sc := c.SecurityContext
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: securityContext: want allowPrivilegeEscalation false, readOnlyRootFilesystem, drop ALL", where)
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
			t.Errorf("%s: resources: want cpu and memory requests and a memory limit", where)
		}
		env := map[string]string{}
		for k, v := range img.env {
			env[k] = v
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				v, ok := secrets[ref.Name][ref.Key]
				if !ok {
					t.Errorf("%s: %s refers to secret %s key %s, which the Secret lacks", where, e.Name, ref.Name, ref.Key)
				}
				env[e.Name] = strings.ReplaceAll(v, "REPLACE-ME", "x")
			default:
				env[e.Name] = e.Value
			}
		}
		if _, ok := env["IDP_KEYS_ENCRYPTION_KEY"]; ok {
			t.Errorf("%s: the KEK is an environment variable; mount the Secret as a file", where)
		}
		// The KEK file must lie in a mounted volume of the Secret's kek key.
		if f := env["IDP_KEYS_ENCRYPTION_KEYS_FILE"]; f != "" {
			found := false
			for _, m := range c.VolumeMounts {
				for _, v := range pod.Volumes {
					if v.Name != m.Name || v.Secret == nil {
						continue
					}
					for _, it := range v.Secret.Items {
						if filepath.Join(m.MountPath, it.Path) == f {
							if _, ok := secrets[v.Secret.SecretName][it.Key]; ok {
								found = true
							}
						}
					}
				}
			}
			if !found {
				t.Errorf("%s: IDP_KEYS_ENCRYPTION_KEYS_FILE=%s is not a mounted key of the Secret", where, f)
			}
			env["IDP_KEYS_ENCRYPTION_KEYS_FILE"] = kekFile(t)
		}
		cfg = checkConfig(t, where, env)
		if c.Args[0] != "serve" {
			continue
		}
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		resolve := func(p any) int {
			switch v := p.(type) {
			case int:
				return v
			case string:
				return ports[v]
			}
			return 0
		}
		httpPort := port(t, "http.addr", cfg.HTTP.Addr)
		for _, pr := range []struct {
			name string
			p    *probe
			path string
		}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"startupProbe", c.StartupProbe, "/healthz"}} {
			if pr.p == nil || pr.p.HTTPGet == nil {
				if pr.name != "startupProbe" {
					t.Errorf("%s: no %s", where, pr.name)
				}
				continue
			}
			if pr.p.HTTPGet.Path != pr.path || resolve(pr.p.HTTPGet.Port) != httpPort {
				t.Errorf("%s: %s GET %s on port %v, want %s on %d (http.addr %s)", where, pr.name, pr.p.HTTPGet.Path, pr.p.HTTPGet.Port, pr.path, httpPort, cfg.HTTP.Addr)
			}
		}
		if cfg.Metrics.Addr != "" {
			mp := port(t, "metrics.addr", cfg.Metrics.Addr)
			if ports["metrics"] != mp {
				t.Errorf("%s: container port metrics %d, metrics.addr %s", where, ports["metrics"], cfg.Metrics.Addr)
			}
			if a := d.Spec.Template.Metadata.Annotations["prometheus.io/port"]; a != "" && a != strconv.Itoa(mp) {
				t.Errorf("prometheus.io/port %s, metrics.addr %s", a, cfg.Metrics.Addr)
			}
		}
		// Every Service reaches a port idp listens on.
		for _, svc := range byKind["Service"] {
			if !subset(selectors[svc.Metadata.Name], labels) {
				t.Errorf("Service %s selects no idp pod", svc.Metadata.Name)
			}
			for _, p := range svc.Spec.Ports {
				if n := resolve(p.TargetPort); n == 0 || (n != httpPort && cfg.Metrics.Addr != "" && n != port(t, "metrics.addr", cfg.Metrics.Addr)) {
					t.Errorf("Service %s port %s targets %v, no port idp listens on", svc.Metadata.Name, p.Name, p.TargetPort)
				}
			}
		}
		if g := pod.TerminationGracePeriodSeconds; g > 0 && float64(g) < cfg.HTTP.ShutdownTimeout.Seconds()+5 {
			t.Errorf("terminationGracePeriodSeconds %d is shorter than preStop + http.shutdown_timeout (%s)", g, cfg.HTTP.ShutdownTimeout)
		}
	}
}

// TestKubernetesSchemas validates every manifest against the Kubernetes
// API schemas (npm kubernetes-models, installed by `make deploy-deps` into
// .cache/npm; no network at test time).
func TestKubernetesSchemas(t *testing.T) {
	mods, _ := filepath.Abs("../.cache/npm/node_modules")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(mods, "kubernetes-models/package.json")); err != nil || serr != nil {
		msg := "node or kubernetes-models in .cache/npm missing (make deploy-deps)"
		if os.Getenv("IDP_TEST_REQUIRE_INTEROP") == "1" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	var objs []any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o map[string]any
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs = append(objs, o)
		}
	}
	in, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	// The script resolves kubernetes-models from its own folder: run a
	// copy beside the modules.
	dir := t.TempDir()
	script, _ := os.ReadFile("testdata/k8s_validate.mjs")
	if err := os.WriteFile(filepath.Join(dir, "k8s_validate.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mods, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "k8s_validate.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Kubernetes schema validation failed: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
