package metrics

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules: metrics is imported only by internal/server, and no
// core package or surface depends on prometheus (DESIGN.md, import rules).
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "github.com/idp/idp/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/idp/idp/internal/metrics"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		pkg, imports, deps := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		for _, imp := range imports {
			if imp == self && pkg != "github.com/idp/idp/internal/server" {
				t.Errorf("%s imports internal/metrics; only internal/server may", pkg)
			}
		}
		core := false
		for _, c := range []string{"users", "tokens", "signer", "authn", "throttle", "clients", "storage", "httpapi", "config"} {
			if pkg == "github.com/idp/idp/internal/"+c || strings.HasPrefix(pkg, "github.com/idp/idp/internal/"+c+"/") {
				core = true
			}
		}
		if !core {
			continue
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/prometheus/") {
				t.Errorf("%s depends on %s: the core must not know prometheus", pkg, d)
				break
			}
		}
	}
}
