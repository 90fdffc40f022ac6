package clients_test

import (
	"testing"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
)

func TestMatchRedirectURI(t *testing.T) {
	web := storage.Client{Type: storage.ClientConfidential, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:8000/cb"}}
	native := storage.Client{Type: storage.ClientPublic, RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:9/cb?x=1", "com.example.app:/cb", "http://localhost:3000/cb"}}
	for _, tc := range []struct {
		name string
		c    storage.Client
		uri  string
		want bool
	}{
		{"exact", web, "https://app.example/cb", true},
		{"extra-path", web, "https://app.example/cb/x", false},
		{"extra-query", web, "https://app.example/cb?a=1", false},
		{"trailing-slash", web, "https://app.example/cb/", false},
		{"case", web, "https://APP.example/cb", false},
		{"userinfo", web, "https://x@app.example/cb", false},
		{"fragment", web, "https://app.example/cb#x", false},
		{"confidential-loopback-other-port", web, "http://127.0.0.1:8001/cb", false},
		{"native-loopback-any-port", native, "http://127.0.0.1:51004/cb", true},
		{"native-loopback-no-port", native, "http://127.0.0.1/cb", true},
		{"native-ipv6-any-port-same-query", native, "http://[::1]:4242/cb?x=1", true},
		{"native-ipv6-other-query", native, "http://[::1]:4242/cb?x=2", false},
		{"native-loopback-other-path", native, "http://127.0.0.1:5000/other", false},
		{"native-loopback-userinfo", native, "http://u@127.0.0.1:5000/cb", false},
		{"native-localhost-exact-only", native, "http://localhost:3001/cb", false},
		{"native-private-scheme", native, "com.example.app:/cb", true},
		{"native-other-ip", native, "http://127.0.0.2:5000/cb", false},
		{"javascript", web, "javascript:alert(1)", false},
	} {
		if got := clients.MatchRedirectURI(tc.c, tc.uri); got != tc.want {
			t.Errorf("%s: MatchRedirectURI(%q) = %v", tc.name, tc.uri, got)
		}
	}
}
