package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestDiscoveryGolden pins the discovery document served at
// /.well-known/openid-configuration (rewrite with -update).
func TestDiscoveryGolden(t *testing.T) {
	e := New(Options{Issuer: "https://idp.example.com/", APIPrefix: "/api", AccessAlgorithms: []string{"RS256"}})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, "openid-configuration.golden.json", pretty.String()+"\n")
}
