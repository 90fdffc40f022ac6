package opensslrsa

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Mode chooses the RSA signing implementation for the process.
type Mode string

const (
	// Auto uses OpenSSL when libcrypto.so.3 loads, else crypto/rsa.
	Auto Mode = "auto"
	// Go always uses crypto/rsa.
	Go Mode = "go"
	// OpenSSL requires OpenSSL: Configure fails without it.
	OpenSSL Mode = "openssl"
)

// ParseMode checks a configured mode ("" means Auto).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Auto, nil
	case Auto, Go, OpenSSL:
		return m, nil
	}
	return "", fmt.Errorf("unknown RSA implementation %q (want auto, go or openssl)", s)
}

var (
	mu         sync.Mutex
	configured bool // Configure was called; until then Wrap acts as in Auto
	enabled    bool // Wrap hands out OpenSSL signers
	required   bool // Mode OpenSSL: Wrap fails rather than fall back
)

// Configure sets the implementation Wrap uses from now on (without a call,
// Wrap acts as in Auto) and returns a
// description of it for the start-up log, such as "OpenSSL 3.0.17 1 Jul
// 2025 (libcrypto.so.3)" or "Go crypto/rsa (libcrypto.so.3: not found)".
// Keys wrapped earlier keep the implementation they were wrapped with.
func Configure(m Mode) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	configured, enabled, required = true, false, false
	if m == Go {
		return "Go crypto/rsa (keys.rsa_implementation: go)", nil
	}
	version, err := load()
	if err != nil {
		if m == OpenSSL {
			return "", fmt.Errorf("keys.rsa_implementation is openssl: %w", err)
		}
		return fmt.Sprintf("Go crypto/rsa (OpenSSL not used: %v)", err), nil
	}
	enabled, required = true, m == OpenSSL
	return version, nil
}

// Enabled reports whether Wrap currently hands out OpenSSL signers.
func Enabled() bool {
	on, _ := state()
	return on
}

func state() (on, must bool) {
	mu.Lock()
	defer mu.Unlock()
	if !configured {
		_, err := load()
		configured, enabled = true, err == nil
	}
	return enabled, required
}

// Wrap returns a crypto.Signer for priv that makes RS256 (PKCS #1 v1.5,
// SHA-256) signatures with OpenSSL when Configure enabled it, and priv
// itself otherwise. If OpenSSL refuses the key, Wrap falls back to priv
// in mode Auto and fails in mode OpenSSL.
func Wrap(priv *rsa.PrivateKey) (crypto.Signer, error) {
	on, must := state()
	if !on {
		return priv, nil
	}
	s, err := newSigner(priv)
	if err != nil {
		if must {
			return nil, err
		}
		return priv, nil
	}
	return s, nil
}

// signer is an RSA key held by OpenSSL, with its Go twin for everything
// that is not a PKCS #1 v1.5 SHA-256 signature and to verify each result.
type signer struct {
	priv *rsa.PrivateKey
	key  *evpKey
}

// Public returns the Go public key (jwx checks its type).
func (s *signer) Public() crypto.PublicKey { return &s.priv.PublicKey }

var errFault = errors.New("opensslrsa: OpenSSL signature did not verify")

// Sign implements crypto.Signer.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss || opts.HashFunc() != crypto.SHA256 || len(digest) != crypto.SHA256.Size() {
		return s.priv.Sign(rand, digest, opts)
	}
	sig, err := s.key.signSHA256(digest, s.priv.Size())
	if err != nil {
		return nil, err
	}
	if err := rsa.VerifyPKCS1v15(&s.priv.PublicKey, crypto.SHA256, digest, sig); err != nil {
		return nil, errFault
	}
	return sig, nil
}
