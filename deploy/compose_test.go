package deploy

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

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
