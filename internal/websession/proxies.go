package websession

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the peers (CIDRs, http.trusted_proxies) whose forwarding
// headers are believed. Empty: only the connection itself counts.
type Proxies []netip.Prefix

func (p Proxies) trusted(r *http.Request) bool {
	if len(p) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, pfx := range p {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// TLS reports whether r came over TLS: its own connection, or a trusted
// proxy's X-Forwarded-Proto: https or Forwarded: proto=https (RFC 7239;
// the first element, the one nearest the client).
func (p Proxies) TLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !p.trusted(r) {
		return false
	}
	if fwd := r.Header.Get("Forwarded"); fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		for _, pair := range strings.Split(first, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "proto") {
				return strings.EqualFold(strings.Trim(v, `"`), "https")
			}
		}
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// ClientIP is the peer address, or the first X-Forwarded-For hop when the
// peer is a trusted proxy (metadata only: never a security decision here).
func (p Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if p.trusted(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
				return a.String()
			}
		}
	}
	return host
}
