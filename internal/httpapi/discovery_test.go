package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
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

// TestDiscoveryAdvertisesOnlyWhatIsMounted: no OAuth 2.0 grant or token
// endpoint is claimed for the tutorial API, and members contributed by
// other surfaces are merged in, winning over the API's own.
func TestDiscoveryAdvertisesOnlyWhatIsMounted(t *testing.T) {
	doc := func(t *testing.T, extra map[string]any) map[string]any {
		t.Helper()
		e := New(Options{Issuer: "https://idp.example.com", APIPrefix: "/api", AccessAlgorithms: []string{"RS256"}, Discovery: extra})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(rec.Body.Bytes(), []byte("}\n")) {
			t.Error("the document does not end with a newline")
		}
		return m
	}
	base := doc(t, nil)
	for _, k := range []string{"token_endpoint", "grant_types_supported", "token_endpoint_auth_methods_supported", "authorization_endpoint", "response_types_supported"} {
		if v, ok := base[k]; ok {
			t.Errorf("%s advertised without an OAuth 2.0 surface: %v", k, v)
		}
	}
	if claims, _ := base["claims_supported"].([]any); !slices.Contains(claims, any("sid")) {
		t.Errorf("claims_supported %v lacks sid", claims)
	}
	merged := doc(t, map[string]any{
		"token_endpoint":        "https://idp.example.com/oauth2/token",
		"grant_types_supported": []string{"client_credentials"},
		"jwks_uri":              "https://keys.example.com/jwks.json",
	})
	if merged["token_endpoint"] != "https://idp.example.com/oauth2/token" || merged["jwks_uri"] != "https://keys.example.com/jwks.json" {
		t.Errorf("extra members not merged over the API's: %v", merged)
	}
	if merged["token_obtain_pair_endpoint"] != "https://idp.example.com/api/token/" {
		t.Errorf("the API's own members lost: %v", merged)
	}
}
