package users

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Django's password hashers beyond those hash.go verifies: scrypt (Django
// 4.0+), the weak legacy formats, and the identification of every stored
// format for `idp users import`.
//
//	scrypt$<n>$<salt>$<r>$<p>$<base64 of a 64-byte key>
//	sha1$<salt>$<hex>       sha1(salt + password)            weak
//	md5$<salt>$<hex>        md5(salt + password)             weak
//	sha1$$<hex>             unsalted sha1                    weak
//	<32 hex>, md5$$<hex>    unsalted md5                     weak
//	crypt$$<13 chars>       Unix DES crypt (des_crypt.go)    weak
//	!…, ""                  unusable (set_unusable_password)
//
// Weak hashes verify at login (they are in the store only if an operator
// imported them with --allow-weak-hashes) and are always replaced at once.

// HashFormat describes a stored password hash.
type HashFormat struct {
	// Algorithm is the name of Django's hasher ("pbkdf2_sha256", "argon2",
	// "bcrypt_sha256", "unsalted_md5", …), "argon2id" for idp's own,
	// "bcrypt-raw" for a bare $2b$ string, or "unusable".
	Algorithm string
	// Weak: an unsalted or fast hash that an import accepts only when told.
	Weak bool
	// Usable is false for unusable passwords ("!…" or empty), which never
	// verify.
	Usable bool
}

var (
	// ErrMalformedHash: the hash names a known algorithm but its fields are
	// not what that algorithm writes.
	ErrMalformedHash = errors.New("malformed password hash")
	// ErrUnknownHash: no hasher idp knows writes this.
	ErrUnknownHash = errors.New("unknown password hash algorithm")
	// ErrUnsupportedHash: a known hasher that idp cannot verify (none of
	// Django's today; kept for callers' switch statements).
	ErrUnsupportedHash = errors.New("unsupported password hash algorithm")
)

// IdentifyHash tells which hasher made encoded and checks its structure
// (without any password work), so that an import can refuse a row whose
// hash could never verify. Errors wrap ErrMalformedHash, ErrUnknownHash or
// ErrUnsupportedHash.
func IdentifyHash(encoded string) (HashFormat, error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return HashFormat{Algorithm: "unusable"}, nil
	}
	algo := djangoAlgorithm(encoded)
	f := HashFormat{Algorithm: algo, Usable: true}
	var ok bool
	switch algo {
	case "argon2id":
		_, ok = parseArgon2(encoded)
	case "argon2":
		_, ok = parseArgon2(strings.TrimPrefix(encoded, "argon2"))
	case "bcrypt-raw":
		ok = bcryptWellFormed(encoded, defaultVerifyLimits.bcryptCost)
	case "bcrypt", "bcrypt_sha256":
		ok = bcryptWellFormed(strings.TrimPrefix(encoded, algo+"$"), defaultVerifyLimits.bcryptCost)
	case "pbkdf2_sha256", "pbkdf2_sha1":
		ok = pbkdf2WellFormed(encoded, algo)
	case "scrypt":
		_, ok = parseScrypt(encoded)
	case "sha1", "md5", "unsalted_sha1", "unsalted_md5":
		f.Weak = true
		_, _, ok = parseDigestHash(encoded, algo)
	case "crypt":
		f.Weak = true
		_, ok = cryptData(encoded)
	default:
		name, _, _ := strings.Cut(encoded, "$")
		if len(name) > 32 {
			name = name[:32] + "…"
		}
		return HashFormat{}, fmt.Errorf("%w %q", ErrUnknownHash, name)
	}
	if !ok {
		return f, fmt.Errorf("%w (%s)", ErrMalformedHash, algo)
	}
	return f, nil
}

// djangoAlgorithm names encoded's hasher as Django's identify_hasher does
// (plus idp's own formats); "" if none matches.
func djangoAlgorithm(encoded string) string {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		return "argon2id"
	case strings.HasPrefix(encoded, "$2"):
		return "bcrypt-raw"
	case len(encoded) == 32 && !strings.Contains(encoded, "$"),
		len(encoded) == 37 && strings.HasPrefix(encoded, "md5$$"):
		return "unsalted_md5"
	case len(encoded) == 46 && strings.HasPrefix(encoded, "sha1$$"):
		return "unsalted_sha1"
	}
	name, _, found := strings.Cut(encoded, "$")
	if !found {
		return ""
	}
	switch name {
	case "argon2", "bcrypt", "bcrypt_sha256", "pbkdf2_sha256", "pbkdf2_sha1", "scrypt", "sha1", "md5", "crypt":
		return name
	}
	return ""
}

// isWeakHash reports whether encoded is one of the weak formats.
func isWeakHash(encoded string) bool {
	switch djangoAlgorithm(encoded) {
	case "sha1", "md5", "unsalted_sha1", "unsalted_md5", "crypt":
		return true
	}
	return false
}

// verifyDjangoOther verifies the formats of this file.
func (h *Hasher) verifyDjangoOther(encoded, password string) bool {
	switch algo := djangoAlgorithm(encoded); algo {
	case "scrypt":
		return h.verifyScrypt(encoded, password)
	case "sha1", "md5", "unsalted_sha1", "unsalted_md5":
		return verifyDigestHash(encoded, password, algo)
	case "crypt":
		return verifyCrypt(encoded, password)
	}
	return false
}

type scryptParams struct {
	n, r, p int
	salt    string
	key     []byte
}

// parseScrypt reads Django's "scrypt$n$salt$r$p$hash" strictly.
func parseScrypt(encoded string) (scryptParams, bool) {
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "scrypt" || f[2] == "" {
		return scryptParams{}, false
	}
	var nums [3]int
	for i, s := range []string{f[1], f[3], f[4]} {
		v, ok := parseCanonicalUint(s, 31)
		if !ok || v < 1 {
			return scryptParams{}, false
		}
		nums[i] = int(v)
	}
	n, r, p := nums[0], nums[1], nums[2]
	if n < 2 || n&(n-1) != 0 || uint64(r)*uint64(p) >= 1<<30 {
		return scryptParams{}, false
	}
	key, err := base64.StdEncoding.Strict().DecodeString(f[5])
	if err != nil || len(key) != 64 || strings.ContainsAny(f[5], "\r\n") {
		return scryptParams{}, false
	}
	return scryptParams{n: n, r: r, p: p, salt: f[2], key: key}, true
}

func (h *Hasher) verifyScrypt(encoded, password string) bool {
	sp, ok := parseScrypt(encoded)
	if !ok || 128*uint64(sp.n)*uint64(sp.r) > h.limits.scryptMemory || uint64(sp.n)*uint64(sp.r)*uint64(sp.p) > 1<<26 {
		return false
	}
	key, err := scrypt.Key([]byte(password), []byte(sp.salt), sp.n, sp.r, sp.p, 64)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, sp.key) == 1
}

// parseDigestHash splits the salted and unsalted md5/sha1 formats into
// salt and hex digest, checking the digest's length and lowercase hex.
func parseDigestHash(encoded, algo string) (salt, digest string, ok bool) {
	size := sha1.Size * 2
	if algo == "md5" || algo == "unsalted_md5" {
		size = md5.Size * 2
	}
	switch algo {
	case "unsalted_md5":
		digest = strings.TrimPrefix(encoded, "md5$$")
	case "unsalted_sha1":
		digest = strings.TrimPrefix(encoded, "sha1$$")
	default:
		f := strings.Split(encoded, "$")
		if len(f) != 3 || f[1] == "" {
			return "", "", false
		}
		salt, digest = f[1], f[2]
	}
	if len(digest) != size {
		return "", "", false
	}
	for i := 0; i < len(digest); i++ {
		if c := digest[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	return salt, digest, true
}

func verifyDigestHash(encoded, password, algo string) bool {
	salt, digest, ok := parseDigestHash(encoded, algo)
	if !ok {
		return false
	}
	var sum []byte
	if algo == "md5" || algo == "unsalted_md5" {
		s := md5.Sum([]byte(salt + password))
		sum = s[:]
	} else {
		s := sha1.Sum([]byte(salt + password))
		sum = s[:]
	}
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum)), []byte(digest)) == 1
}

// pbkdf2WellFormed checks "<algorithm>$<iterations>$<salt>$<base64 key>"
// without deriving the key.
func pbkdf2WellFormed(encoded, algorithm string) bool {
	f := strings.Split(encoded, "$")
	if len(f) != 4 || f[0] != algorithm || f[2] == "" {
		return false
	}
	it, ok := parseCanonicalUint(f[1], 31)
	if !ok || it < 1 || int(it) > defaultVerifyLimits.pbkdf2Iterations {
		return false
	}
	size := 32
	if algorithm == "pbkdf2_sha1" {
		size = 20
	}
	key, err := base64.StdEncoding.Strict().DecodeString(f[3])
	return err == nil && len(key) == size && base64.StdEncoding.EncodeToString(key) == f[3]
}

// hashFormatName is a short label of encoded's format for logs and the
// audit log (never the hash itself).
func hashFormatName(encoded string) string {
	if a := djangoAlgorithm(encoded); a != "" {
		if a == "argon2" && strings.HasPrefix(encoded, "argon2$argon2i$") {
			return "argon2i"
		}
		return a
	}
	return "unknown"
}
