package config

import (
	"fmt"
	"slices"
	"time"
)

// OAuth2 configures the OAuth 2.0 surface (/oauth2/*) and its client
// registry (`idp clients …`).
type OAuth2 struct {
	// Scopes are the custom scopes clients may be allowed, besides the
	// built-in openid, profile, email and offline_access.
	Scopes []string `mapstructure:"scopes"`
	// SecretOverlap is how long a client's previous secret keeps working
	// after `idp clients rotate-secret` (unless --overlap says otherwise).
	SecretOverlap time.Duration `mapstructure:"secret_overlap"`
	// ClientCacheTTL is how long an instance may reuse a client record it
	// read to authenticate the client; 0 reads it on every request.
	ClientCacheTTL time.Duration `mapstructure:"client_cache_ttl"`
}

// defaultOAuth2 is the oauth2 block of Default.
func defaultOAuth2() OAuth2 {
	return OAuth2{Scopes: []string{}, SecretOverlap: 24 * time.Hour, ClientCacheTTL: time.Second}
}

var builtinScopes = []string{"openid", "profile", "email", "offline_access"}

// validate reports the oauth2 block's problems through bad.
func (o OAuth2) validate(bad func(key string, value any, format string, args ...any)) {
	for i, s := range o.Scopes {
		key := fmt.Sprintf("oauth2.scopes[%d]", i)
		switch {
		case !scopeToken(s):
			bad(key, s, "not an RFC 6749 scope token (printable ASCII without space, \" or \\)")
		case slices.Contains(builtinScopes, s):
			bad(key, s, "a built-in scope; list only custom ones")
		case slices.Index(o.Scopes, s) != i:
			bad(key, s, "listed twice")
		}
	}
	if o.SecretOverlap < 0 || o.SecretOverlap > 30*24*time.Hour {
		bad("oauth2.secret_overlap", o.SecretOverlap, "must be between 0s and 720h")
	}
	if o.ClientCacheTTL < 0 || o.ClientCacheTTL > time.Minute {
		bad("oauth2.client_cache_ttl", o.ClientCacheTTL, "must be between 0s and 1m")
	}
}

func scopeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}
