package clients

import (
	"net/url"
	"slices"
	"strings"

	"github.com/idp/idp/internal/storage"
)

// MatchRedirectURI reports whether raw is one of c's registered redirect
// URIs, compared as strings, exactly (RFC 6749 §3.1.2.3; no prefix, no
// wildcard, no normalisation). The one exception is RFC 8252 §7.3: for a
// public (native) client, an http redirect URI on a loopback IP literal
// (127.0.0.1 or [::1]) matches whatever its port, everything else exact.
func MatchRedirectURI(c storage.Client, raw string) bool {
	if slices.Contains(c.RedirectURIs, raw) {
		return true
	}
	if c.Type != storage.ClientPublic {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || !loopbackIP(u) {
		return false
	}
	for _, reg := range c.RedirectURIs {
		r, err := url.Parse(reg)
		if err != nil || !loopbackIP(r) {
			continue
		}
		if r.Hostname() == u.Hostname() && r.User == nil && u.User == nil && r.EscapedPath() == u.EscapedPath() &&
			r.RawQuery == u.RawQuery && r.ForceQuery == u.ForceQuery && !strings.Contains(raw, "#") {
			return true
		}
	}
	return false
}

func loopbackIP(u *url.URL) bool {
	h := u.Hostname()
	return u.Scheme == "http" && (h == "127.0.0.1" || h == "::1") && u.Opaque == ""
}
