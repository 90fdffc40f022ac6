package signer

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// Sealed blob layout: version | KEK id | nonce | AES-256-GCM ciphertext+tag.
const (
	sealVersion = 1
	kekIDSize   = 8
	nonceSize   = 12
	sealHeader  = 1 + kekIDSize + nonceSize
)

// kekID names a KEK without revealing it: the first 8 bytes of its SHA-256.
func kekID(kek []byte) [kekIDSize]byte {
	sum := sha256.Sum256(kek)
	var id [kekIDSize]byte
	copy(id[:], sum[:kekIDSize])
	return id
}

// sealedUnder returns the id of the KEK a blob was sealed under (zero for
// a malformed blob).
func sealedUnder(blob []byte) [kekIDSize]byte {
	var id [kekIDSize]byte
	if len(blob) >= sealHeader {
		copy(id[:], blob[1:1+kekIDSize])
	}
	return id
}

// sealAAD binds a sealed private key to its row: the blob of one key cannot
// be moved onto another kid or algorithm. Fields are NUL-separated so that
// no two (kid, alg) pairs give the same bytes.
func sealAAD(kid, alg string) []byte {
	return []byte("idp-signing-key\x00" + string(rune('0'+sealVersion)) + "\x00" + kid + "\x00" + alg)
}

// seal encrypts priv (as PKCS#8 DER) under kek for the row (kid, alg).
func seal(kek []byte, kid, alg string, priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: marshal PKCS#8: %w", kid, err)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: %w", kid, err)
	}
	id := kekID(kek)
	out := make([]byte, sealHeader, sealHeader+len(der)+aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], id[:])
	nonce := out[1+kekIDSize : sealHeader]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal key %s: nonce: %w", kid, err)
	}
	return aead.Seal(out, nonce, der, sealAAD(kid, alg)), nil
}

// unseal decrypts a blob made by seal with whichever of keks made it.
func unseal(keks [][]byte, kid, alg string, blob []byte) (crypto.Signer, error) {
	if len(blob) < sealHeader {
		return nil, fmt.Errorf("unseal key %s: sealed blob too short", kid)
	}
	if blob[0] != sealVersion {
		return nil, fmt.Errorf("unseal key %s: unknown seal version %d", kid, blob[0])
	}
	var kek []byte
	for _, k := range keks {
		if id := kekID(k); string(id[:]) == string(blob[1:1+kekIDSize]) {
			kek = k
			break
		}
	}
	if kek == nil {
		return nil, fmt.Errorf("unseal key %s: sealed under key-encryption key %x, which is not configured (wrong or missing KEK)",
			kid, blob[1:1+kekIDSize])
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: %w", kid, err)
	}
	der, err := aead.Open(nil, blob[1+kekIDSize:sealHeader], blob[sealHeader:], sealAAD(kid, alg))
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: authentication failed (blob corrupt or not sealed for this kid and alg)", kid)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: parse PKCS#8: %w", kid, err)
	}
	signer, err := checkPrivateKey(alg, priv)
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: %w", kid, err)
	}
	return signer, nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key-encryption key must be %d bytes, got %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseKEK decodes a key-encryption key: base64 (standard or URL alphabet,
// padded or not) of exactly 32 bytes. Surrounding whitespace is ignored.
// Its errors never contain the input.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("key-encryption key is empty")
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KEKSize {
			return nil, fmt.Errorf("key-encryption key decodes to %d bytes, want %d", len(b), KEKSize)
		}
		return b, nil
	}
	return nil, errors.New("key-encryption key is not valid base64")
}

// GenerateKEK returns a new random key-encryption key, base64-encoded.
func GenerateKEK() (string, error) {
	b := make([]byte, KEKSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key-encryption key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// LoadOrCreateKEKFile reads the KEK kept at path, creating it (directory
// 0700, file 0600) with a random KEK if it does not exist. For development
// only: production passes KEKs through configuration. A file readable or
// writable by group or others is refused.
func LoadOrCreateKEKFile(path string) (kek []byte, created bool, err error) {
	kek, err = readKEKFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kek, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create KEK directory: %w", err)
	}
	encoded, err := GenerateKEK()
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		kek, err = readKEKFile(path)
		return kek, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create KEK file: %w", err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("write KEK file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("write KEK file %s: %w", path, err)
	}
	kek, err = ParseKEK(encoded)
	return kek, err == nil, err
}

func readKEKFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read KEK file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("KEK file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("KEK file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read KEK file: %w", err)
	}
	kek, err := ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("KEK file %s: %w", path, err)
	}
	return kek, nil
}
