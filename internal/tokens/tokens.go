package tokens

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
)

// The errors of this package. Their messages are the public ones (SimpleJWT's
// wording); returned errors may wrap them with a private reason, so test
// with errors.Is and render the sentinel's message, never err.Error().
var (
	// ErrTokenInvalid: garbage, bad signature, unknown or revoked kid,
	// expired, wrong iss or aud, alg mismatch, unknown family.
	ErrTokenInvalid = errors.New("Token is invalid or expired")
	// ErrWrongType: a valid refresh token where an access token is required,
	// or the other way round.
	ErrWrongType = errors.New("Token has wrong type")
	// ErrNoUserID: a valid access token without an integer user id claim.
	ErrNoUserID = errors.New("Token contained no recognizable user identification")
	// ErrBlacklisted: a refresh token rotated out, or of a revoked family.
	ErrBlacklisted = errors.New("Token is blacklisted")
	// ErrNoActiveAccount: refresh for a user now inactive or deleted.
	ErrNoActiveAccount = errors.New("No active account found for the given token.")
)

// reasonError is a sentinel plus the private reason it happened, for logs.
type reasonError struct {
	sentinel error
	reason   string
}

func (e *reasonError) Error() string { return e.sentinel.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() error { return e.sentinel }

func invalid(reason string) error { return &reasonError{ErrTokenInvalid, reason} }

// KeySource finds signing and verification keys; *signer.Signer is one.
type KeySource interface {
	// SigningKey returns the active key of the algorithm's ring.
	SigningKey(alg string) (*signer.Key, error)
	// VerificationKey returns the published key with that kid, or an error
	// if it is unknown or revoked.
	VerificationKey(kid string) (*signer.Key, error)
}

// Options configures a Service. Zero durations take the defaults noted.
type Options struct {
	Keys     KeySource
	Families storage.Families
	Users    storage.Users
	Audit    storage.Audit // may be nil
	// Denied is the deny-list of revoked OAuth 2.0 access tokens; nil:
	// none (access tokens cannot be revoked).
	Denied storage.RevokedTokens
	// Issuer is the iss claim of every token and the aud of refresh tokens.
	Issuer string
	// Audience is the aud claim of access tokens; empty: no aud claim
	// (SimpleJWT compatibility).
	Audience []string
	// AccessAlg and RefreshAlg choose the signing key ring; default RS256.
	AccessAlg, RefreshAlg string
	// AccessTTL is the access token lifetime; default 5m.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token idle timeout, renewed on every
	// refresh; default 24h.
	RefreshTTL time.Duration
	// SessionTTL is a family's absolute lifetime; default 30 days.
	SessionTTL time.Duration
	// RefreshGrace is how long after a rotation the immediate predecessor
	// still gets the current answer. Unlike the other durations, zero
	// disables it (config supplies idp's 10s default); negative is invalid.
	RefreshGrace time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat; default 30s.
	Leeway time.Duration
	// UserIDClaim names the integer user id claim; default "user_id".
	UserIDClaim string
	// Revoked, if set, is the session check: VerifyAccess and Verify
	// refuse access tokens of revoked sessions.
	Revoked *RevokedSessions
	// VerifySignatureOnly makes Verify check an access token's signature
	// and claims only, as the tutorial app does; by default it also
	// requires the session live and the user active.
	VerifySignatureOnly bool
	Now                 func() time.Time
	Logger              *slog.Logger
}

// Service issues and verifies tokens.
type Service struct {
	keys        KeySource
	families    storage.Families
	users       storage.Users
	audit       storage.Audit
	denied      storage.RevokedTokens
	verified    *verifiedCache
	issuer      string
	audience    []string
	accessAlg   string
	refreshAlg  string
	accessTTL   time.Duration
	refreshTTL  time.Duration
	sessionTTL  time.Duration
	grace       time.Duration
	leeway      time.Duration
	userIDClaim string
	revoked     *RevokedSessions
	sigOnly     bool
	now         func() time.Time
	log         *slog.Logger
}

// reservedClaims are the claims idp sets itself; the user id claim may not
// take one of their names.
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	claimTokenType: true, claimEmail: true, claimFamily: true, claimAuthTime: true, claimSession: true,
	claimClientID: true, claimScope: true,
}

// New checks the options and returns a Service.
func New(opts Options) (*Service, error) {
	s := &Service{
		keys:        opts.Keys,
		families:    opts.Families,
		users:       opts.Users,
		audit:       opts.Audit,
		denied:      opts.Denied,
		verified:    newVerifiedCache(verifiedCacheSize),
		issuer:      opts.Issuer,
		audience:    append([]string(nil), opts.Audience...),
		accessAlg:   orDefault(opts.AccessAlg, signer.RS256),
		refreshAlg:  orDefault(opts.RefreshAlg, signer.RS256),
		accessTTL:   orDefault(opts.AccessTTL, 5*time.Minute),
		refreshTTL:  orDefault(opts.RefreshTTL, 24*time.Hour),
		sessionTTL:  orDefault(opts.SessionTTL, 30*24*time.Hour),
		grace:       opts.RefreshGrace,
		leeway:      orDefault(opts.Leeway, 30*time.Second),
		userIDClaim: orDefault(opts.UserIDClaim, "user_id"),
		revoked:     opts.Revoked,
		sigOnly:     opts.VerifySignatureOnly,
		now:         opts.Now,
		log:         opts.Logger,
	}
	var errs []error
	if s.keys == nil {
		errs = append(errs, errors.New("Keys is required"))
	}
	if s.families == nil {
		errs = append(errs, errors.New("Families is required"))
	}
	if s.users == nil {
		errs = append(errs, errors.New("Users is required"))
	}
	if s.issuer == "" {
		errs = append(errs, errors.New("Issuer is required"))
	}
	for _, a := range s.audience {
		if a == "" {
			errs = append(errs, errors.New("Audience: empty entry"))
		}
	}
	if !slices.Contains(signer.Algorithms, s.accessAlg) {
		errs = append(errs, fmt.Errorf("AccessAlg %q: want one of %v", s.accessAlg, signer.Algorithms))
	}
	if !signer.Deterministic(s.refreshAlg) {
		// The grace answer re-signs the current refresh token and must
		// reproduce its bytes.
		errs = append(errs, fmt.Errorf("RefreshAlg %q: want RS256 or EdDSA (deterministic signatures)", s.refreshAlg))
	}
	for name, d := range map[string]time.Duration{
		"AccessTTL": s.accessTTL, "RefreshTTL": s.refreshTTL, "SessionTTL": s.sessionTTL,
		"Leeway": s.leeway, "RefreshGrace": s.grace,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", name, d))
		}
	}
	if reservedClaims[s.userIDClaim] {
		errs = append(errs, fmt.Errorf("UserIDClaim %q: a claim idp sets itself", s.userIDClaim))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
