package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/idp/idp/internal/opensslrsa"
	"github.com/idp/idp/internal/storage"
)

// Supported algorithms (JWA names).
const (
	RS256 = "RS256"
	EdDSA = "EdDSA"
	// ES256 (ECDSA P-256) signs access tokens only: its signatures are
	// randomised, and a refresh token must re-sign to identical bytes.
	ES256 = "ES256"
)

// Algorithms lists every supported algorithm.
var Algorithms = []string{RS256, EdDSA, ES256}

// Deterministic reports whether alg's signatures are a pure function of
// key and message (RSA PKCS#1 v1.5 and Ed25519 are; ECDSA is not).
func Deterministic(alg string) bool { return alg == RS256 || alg == EdDSA }

// minRSABits is the smallest RSA modulus idp generates or accepts.
const minRSABits = 2048

// ErrUnknownKey: no published key has that kid (unknown, revoked or expired).
var ErrUnknownKey = errors.New("signer: unknown signing key")

// Key is one signing key as the rest of idp sees it. Values handed out by
// a Signer are shared and must not be modified.
type Key struct {
	KID   string
	Alg   jwa.SignatureAlgorithm
	State storage.KeyState
	// ExpiresAt is when the key leaves the JWKS; zero if not scheduled.
	ExpiresAt time.Time
	// CreatedAt is when the key was made; ActivatesAt when it started (or
	// is scheduled to start) signing.
	CreatedAt, ActivatesAt time.Time
	// Private is the private key as a JWK; nil if unavailable (a
	// verification-only key).
	Private jwk.Key
	// Public is the public key as a JWK (kid, alg, use "sig").
	Public jwk.Key

	signer    crypto.Signer    // private key ready to sign (see Signer); nil if unavailable
	raw       crypto.Signer    // the private key itself (what is sealed); nil if unavailable
	publicKey crypto.PublicKey // raw public key
	publicDoc []byte           // compact public JWK JSON, as published
}

// String, GoString and LogValue name the key without its material, so a
// Key printed or logged by mistake reveals nothing secret.
func (k *Key) String() string {
	return fmt.Sprintf("signer.Key{kid=%s alg=%s state=%s}", k.KID, k.Alg, k.State)
}

// GoString: see String.
func (k *Key) GoString() string { return k.String() }

// LogValue: see String.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.KID), slog.String("alg", string(k.Alg)), slog.String("state", string(k.State)))
}

// Signer returns the private key ready to sign (*rsa.PrivateKey or its
// OpenSSL-backed twin from opensslrsa, ed25519.PrivateKey or
// *ecdsa.PrivateKey), or nil for a verification-only key. Signing with it
// avoids converting the JWK on every token.
func (k *Key) Signer() crypto.Signer { return k.signer }

// PublicKey returns the raw public key (*rsa.PublicKey, ed25519.PublicKey
// or *ecdsa.PublicKey).
func (k *Key) PublicKey() crypto.PublicKey { return k.publicKey }

// GenerateKey makes a new key for alg ("RS256" with rsaBits bits, or
// "EdDSA" for Ed25519). Its state is left empty for the caller to set.
func GenerateKey(alg string, rsaBits int) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		if rsaBits < minRSABits {
			return nil, fmt.Errorf("generate %s key: %d bits is too small (minimum %d)", alg, rsaBits, minRSABits)
		}
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return NewKey(alg, priv)
}

// NewKey wraps an existing private key (*rsa.PrivateKey for RS256,
// ed25519.PrivateKey for EdDSA). Its kid is the RFC 7638 thumbprint of the
// public key, so the same key always gets the same kid.
func NewKey(alg string, priv crypto.PrivateKey) (*Key, error) {
	signer, err := checkPrivateKey(alg, priv)
	if err != nil {
		return nil, err
	}
	k, err := newPublicKey(alg, signer.Public())
	if err != nil {
		return nil, err
	}
	if err := k.attachPrivate(signer); err != nil {
		return nil, err
	}
	return k, nil
}

// newPublicKey builds a verification-only Key from a raw public key.
func newPublicKey(alg string, pub crypto.PublicKey) (*Key, error) {
	pubJWK, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("public key to JWK: %w", err)
	}
	kid, err := thumbprint(pubJWK)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{
		jwk.KeyIDKey:     kid,
		jwk.AlgorithmKey: jwa.SignatureAlgorithm(alg),
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := pubJWK.Set(name, v); err != nil {
			return nil, fmt.Errorf("set JWK %s: %w", name, err)
		}
	}
	doc, err := json.Marshal(pubJWK)
	if err != nil {
		return nil, fmt.Errorf("marshal public JWK: %w", err)
	}
	return &Key{
		KID:       kid,
		Alg:       jwa.SignatureAlgorithm(alg),
		Public:    pubJWK,
		publicKey: pub,
		publicDoc: doc,
	}, nil
}

// attachPrivate adds the private half after checking that it belongs to
// the key's public half.
func (k *Key) attachPrivate(priv crypto.Signer) error {
	signer, err := checkPrivateKey(string(k.Alg), priv)
	if err != nil {
		return err
	}
	pubJWK, err := jwk.FromRaw(signer.Public())
	if err != nil {
		return fmt.Errorf("public key to JWK: %w", err)
	}
	kid, err := thumbprint(pubJWK)
	if err != nil {
		return err
	}
	if kid != k.KID {
		return fmt.Errorf("signing key %s: private key does not match the public key", k.KID)
	}
	privJWK, err := jwk.FromRaw(signer)
	if err != nil {
		return fmt.Errorf("private key to JWK: %w", err)
	}
	if err := privJWK.Set(jwk.KeyIDKey, k.KID); err != nil {
		return fmt.Errorf("set JWK kid: %w", err)
	}
	if err := privJWK.Set(jwk.AlgorithmKey, k.Alg); err != nil {
		return fmt.Errorf("set JWK alg: %w", err)
	}
	k.Private = privJWK
	k.signer, k.raw = signer, signer
	if rk, ok := signer.(*rsa.PrivateKey); ok {
		// RS256 through OpenSSL when the process enabled it (opensslrsa).
		if k.signer, err = opensslrsa.Wrap(rk); err != nil {
			return fmt.Errorf("signing key %s: %w", k.KID, err)
		}
	}
	return nil
}

// checkPrivateKey makes sure priv is the key type alg needs and returns it
// ready to sign (RSA precomputed).
func checkPrivateKey(alg string, priv crypto.PrivateKey) (crypto.Signer, error) {
	switch alg {
	case RS256:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s needs an RSA private key, got %T", alg, priv)
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("%s key of %d bits is too small (minimum %d)", alg, k.N.BitLen(), minRSABits)
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA key: %w", err)
		}
		k.Precompute()
		return k, nil
	case EdDSA:
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			if len(k) != ed25519.PrivateKeySize {
				return nil, fmt.Errorf("%s: bad Ed25519 private key size %d", alg, len(k))
			}
			return k, nil
		case *ed25519.PrivateKey:
			return checkPrivateKey(alg, *k)
		}
		return nil, fmt.Errorf("%s needs an Ed25519 private key, got %T", alg, priv)
	case ES256:
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s needs a P-256 ECDSA private key, got %T", alg, priv)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of key, base64url without
// padding: idp's kid.
func thumbprint(key jwk.Key) (string, error) {
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("JWK thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// supportedAlg reports whether idp can generate and sign with alg.
func supportedAlg(alg string) bool { return alg == RS256 || alg == EdDSA || alg == ES256 }
