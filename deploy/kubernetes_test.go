package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/idp/idp/internal/config"
)

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
