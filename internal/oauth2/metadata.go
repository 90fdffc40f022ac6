package oauth2

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// authMethods are the client authentication methods of the token and
// revocation endpoints; introspection takes confidential clients only.
var (
	authMethods           = []string{"client_secret_basic", "client_secret_post", "none"}
	introspectAuthMethods = []string{"client_secret_basic", "client_secret_post"}
)

// Metadata is what idp's OAuth 2.0 surface adds to a metadata document
// (RFC 8414 §2): only what works.
func (s *surface) Metadata() map[string]any {
	grants := make([]string, 0, len(s.grants))
	for g := range s.grants {
		grants = append(grants, g)
	}
	slices.Sort(grants)
	m := map[string]any{
		"token_endpoint":                                s.issuer + "/oauth2/token",
		"token_endpoint_auth_methods_supported":         authMethods,
		"introspection_endpoint":                        s.issuer + "/oauth2/introspect",
		"introspection_endpoint_auth_methods_supported": introspectAuthMethods,
		"revocation_endpoint":                           s.issuer + "/oauth2/revoke",
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"grant_types_supported":                         grants,
		"scopes_supported":                              s.clients.KnownScopes(),
		// No authorization endpoint: no response types.
		"response_types_supported": []string{},
	}
	if s.oidc.Flow != nil {
		m["authorization_endpoint"] = s.issuer + "/oauth2/authorize"
		m["response_types_supported"] = []string{"code"}
		m["response_modes_supported"] = []string{"query", "form_post"}
		m["code_challenge_methods_supported"] = []string{"S256"}
		m["authorization_response_iss_parameter_supported"] = true
		m["userinfo_endpoint"] = s.issuer + "/oauth2/userinfo"
		m["id_token_signing_alg_values_supported"] = []string{"RS256"}
		m["subject_types_supported"] = []string{"public"}
		m["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp",
			"email", "email_verified", "name"}
		m["prompt_values_supported"] = []string{"none", "login", "consent", "select_account"}
		m["request_parameter_supported"] = false
		m["request_uri_parameter_supported"] = false
		m["claims_parameter_supported"] = false
		if s.oidc.EndSessionPath != "" {
			m["end_session_endpoint"] = s.issuer + s.oidc.EndSessionPath
		}
	}
	return m
}

func (s *surface) metadataDocument(issuer string) []byte {
	doc := s.Metadata()
	doc["issuer"] = issuer
	doc["jwks_uri"] = s.issuer + "/.well-known/jwks.json"
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // static types: cannot happen
	}
	return append(b, '\n') // like every JSON body of idp
}

// metadataPath is where RFC 8414 §3.1 puts the document: the well-known
// suffix inserted before the issuer's path.
func metadataPath(issuer string) string {
	p := ""
	if u, err := url.Parse(issuer); err == nil {
		p = strings.TrimSuffix(u.Path, "/")
	}
	return "/.well-known/oauth-authorization-server" + p
}

// GET /.well-known/oauth-authorization-server
func (s *surface) serveMetadata(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", s.metadata)
}
