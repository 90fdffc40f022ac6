package login_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The surfaces never import each other, and the OIDC core knows no HTTP
// (DESIGN.md "Import rules").
func TestLayering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for pkg, banned := range map[string][]string{
		"github.com/idp/idp/internal/login":     {"github.com/idp/idp/internal/oauth2", "github.com/idp/idp/internal/httpapi", "github.com/idp/idp/internal/config"},
		"github.com/idp/idp/internal/oauth2":    {"github.com/idp/idp/internal/login", "github.com/idp/idp/internal/httpapi", "github.com/idp/idp/internal/config"},
		"github.com/idp/idp/internal/authorize": {"net/http", "github.com/labstack/echo/v4", "html/template", "github.com/idp/idp/internal/config"},
		"github.com/idp/idp/internal/websession": {"github.com/labstack/echo/v4", "github.com/idp/idp/internal/config",
			"github.com/idp/idp/internal/oauth2", "github.com/idp/idp/internal/login"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range banned {
			for _, d := range deps {
				if d == b {
					t.Errorf("%s imports %s", pkg, b)
				}
			}
		}
	}
}
