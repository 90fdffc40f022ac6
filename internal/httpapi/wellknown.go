package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// metadata is DRF's answer to OPTIONS (SimpleMetadata).
type metadata struct {
	Name        string                            `json:"name"`
	Description string                            `json:"description"`
	Renders     []string                          `json:"renders"`
	Parses      []string                          `json:"parses"`
	Actions     map[string]map[string]fieldSchema `json:"actions,omitempty"`
}

type fieldSchema struct {
	Type     string `json:"type"`
	Required bool   `json:"required"`
	ReadOnly bool   `json:"read_only"`
	Label    string `json:"label"`
}

var (
	renders = []string{"application/json"}
	parses  = []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}

	metaRegister = metadata{Name: "Register", Description: "Creates an account from a name, an email and a password.", Renders: renders, Parses: parses}
	metaToken    = metadata{
		Name:        "Token Obtain Pair",
		Description: "Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.",
		Renders:     renders, Parses: parses,
		Actions: map[string]map[string]fieldSchema{"POST": {
			"email":    {Type: "string", Required: true, Label: "Email"},
			"password": {Type: "string", Required: true, Label: "Password"},
		}},
	}
	metaRefresh = metadata{
		Name:        "Token Refresh",
		Description: "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
		Renders:     renders, Parses: parses,
		Actions: map[string]map[string]fieldSchema{"POST": {
			"refresh": {Type: "string", Required: true, Label: "Refresh"},
		}},
	}
	metaVerify = metadata{
		Name:        "Token Verify",
		Description: "Takes a token and indicates if it is valid.  This view provides no\ninformation about a token's fitness for a particular use.",
		Renders:     renders, Parses: parses,
		Actions: map[string]map[string]fieldSchema{"POST": {
			"token": {Type: "string", Required: true, Label: "Token"},
		}},
	}
	metaLoggedUser = metadata{Name: "Logged User", Description: "The authenticated user.", Renders: renders, Parses: parses}
)

// GET /.well-known/jwks.json — pre-rendered by the signer; conditional
// requests answer 304.
func (a *api) jwks(c echo.Context) error {
	doc := a.keys.JWKS()
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age="+a.jwksMaxAge+", must-revalidate")
	h.Set("ETag", doc.ETag)
	if etagMatches(c.Request().Header.Get("If-None-Match"), doc.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	// The signer's bytes are shared: copy them to add the newline every
	// JSON answer ends with.
	return c.Blob(http.StatusOK, mimeJSON, append(doc.Body[:len(doc.Body):len(doc.Body)], '\n'))
}

// etagMatches implements If-None-Match's weak comparison over a list
// (RFC 9110 §13.1.2). idp's ETags never contain commas.
func etagMatches(header, etag string) bool {
	if header == "" || etag == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// discoveryDocument describes idp to clients and resource servers
// (RFC 8414 authorization-server metadata, served at OpenID Connect's
// discovery path where verifiers look for jwks_uri). It advertises only
// what is mounted: this package's endpoints under descriptive names —
// the tutorial's token/ takes email and password, not RFC 6749 forms, so
// it is no token_endpoint and no grant type is claimed — plus the members
// other surfaces contribute (extra: e.g. /oauth2's token_endpoint and
// grant_types_supported), which win over the API's own of the same name.
func discoveryDocument(issuer, prefix string, accessAlgs []string, userIDClaim string, extra map[string]any) []byte {
	base := strings.TrimSuffix(issuer, "/")
	api := base + prefix
	doc := map[string]any{
		"issuer":                                    issuer, // exactly the tokens' iss (RFC 8414 §3.3)
		"jwks_uri":                                  base + "/.well-known/jwks.json",
		"token_obtain_pair_endpoint":                api + "/token/",
		"token_refresh_endpoint":                    api + "/token/refresh/",
		"token_verify_endpoint":                     api + "/token/verify/",
		"token_blacklist_endpoint":                  api + "/token/blacklist/",
		"user_registration_endpoint":                api + "/register/",
		"logged_user_endpoint":                      api + "/logged-user/",
		"access_token_signing_alg_values_supported": slices.Compact(slices.Clone(accessAlgs)),
		"claims_supported":                          []string{"iss", "sub", "aud", "exp", "iat", "jti", "token_type", userIDClaim, "email", "sid"},
	}
	for k, v := range extra {
		doc[k] = v
	}
	b, err := json.Marshal(doc) // members in key order: a stable document
	if err != nil {
		panic(fmt.Sprintf("discovery document: %v", err)) // the values are the caller's static metadata
	}
	return append(b, '\n')
}

// GET /.well-known/openid-configuration
func (a *api) openIDConfiguration(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age="+a.jwksMaxAge)
	return c.Blob(http.StatusOK, mimeJSON, a.discovery)
}

// GET /healthz — the process is alive.
func (a *api) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// GET /readyz — the database answers and keys are loaded.
func (a *api) readyz(c echo.Context) error {
	if a.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			return &Error{Status: http.StatusServiceUnavailable, Body: map[string]string{"status": "unavailable", "detail": msgUnavailable}, Cause: err}
		}
	}
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}
