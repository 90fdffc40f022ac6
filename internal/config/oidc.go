package config

import (
	"strings"
	"time"
)

// OIDC configures OpenID Connect: the authorization endpoint, the hosted
// login pages and the browser (SSO) session. (Its own block: login: is
// the login throttle's.)
type OIDC struct {
	// ProductName is shown on the hosted login pages.
	ProductName string `mapstructure:"product_name"`
	// CodeTTL is how long an authorization code may be redeemed.
	CodeTTL time.Duration `mapstructure:"code_ttl"`
	// RequestTTL is how long a user has to sign in once an application
	// sent them to /oauth2/authorize.
	RequestTTL time.Duration `mapstructure:"request_ttl"`
	// IDTokenTTL is the lifetime of ID tokens.
	IDTokenTTL time.Duration `mapstructure:"id_token_ttl"`
	// SessionCookie is the name of the browser session cookie.
	SessionCookie string `mapstructure:"session_cookie"`
	// SessionIdleTimeout ends an SSO session unused that long;
	// SessionLifetime ends it that long after sign-in whatever the use.
	SessionIdleTimeout time.Duration `mapstructure:"session_idle_timeout"`
	SessionLifetime    time.Duration `mapstructure:"session_lifetime"`
}

func defaultOIDC() OIDC {
	return OIDC{ProductName: "idp", CodeTTL: time.Minute, RequestTTL: 10 * time.Minute, IDTokenTTL: time.Hour,
		SessionCookie: "idp_session", SessionIdleTimeout: 8 * time.Hour, SessionLifetime: 24 * time.Hour}
}

func (o OIDC) validate(bad func(key string, value any, format string, args ...any)) {
	if strings.TrimSpace(o.ProductName) == "" || len(o.ProductName) > 100 {
		bad("oidc.product_name", o.ProductName, "must be 1-100 characters")
	}
	if o.CodeTTL < 10*time.Second || o.CodeTTL > 10*time.Minute {
		bad("oidc.code_ttl", o.CodeTTL, "must be between 10s and 10m (RFC 6749 §4.1.2: short-lived)")
	}
	if o.RequestTTL < time.Minute || o.RequestTTL > time.Hour {
		bad("oidc.request_ttl", o.RequestTTL, "must be between 1m and 1h")
	}
	if o.IDTokenTTL < time.Minute || o.IDTokenTTL > 24*time.Hour {
		bad("oidc.id_token_ttl", o.IDTokenTTL, "must be between 1m and 24h")
	}
	if !cookieName(o.SessionCookie) {
		bad("oidc.session_cookie", o.SessionCookie, "not a cookie name (letters, digits, - and _)")
	}
	if o.SessionIdleTimeout < time.Minute {
		bad("oidc.session_idle_timeout", o.SessionIdleTimeout, "must be at least 1m")
	}
	if o.SessionLifetime < o.SessionIdleTimeout || o.SessionLifetime > 90*24*time.Hour {
		bad("oidc.session_lifetime", o.SessionLifetime, "must be between oidc.session_idle_timeout and 2160h")
	}
}

func cookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
