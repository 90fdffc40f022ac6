// Package config owns idp's configuration: the typed Config, its defaults
// (Default, the one place they live), loading from configs/idp.yaml, IDP_*
// environment variables and command-line flags (in rising precedence), and
// Validate, which reports every problem at once. Viper never leaves this
// package; everything else receives a Config value.
package config

import (
	"net"
	"net/url"
	"time"
)

// Environment names.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is idp's whole configuration. The mapstructure tags are the keys
// used in the YAML file; the environment variable of a key is IDP_ plus the
// key upper-cased with dots replaced by underscores (http.addr →
// IDP_HTTP_ADDR).
type Config struct {
	Env       string    `mapstructure:"env"`
	HTTP      HTTP      `mapstructure:"http"`
	Database  Database  `mapstructure:"database"`
	Log       Log       `mapstructure:"log"`
	Tokens    Tokens    `mapstructure:"tokens"`
	Keys      Keys      `mapstructure:"keys"`
	JWKS      JWKS      `mapstructure:"jwks"`
	Passwords Passwords `mapstructure:"passwords"`
	Login     Login     `mapstructure:"login"`
	OAuth2    OAuth2    `mapstructure:"oauth2"`
	OIDC      OIDC      `mapstructure:"oidc"`
	CORS      CORS      `mapstructure:"cors"`

	// Issue 10's blocks (hardening.go).
	Sessions     Sessions     `mapstructure:"sessions"`
	Registration Registration `mapstructure:"registration"`
	Audit        Audit        `mapstructure:"audit"`
	Metrics      Metrics      `mapstructure:"metrics"`
	Debug        Debug        `mapstructure:"debug"`

	// Issue 13's block (admin.go).
	Admin Admin `mapstructure:"admin"`
}

// HTTP is the listener and the API surface.
type HTTP struct {
	Addr         string        `mapstructure:"addr"`
	APIPrefix    string        `mapstructure:"api_prefix"`
	MaxBodyBytes int64         `mapstructure:"max_body_bytes"`
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	// ReadHeaderTimeout is how long a client may take to send its request
	// headers: slow or hostile clients are closed after it.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout   time.Duration `mapstructure:"shutdown_timeout"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed when
	// recording a client's IP. Empty: the TCP peer address is used.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// Database selects the store.
type Database struct {
	// URL of a PostgreSQL database; empty selects the embedded SQLite store.
	URL string `mapstructure:"url"`
	// SQLitePath is the embedded store's file.
	SQLitePath string `mapstructure:"sqlite_path"`
	// MaxConns caps the PostgreSQL pool.
	MaxConns int32 `mapstructure:"max_conns"`
}

// Log configures the structured logger.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Tokens configures access and refresh tokens.
type Tokens struct {
	// Issuer is the iss claim and the base of discovery URLs. Empty in
	// development: derived from http.addr.
	Issuer string `mapstructure:"issuer"`
	// Audience is the aud claim of access tokens; empty: none.
	Audience    []string      `mapstructure:"audience"`
	AccessTTL   time.Duration `mapstructure:"access_ttl"`
	RefreshTTL  time.Duration `mapstructure:"refresh_ttl"`
	SessionTTL  time.Duration `mapstructure:"session_ttl"`
	UserIDClaim string        `mapstructure:"user_id_claim"`
	Leeway      time.Duration `mapstructure:"leeway"`
	// RefreshGrace is how long the immediate predecessor of a family's
	// current refresh token is still answered (two tabs refreshing at once).
	RefreshGrace time.Duration `mapstructure:"refresh_grace"`
	// RevokedRetention is how long revoked sessions are kept (for the
	// "blacklisted" answer and investigation) before the janitor deletes
	// them; sessions past their lifetime go at once.
	RevokedRetention time.Duration `mapstructure:"revoked_retention"`
	// FlushInterval is how often each instance runs the janitor.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// FlushBatch is how many rows one janitor statement deletes.
	FlushBatch int `mapstructure:"flush_batch"`
}

// Keys configures signing keys and their rotation.
type Keys struct {
	// AccessAlgorithm signs access tokens: RS256, EdDSA or ES256.
	AccessAlgorithm string `mapstructure:"access_algorithm"`
	// RefreshAlgorithm signs refresh tokens: RS256 or EdDSA (deterministic
	// signatures; only idp verifies them), not AccessAlgorithm: each token
	// type verifies only with keys of its own ring.
	RefreshAlgorithm string `mapstructure:"refresh_algorithm"`
	RSABits          int    `mapstructure:"rsa_bits"`
	// RSAImplementation makes RS256 signatures: "auto" (OpenSSL 3's
	// libcrypto.so.3 when it loads, else Go's crypto/rsa), "go" or
	// "openssl" (refuse to start without it).
	RSAImplementation string `mapstructure:"rsa_implementation"`
	// RotationPeriod is how long a key signs before the next one takes over.
	RotationPeriod time.Duration `mapstructure:"rotation_period"`
	// PrePublish is the least time a next key is in the JWKS before it may
	// sign: at least 2 × jwks.max_age + keys.check_interval.
	PrePublish time.Duration `mapstructure:"prepublish"`
	// CheckInterval is how often each instance checks whether a rotation is
	// due and picks up key changes made elsewhere.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// EncryptionKeys are base64 256-bit key-encryption keys. The first
	// encrypts; all decrypt. Secrets: never printed.
	EncryptionKeys []string `mapstructure:"encryption_keys"`
	// EncryptionKeysFile names a file of further KEKs, one base64 key a
	// line, after EncryptionKeys (a Docker or Kubernetes secret mounted as a
	// file, kept out of the environment). Empty: none.
	EncryptionKeysFile string `mapstructure:"encryption_keys_file"`
	// KEKFile is where development generates and keeps a KEK when
	// EncryptionKeys is empty.
	KEKFile string `mapstructure:"kek_file"`
}

// JWKS configures the published key set.
type JWKS struct {
	MaxAge time.Duration `mapstructure:"max_age"`
}

// Passwords configures hashing and policy.
type Passwords struct {
	Argon2    Argon2 `mapstructure:"argon2"`
	MinLength int    `mapstructure:"min_length"`
	// MaxConcurrentHashes is the number of hashing workers: the password
	// hashes computed at once (each takes argon2.memory_kib and a core), on
	// threads of lowered priority (Linux), so that logins take only the
	// CPU refresh and verify leave. 0: one per CPU (GOMAXPROCS at start).
	MaxConcurrentHashes int `mapstructure:"max_concurrent_hashes"`
	// MaxHashWait is how long a login or registration waits for a hashing
	// worker before it is answered 503 with Retry-After.
	MaxHashWait time.Duration `mapstructure:"max_hash_wait"`
	// MemoryLimitMiB is the Go soft memory limit idp serve sets, unless
	// GOMEMLIMIT is set: near it the runtime collects garbage sooner, so
	// garbage does not grow as large as the hashing workers' argon2 memory
	// (which each keeps). 0: 48 MiB plus argon2.memory_kib per hashing
	// worker (docs/performance.md).
	MemoryLimitMiB int `mapstructure:"memory_limit_mib"`
}

// Login is brute-force protection of POST token/.
type Login struct {
	// Window is the period failures are counted in.
	Window time.Duration `mapstructure:"window"`
	// MaxFailuresPerAccountIP failures of one account from one IP block
	// that pair for Block, doubling per further failure up to MaxBlock.
	MaxFailuresPerAccountIP int64 `mapstructure:"max_failures_per_account_ip"`
	// MaxFailuresPerIP failures from one IP (IPv6: its /64) block it alike.
	MaxFailuresPerIP int64 `mapstructure:"max_failures_per_ip"`
	// MaxFailuresPerAccount failures on one account from anywhere block it
	// for unknown clients for AccountBlock, doubling up to MaxBlock; known
	// clients (device cookie, known IP) are exempt.
	MaxFailuresPerAccount int64         `mapstructure:"max_failures_per_account"`
	Block                 time.Duration `mapstructure:"block"`
	MaxBlock              time.Duration `mapstructure:"max_block"`
	AccountBlock          time.Duration `mapstructure:"account_block"`
}

// CORS lets browser apps on other origins call idp (the API, the JWKS and
// discovery). Bearer tokens travel in headers, never cookies, so no
// credentials mode is offered.
type CORS struct {
	// AllowedOrigins are exact origins (scheme://host[:port]) allowed to
	// call idp from a browser, or "*" for any. Empty: none (the default).
	AllowedOrigins []string `mapstructure:"allowed_origins"`
	// MaxAge is how long a browser may cache a preflight answer.
	MaxAge time.Duration `mapstructure:"max_age"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Addr is the host:port of a separate listener serving /metrics (never
	// on the public port). Empty: no metrics.
	Addr string `mapstructure:"addr"`
}

// Argon2 holds the argon2id cost parameters.
type Argon2 struct {
	MemoryKiB   uint32 `mapstructure:"memory_kib"`
	Iterations  uint32 `mapstructure:"iterations"`
	Parallelism uint8  `mapstructure:"parallelism"`
}

// Default returns the defaults: the only place they are written down
// (configs/idp.yaml repeats them for the reader; a test keeps the two equal).
func Default() Config {
	c := Config{
		Env: EnvDevelopment,
		HTTP: HTTP{
			Addr:         "127.0.0.1:8080",
			APIPrefix:    "/api",
			MaxBodyBytes: 64 << 10,
			ReadTimeout:  10 * time.Second,

			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			TrustedProxies:    []string{},
		},
		Database: Database{
			URL:        "",
			SQLitePath: "data/idp.db",
			MaxConns:   16,
		},
		Log: Log{Level: "info", Format: "text"},
		Tokens: Tokens{
			Issuer:       "",
			Audience:     []string{},
			AccessTTL:    5 * time.Minute,
			RefreshTTL:   24 * time.Hour,
			SessionTTL:   30 * 24 * time.Hour,
			UserIDClaim:  "user_id",
			Leeway:       30 * time.Second,
			RefreshGrace: 10 * time.Second,

			RevokedRetention: 7 * 24 * time.Hour,
			FlushInterval:    time.Hour,
			FlushBatch:       5000,
		},
		Keys: Keys{
			AccessAlgorithm:   "RS256",
			RefreshAlgorithm:  "EdDSA",
			RSABits:           2048,
			RSAImplementation: "auto",
			RotationPeriod:    30 * 24 * time.Hour,
			PrePublish:        time.Hour,
			CheckInterval:     30 * time.Second,
			EncryptionKeys:    []string{},

			EncryptionKeysFile: "",
			KEKFile:            "keys/kek",
		},
		JWKS: JWKS{MaxAge: 5 * time.Minute},
		Passwords: Passwords{
			// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
			Argon2:              Argon2{MemoryKiB: 19456, Iterations: 2, Parallelism: 1},
			MinLength:           8,
			MaxConcurrentHashes: 0,
			MaxHashWait:         3 * time.Second,
			MemoryLimitMiB:      0,
		},
		Login: Login{
			Window:                  15 * time.Minute,
			MaxFailuresPerAccountIP: 5,
			MaxFailuresPerIP:        100,
			MaxFailuresPerAccount:   50,
			Block:                   30 * time.Second,
			MaxBlock:                15 * time.Minute,
			AccountBlock:            time.Minute,
		},
		OAuth2: defaultOAuth2(),
		OIDC:   defaultOIDC(),
		Admin:  defaultAdmin(),
		CORS: CORS{
			AllowedOrigins: []string{},
			MaxAge:         10 * time.Minute,
		},
		Metrics: Metrics{Addr: ""},
		Debug:   defaultDebug(),
	}
	hardeningDefaults(&c)
	return c
}

// IssuerURL is the issuer: tokens.issuer, or in development derived from
// the listen address (see DeriveIssuer).
func (c Config) IssuerURL() string {
	if c.Tokens.Issuer != "" {
		return c.Tokens.Issuer
	}
	return DeriveIssuer(c.HTTP.Addr)
}

// IssuerDerived reports whether IssuerURL was derived from http.addr
// rather than configured.
func (c Config) IssuerDerived() bool { return c.Tokens.Issuer == "" }

// DeriveIssuer is the development issuer for a listen address: a URL a
// client on the same machine can reach. An unspecified host (":8080",
// "0.0.0.0:8080", "[::]:8080") listens on loopback too, so the issuer
// names 127.0.0.1; any other host is used as it is.
func DeriveIssuer(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr // Validate reports it
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// StoreName says which store the configuration selects, without secrets:
// "sqlite data/idp.db" or "postgres db.example.com:5432/idp".
func (c Config) StoreName() string {
	if c.Database.URL == "" {
		return "sqlite " + c.Database.SQLitePath
	}
	u, err := url.Parse(c.Database.URL)
	if err != nil || u.Host == "" {
		return "postgres"
	}
	return "postgres " + u.Host + u.Path
}
