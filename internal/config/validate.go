package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole configuration and returns every problem at
// once as *Problems, each naming the key and quoting the bad value (secrets
// excepted), or nil.
func (c Config) Validate() error {
	var p []string
	bad := func(key string, value any, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s: %s", key, quote(key, value), fmt.Sprintf(format, args...)))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, d, "must be positive")
		}
	}

	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		bad("env", c.Env, "must be %q or %q", EnvDevelopment, EnvProduction)
	}
	prod := c.Env == EnvProduction

	// http
	if host, port, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", c.HTTP.Addr, "must be host:port (e.g. 127.0.0.1:8080 or :8080)")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("http.addr", c.HTTP.Addr, "port must be a number from 0 to 65535")
	} else if strings.ContainsAny(host, " /") {
		bad("http.addr", c.HTTP.Addr, "not a valid host")
	}
	if c.HTTP.APIPrefix != "" && (!strings.HasPrefix(c.HTTP.APIPrefix, "/") || strings.HasSuffix(c.HTTP.APIPrefix, "/") || strings.ContainsAny(c.HTTP.APIPrefix, " ?#")) {
		bad("http.api_prefix", c.HTTP.APIPrefix, `must start with "/" and not end with one (e.g. /api), or be empty`)
	}
	if c.HTTP.MaxBodyBytes < 1024 || c.HTTP.MaxBodyBytes > 10<<20 {
		bad("http.max_body_bytes", c.HTTP.MaxBodyBytes, "must be between 1024 and 10485760")
	}
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	for i, cidr := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			bad(fmt.Sprintf("http.trusted_proxies[%d]", i), cidr, "not a CIDR (e.g. 10.0.0.0/8)")
		}
	}

	// database
	if c.Database.URL != "" {
		u, err := url.Parse(c.Database.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database.url", c.Database.URL, "must be a postgres:// or postgresql:// URL")
		}
	} else if c.Database.SQLitePath == "" {
		bad("database.sqlite_path", c.Database.SQLitePath, "must be set when database.url is empty")
	}
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 1000 {
		bad("database.max_conns", c.Database.MaxConns, "must be between 1 and 1000")
	}

	// log
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", c.Log.Format, "must be text or json")
	}

	// tokens
	if c.Tokens.Issuer != "" {
		u, err := url.Parse(c.Tokens.Issuer)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("tokens.issuer", c.Tokens.Issuer, "must be an absolute http(s) URL")
		case u.RawQuery != "" || u.Fragment != "":
			bad("tokens.issuer", c.Tokens.Issuer, "must not have a query or fragment")
		case prod && u.Scheme != "https":
			bad("tokens.issuer", c.Tokens.Issuer, "must be https in production")
		}
	} else if prod {
		bad("tokens.issuer", c.Tokens.Issuer, "must be set in production (the URL resource servers know idp by)")
	}
	for i, a := range c.Tokens.Audience {
		if strings.ContainsAny(a, " \t") {
			bad(fmt.Sprintf("tokens.audience[%d]", i), a, "must not contain spaces")
		}
	}
	positive("tokens.access_ttl", c.Tokens.AccessTTL)
	positive("tokens.refresh_ttl", c.Tokens.RefreshTTL)
	positive("tokens.session_ttl", c.Tokens.SessionTTL)
	if c.Tokens.AccessTTL > 24*time.Hour {
		bad("tokens.access_ttl", c.Tokens.AccessTTL, "must be at most 24h: access tokens cannot be revoked before they expire")
	}
	if c.Tokens.AccessTTL > 0 && c.Tokens.RefreshTTL > 0 && c.Tokens.AccessTTL >= c.Tokens.RefreshTTL {
		bad("tokens.access_ttl", c.Tokens.AccessTTL, "must be shorter than tokens.refresh_ttl (%s)", c.Tokens.RefreshTTL)
	}
	if c.Tokens.RefreshTTL > c.Tokens.SessionTTL && c.Tokens.SessionTTL > 0 {
		bad("tokens.refresh_ttl", c.Tokens.RefreshTTL, "must not exceed tokens.session_ttl (%s)", c.Tokens.SessionTTL)
	}
	if !claimName(c.Tokens.UserIDClaim) {
		bad("tokens.user_id_claim", c.Tokens.UserIDClaim, "must be a claim name of letters, digits and _")
	} else if reservedClaims[c.Tokens.UserIDClaim] {
		bad("tokens.user_id_claim", c.Tokens.UserIDClaim, "is a claim idp sets itself")
	}
	if c.Tokens.Leeway < 0 || c.Tokens.Leeway > 5*time.Minute {
		bad("tokens.leeway", c.Tokens.Leeway, "must be between 0s and 5m")
	}
	if c.Tokens.RefreshGrace < 0 || c.Tokens.RefreshGrace > time.Minute {
		bad("tokens.refresh_grace", c.Tokens.RefreshGrace, "must be between 0s (disabled) and 1m")
	}

	// keys
	switch c.Keys.AccessAlgorithm {
	case "RS256", "EdDSA", "ES256":
	default:
		bad("keys.access_algorithm", c.Keys.AccessAlgorithm, "must be RS256, EdDSA or ES256")
	}
	switch c.Keys.RefreshAlgorithm {
	case "RS256", "EdDSA":
	default:
		bad("keys.refresh_algorithm", c.Keys.RefreshAlgorithm, "must be RS256 or EdDSA (a refresh token must re-sign to the same bytes)")
	}
	if c.Keys.RefreshAlgorithm == c.Keys.AccessAlgorithm {
		// Key rings are per algorithm: one algorithm for both would let
		// one key sign both token types.
		bad("keys.refresh_algorithm", c.Keys.RefreshAlgorithm, "must differ from keys.access_algorithm (each token type has its own key ring)")
	}
	if c.Keys.CheckInterval <= 0 || c.Keys.CheckInterval > 10*time.Minute {
		bad("keys.check_interval", c.Keys.CheckInterval, "must be between 1ns and 10m")
	}
	positive("keys.rotation_period", c.Keys.RotationPeriod)
	// A verifier that cached the JWKS just before a next key appeared on
	// every instance must have refetched it (twice, for safety) before that
	// key signs anything.
	if minPub := 2*c.JWKS.MaxAge + c.Keys.CheckInterval; c.Keys.PrePublish < minPub {
		bad("keys.prepublish", c.Keys.PrePublish, "must be at least 2 × jwks.max_age + keys.check_interval (%s), or verifiers with a cached JWKS would reject the new key's first tokens", minPub)
	}
	if c.Keys.RotationPeriod > 0 && c.Keys.RotationPeriod < c.Keys.PrePublish {
		bad("keys.rotation_period", c.Keys.RotationPeriod, "must not be shorter than keys.prepublish (%s): each next key is published for a rotation period before it signs", c.Keys.PrePublish)
	}
	switch c.Keys.RSABits {
	case 2048, 3072, 4096:
	default:
		bad("keys.rsa_bits", c.Keys.RSABits, "must be 2048, 3072 or 4096")
	}
	switch c.Keys.RSAImplementation {
	case "auto", "go", "openssl":
	default:
		bad("keys.rsa_implementation", c.Keys.RSAImplementation, "must be auto, go or openssl")
	}
	for i, k := range c.Keys.EncryptionKeys {
		if _, err := DecodeKEK(k); err != nil {
			p = append(p, fmt.Sprintf("keys.encryption_keys[%d]: (value hidden): %v", i, err))
		}
	}
	if len(c.Keys.EncryptionKeys) == 0 && c.Keys.EncryptionKeysFile == "" {
		if prod {
			p = append(p, "keys.encryption_keys: (empty): required in production (set IDP_KEYS_ENCRYPTION_KEY; generate one with `idp keys generate-kek`)")
		} else if c.Keys.KEKFile == "" {
			bad("keys.kek_file", c.Keys.KEKFile, "must be set when keys.encryption_keys is empty")
		}
	}

	// jwks
	if c.JWKS.MaxAge < 0 || c.JWKS.MaxAge > 24*time.Hour {
		bad("jwks.max_age", c.JWKS.MaxAge, "must be between 0s and 24h")
	}

	// passwords
	a := c.Passwords.Argon2
	if a.MemoryKiB < 7168 || uint64(a.MemoryKiB)*uint64(a.Iterations) < 35840 {
		bad("passwords.argon2.memory_kib", a.MemoryKiB, "with passwords.argon2.iterations=%d is below OWASP's minimum for argon2id (19456 KiB × 2, 12288 × 3, 9216 × 4 or 7168 × 5)", a.Iterations)
	}
	if a.MemoryKiB > 4<<20 {
		bad("passwords.argon2.memory_kib", a.MemoryKiB, "must be at most 4194304 (4 GiB)")
	}
	if a.Iterations < 1 || a.Iterations > 100 {
		bad("passwords.argon2.iterations", a.Iterations, "must be between 1 and 100")
	}
	if a.Parallelism < 1 {
		bad("passwords.argon2.parallelism", a.Parallelism, "must be at least 1")
	}
	if c.Passwords.MinLength < 8 || c.Passwords.MinLength > 128 {
		bad("passwords.min_length", c.Passwords.MinLength, "must be between 8 and 128")
	}

	if c.Passwords.MaxConcurrentHashes < 0 || c.Passwords.MaxConcurrentHashes > 1024 {
		bad("passwords.max_concurrent_hashes", c.Passwords.MaxConcurrentHashes, "must be between 0 (one per CPU) and 1024")
	}
	if c.Passwords.MaxHashWait < 0 || c.Passwords.MaxHashWait > time.Minute {
		bad("passwords.max_hash_wait", c.Passwords.MaxHashWait, "must be between 0s and 1m")
	}
	if c.Passwords.MemoryLimitMiB < 0 || c.Passwords.MemoryLimitMiB > 1<<20 {
		bad("passwords.memory_limit_mib", c.Passwords.MemoryLimitMiB, "must be between 0 (derived from the hashing workers) and 1048576")
	}

	// sessions
	positive("tokens.revoked_retention", c.Tokens.RevokedRetention)
	positive("tokens.flush_interval", c.Tokens.FlushInterval)
	if c.Tokens.FlushBatch < 1 || c.Tokens.FlushBatch > 100000 {
		bad("tokens.flush_batch", c.Tokens.FlushBatch, "must be between 1 and 100000")
	}

	// login
	l := c.Login
	positive("login.window", l.Window)
	for key, n := range map[string]int64{
		"login.max_failures_per_account_ip": l.MaxFailuresPerAccountIP,
		"login.max_failures_per_ip":         l.MaxFailuresPerIP,
		"login.max_failures_per_account":    l.MaxFailuresPerAccount,
	} {
		if n < 1 {
			bad(key, n, "must be at least 1")
		}
	}
	positive("login.block", l.Block)
	positive("login.account_block", l.AccountBlock)
	if l.MaxBlock < l.Block {
		bad("login.max_block", l.MaxBlock, "must not be shorter than login.block (%s)", l.Block)
	}
	if l.AccountBlock > time.Hour {
		bad("login.account_block", l.AccountBlock, "must be at most 1h: it locks the account's owner out too")
	}

	c.OAuth2.validate(bad)
	c.Debug.validate(bad)
	c.OIDC.validate(bad)
	c.Admin.validate(bad)
	p = append(p, c.CORS.problems()...)
	c.validateHardening(bad)
	p = append(p, c.validateOperations()...)

	if len(p) > 0 {
		slices.Sort(p)
		return &Problems{List: p}
	}
	return nil
}

func (c CORS) problems() []string {
	var p []string
	for i, o := range c.AllowedOrigins {
		key := fmt.Sprintf("cors.allowed_origins[%d]", i)
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
			p = append(p, fmt.Sprintf("%s: %q: must be an origin, scheme://host[:port] (e.g. https://app.example.com), or \"*\"", key, o))
		case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
			p = append(p, fmt.Sprintf("%s: %q: an origin has no path, query or fragment (not even a trailing /): %s://%s", key, o, u.Scheme, u.Host))
		case strings.Contains(u.Host, "*"):
			p = append(p, fmt.Sprintf("%s: %q: wildcards are not supported: list each origin, or \"*\" for any", key, o))
		case o != strings.ToLower(o):
			p = append(p, fmt.Sprintf("%s: %q: must be lower case, as browsers send it (%s)", key, o, strings.ToLower(o)))
		}
	}
	if c.MaxAge < 0 || c.MaxAge > 24*time.Hour {
		p = append(p, fmt.Sprintf("cors.max_age: %q: must be between 0s and 24h", c.MaxAge))
	}
	return p
}

var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true,
	"jti": true, "token_type": true, "email": true, "fid": true, "auth_time": true, "sid": true,
	"client_id": true, "scope": true,
}

func claimName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// DecodeKEK decodes a key-encryption key: base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes. Its errors never contain
// the value.
func DecodeKEK(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must decode to 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}

// KEKs decodes keys.encryption_keys (first seals, all unseal).
func (c Config) KEKs() ([][]byte, error) {
	out := make([][]byte, 0, len(c.Keys.EncryptionKeys))
	for i, s := range c.Keys.EncryptionKeys {
		b, err := DecodeKEK(s)
		if err != nil {
			return nil, fmt.Errorf("keys.encryption_keys[%d]: %w", i, err)
		}
		out = append(out, b)
	}
	more, err := c.fileKEKs()
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}
