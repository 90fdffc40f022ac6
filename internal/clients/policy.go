package clients

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Grant types a client may be allowed (the ones /oauth2/token serves).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	// GrantAuthorizationCode is RFC 6749 §4.1 with OpenID Connect
	// (/oauth2/authorize, PKCE).
	GrantAuthorizationCode = "authorization_code"
)

// GrantTypes are the grant types idp implements.
var GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials, GrantPassword, GrantRefreshToken}

// Built-in scopes. openid and offline_access need a user: a
// client_credentials token never carries them.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// BuiltinScopes are always known; oauth2.scopes adds custom ones.
var BuiltinScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// userOnlyScope reports a scope that only a grant with a user may carry.
func userOnlyScope(s string) bool { return s == ScopeOpenID || s == ScopeOfflineAccess }

// Spec is what a client is registered or updated with.
type Spec struct {
	// ID is the client_id; empty on create: generated.
	ID                     string
	Name                   string
	Type                   string // storage.ClientConfidential or storage.ClientPublic
	GrantTypes             []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Scopes                 []string
	Audiences              []string
	AccessTTL              time.Duration
	RefreshTTL             time.Duration
	FirstParty             bool
}

func specOf(c storage.Client) Spec {
	return Spec{
		ID: c.ID, Name: c.Name, Type: c.Type,
		GrantTypes:             slices.Clone(c.GrantTypes),
		RedirectURIs:           slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		Scopes:                 slices.Clone(c.Scopes),
		Audiences:              slices.Clone(c.Audiences),
		AccessTTL:              c.AccessTTL, RefreshTTL: c.RefreshTTL, FirstParty: c.FirstParty,
	}
}

// ValidationError lists every problem of a Spec, one "field: message" each.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return "invalid client: " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Problems = append(e.Problems, field+": "+fmt.Sprintf(format, args...))
}

const (
	maxIDLen   = 128
	maxNameLen = 200
	maxListLen = 100
	maxTTL     = 365 * 24 * time.Hour
)

// validID: 1–128 of A–Z a–z 0–9 . _ ~ - (unreserved URI characters, so an
// id needs no escaping anywhere).
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

// ValidScopeToken: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// validate normalises s (dedups lists) and reports every problem.
func (r *Registry) validate(s *Spec) error {
	var e ValidationError
	if !validID(s.ID) {
		e.add("id", "%q: want 1-%d of A-Z a-z 0-9 . _ ~ -", s.ID, maxIDLen)
	}
	if len(s.Name) > maxNameLen || !utf8Text(s.Name) {
		e.add("name", "at most %d characters of text", maxNameLen)
	}
	switch s.Type {
	case storage.ClientConfidential, storage.ClientPublic:
	default:
		e.add("type", "%q: want confidential or public", s.Type)
	}
	for _, l := range []*[]string{&s.GrantTypes, &s.RedirectURIs, &s.PostLogoutRedirectURIs, &s.Scopes, &s.Audiences} {
		*l = dedup(*l)
	}
	for _, g := range s.GrantTypes {
		if !slices.Contains(GrantTypes, g) {
			e.add("grant", "%q: want one of %s", g, strings.Join(GrantTypes, ", "))
		}
	}
	if s.Type == storage.ClientPublic && slices.Contains(s.GrantTypes, GrantClientCredentials) {
		e.add("grant", "client_credentials needs a confidential client (RFC 6749 §4.4)")
	}
	if slices.Contains(s.GrantTypes, GrantPassword) && !s.FirstParty {
		e.add("grant", "password is for first-party clients only (--first-party)")
	}
	if slices.Contains(s.GrantTypes, GrantAuthorizationCode) && len(s.RedirectURIs) == 0 {
		e.add("redirect-uri", "authorization_code needs at least one redirect URI (--redirect-uri)")
	}
	for _, sc := range s.Scopes {
		if !r.knownScope(sc) {
			e.add("scope", "%q: not a built-in scope (%s) nor one of oauth2.scopes", sc, strings.Join(BuiltinScopes, ", "))
		}
	}
	for _, u := range s.RedirectURIs {
		if msg := redirectURIProblem(u); msg != "" {
			e.add("redirect-uri", "%q: %s", u, msg)
		}
	}
	for _, u := range s.PostLogoutRedirectURIs {
		if msg := redirectURIProblem(u); msg != "" {
			e.add("post-logout-redirect-uri", "%q: %s", u, msg)
		}
	}
	for _, a := range s.Audiences {
		if msg := resourceProblem(a); msg != "" {
			e.add("audience", "%q: %s", a, msg)
		}
	}
	for name, l := range map[string][]string{"grant": s.GrantTypes, "redirect-uri": s.RedirectURIs,
		"post-logout-redirect-uri": s.PostLogoutRedirectURIs, "scope": s.Scopes, "audience": s.Audiences} {
		if len(l) > maxListLen {
			e.add(name, "at most %d entries", maxListLen)
		}
	}
	if s.AccessTTL < 0 || s.AccessTTL > maxTTL {
		e.add("access-ttl", "%s: want 0 (the global lifetime) up to %s", s.AccessTTL, maxTTL)
	}
	if s.RefreshTTL < 0 || s.RefreshTTL > maxTTL {
		e.add("refresh-ttl", "%s: want 0 (the global lifetime) up to %s", s.RefreshTTL, maxTTL)
	}
	slices.Sort(e.Problems)
	if len(e.Problems) > 0 {
		return &e
	}
	return nil
}

func (r *Registry) knownScope(s string) bool {
	return slices.Contains(BuiltinScopes, s) || slices.Contains(r.custom, s)
}

// redirectURIProblem: an absolute URI without a fragment (RFC 6749
// §3.1.2); http only for loopback hosts (RFC 8252 §7.3); other schemes are
// private-use schemes of native apps and must contain a dot (§7.1).
func redirectURIProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !utf8Text(raw) || strings.ContainsAny(raw, " \t\r\n"):
		return "not a URI"
	case !u.IsAbs():
		return "not an absolute URI"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.Scheme == "https":
		if u.Host == "" {
			return "no host"
		}
	case u.Scheme == "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "http only for loopback hosts (localhost, 127.0.0.1, [::1]); use https"
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return "a private-use scheme must be a reversed domain name (RFC 8252 §7.1)"
		}
	}
	return ""
}

// resourceProblem: an audience is what RFC 8707's resource names, an
// absolute URI without a fragment.
func resourceProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !utf8Text(raw) || strings.ContainsAny(raw, " \t\r\n"):
		return "not a URI"
	case !u.IsAbs():
		return "not an absolute URI (RFC 8707 §2)"
	case strings.Contains(raw, "#"):
		return "must not have a fragment (RFC 8707 §2)"
	}
	return ""
}

func utf8Text(s string) bool {
	return strings.ToValidUTF8(s, "") == s && !strings.ContainsRune(s, 0)
}

func dedup(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Allows reports whether c may use the grant type.
func Allows(c storage.Client, grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// ScopeError is a requested scope the client may not have (RFC 6749
// invalid_scope).
type ScopeError struct{ Scope, Reason string }

func (e *ScopeError) Error() string { return fmt.Sprintf("scope %q: %s", e.Scope, e.Reason) }

// Scopes decides the scopes of a token: requested (already split) must
// each be allowed for c (and, without a user, not openid/offline_access);
// none requested: every allowed scope the grant may carry. within, when
// not nil, narrows further (a refresh may only narrow the original grant).
func (r *Registry) Scopes(c storage.Client, requested []string, withUser bool, within []string) ([]string, error) {
	allowed := func(s string) string {
		switch {
		case !r.knownScope(s):
			return "unknown scope"
		case !slices.Contains(c.Scopes, s):
			return "not allowed for this client"
		case !withUser && userOnlyScope(s):
			return "needs a user; not available with client_credentials"
		case within != nil && !slices.Contains(within, s):
			return "not in the original grant"
		}
		return ""
	}
	if len(requested) == 0 {
		if within != nil {
			return slices.Clone(within), nil
		}
		out := []string{}
		for _, s := range c.Scopes {
			if allowed(s) == "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if why := allowed(s); why != "" {
			return nil, &ScopeError{Scope: s, Reason: why}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// TargetError is a resource the client may not get a token for (RFC 8707
// invalid_target).
type TargetError struct{ Resource string }

func (e *TargetError) Error() string {
	return fmt.Sprintf("resource %q is not an audience of this client", e.Resource)
}

// Audience decides the aud of an access token: the RFC 8707 resources
// asked for, each one of c's audiences; none asked: all of c's audiences
// (possibly none: the caller falls back to the global audience).
func Audience(c storage.Client, resources []string) ([]string, error) {
	if len(resources) == 0 {
		return slices.Clone(c.Audiences), nil
	}
	out := make([]string, 0, len(resources))
	for _, res := range resources {
		if !slices.Contains(c.Audiences, res) {
			return nil, &TargetError{Resource: res}
		}
		if !slices.Contains(out, res) {
			out = append(out, res)
		}
	}
	return out, nil
}
