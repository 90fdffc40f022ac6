package users

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/idp/idp/internal/users/argon2"
)

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultArgon2Params is OWASP's minimum recommendation for argon2id
// (Password Storage Cheat Sheet): m=19456 KiB (19 MiB), t=2, p=1.
var DefaultArgon2Params = Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

// withDefaults fills zero fields from DefaultArgon2Params and raises the
// memory to argon2's floor of 8 KiB per lane (which the hash would
// otherwise use silently while recording the smaller figure).
func (p Argon2Params) withDefaults() Argon2Params {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = DefaultArgon2Params.MemoryKiB
	}
	if p.Iterations == 0 {
		p.Iterations = DefaultArgon2Params.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = DefaultArgon2Params.Parallelism
	}
	p.MemoryKiB = max(p.MemoryKiB, 8*uint32(p.Parallelism))
	return p
}

func (p Argon2Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism)
}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// verifyLimits bound the work a stored hash may ask for, so that a
// corrupt or planted hash string cannot make one login allocate gigabytes
// or run for minutes. Hashes beyond them do not verify.
type verifyLimits struct {
	argon2MemoryKiB  uint32
	argon2Iterations uint32
	pbkdf2Iterations int
	bcryptCost       int
	scryptMemory     uint64 // bytes: 128·n·r
}

var defaultVerifyLimits = verifyLimits{
	argon2MemoryKiB:  1 << 20, // 1 GiB
	argon2Iterations: 64,
	pbkdf2Iterations: 10_000_000, // Django 5.2 uses 1,000,000
	bcryptCost:       16,         // Django uses 12
	scryptMemory:     1 << 30,    // Django's default needs 16 MiB
}

// Hasher hashes passwords with argon2id into PHC strings and verifies
// those, plus the formats of migrated users:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>   (idp; raw standard base64)
//	$2a$…, $2b$…, $2y$…                             (bcrypt)
//	pbkdf2_sha256$<iterations>$<salt>$<hash>       (Django's default)
//	pbkdf2_sha1$…, argon2$argon2id$…, argon2$argon2i$…,
//	bcrypt_sha256$$2b$…, bcrypt$$2b$…, scrypt$…     (Django's other hashers)
//	md5$…, sha1$…, unsalted md5 and sha1            (weak; see django_hash.go)
//
// A Hasher is immutable and safe for concurrent use.
type Hasher struct {
	params Argon2Params
	limits verifyLimits
}

// NewHasher returns a Hasher producing argon2id hashes with p (zero fields
// take DefaultArgon2Params' values).
func NewHasher(p Argon2Params) *Hasher {
	return &Hasher{params: p.withDefaults(), limits: defaultVerifyLimits}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Argon2Params { return h.params }

// Hash returns password's argon2id hash with a fresh 16-byte random salt
// and a 32-byte key, as a PHC string.
func (h *Hasher) Hash(password string) (string, error) { return h.hash(nil, password) }

// hash is Hash working in mem (nil: fresh memory).
func (h *Hasher) hash(mem *argon2.Memory, password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := mem.IDKey([]byte(password), salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, argon2KeyLen)
	return encodeArgon2("argon2id", h.params, salt, key), nil
}

func encodeArgon2(variant string, p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$%s$v=%d$%s$%s$%s", variant, argon2.Version, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the encoded hash, comparing in
// constant time, and whether the hash should be replaced by a fresh one
// from Hash: it is not idp's argon2id format or its parameters differ from
// h's. A malformed, unknown or over-expensive hash verifies as false;
// Verify never panics. needsRehash is false whenever ok is.
func (h *Hasher) Verify(encoded, password string) (ok, needsRehash bool) {
	return h.verify(nil, encoded, password)
}

// verify is Verify with argon2 working in mem (nil: fresh memory).
func (h *Hasher) verify(mem *argon2.Memory, encoded, password string) (ok, needsRehash bool) {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		return h.verifyArgon2(mem, encoded, password, true)
	case strings.HasPrefix(encoded, "argon2$argon2"):
		ok, _ = h.verifyArgon2(mem, strings.TrimPrefix(encoded, "argon2"), password, false)
	case strings.HasPrefix(encoded, "$2"):
		ok = h.verifyBcrypt(encoded, []byte(password))
	case strings.HasPrefix(encoded, "bcrypt$$2"):
		ok = h.verifyBcrypt(strings.TrimPrefix(encoded, "bcrypt$"), []byte(password))
	case strings.HasPrefix(encoded, "bcrypt_sha256$$2"):
		// Django hashes the password to 64 hex digits first, dodging
		// bcrypt's 72-byte truncation.
		sum := sha256.Sum256([]byte(password))
		ok = h.verifyBcrypt(strings.TrimPrefix(encoded, "bcrypt_sha256$"), []byte(hex.EncodeToString(sum[:])))
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		ok = h.verifyPBKDF2(encoded, password, "pbkdf2_sha256", sha256.New)
	case strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		ok = h.verifyPBKDF2(encoded, password, "pbkdf2_sha1", sha1.New)
	default: // scrypt and the weak formats (django_hash.go)
		ok = h.verifyDjangoOther(encoded, password)
	}
	return ok, ok
}

// hashPrefixes start the encodings Verify knows.
var hashPrefixes = []string{"$argon2", "argon2$argon2", "$2", "bcrypt$$2", "bcrypt_sha256$$2", "pbkdf2_sha256$", "pbkdf2_sha1$"}

// recognizes reports whether encoded starts like a hash Verify knows
// (it may still be malformed).
func recognizes(encoded string) bool {
	for _, p := range hashPrefixes {
		if strings.HasPrefix(encoded, p) {
			return true
		}
	}
	switch djangoAlgorithm(encoded) {
	case "scrypt", "sha1", "md5", "unsalted_sha1", "unsalted_md5", "crypt":
		return true
	}
	return false
}

// verifyArgon2 checks a PHC string $argon2{id,i}$v=19$m=…,t=…,p=…$salt$key
// strictly (version 19 only, parameters in that order, canonical decimal
// and unpadded base64). native says the string is in idp's own format, so
// that only a parameter change calls for a rehash.
func (h *Hasher) verifyArgon2(mem *argon2.Memory, encoded, password string, native bool) (ok, needsRehash bool) {
	a, ok := parseArgon2(encoded)
	if !ok || a.p.MemoryKiB > h.limits.argon2MemoryKiB || a.p.Iterations > h.limits.argon2Iterations {
		return false, false
	}
	variant, p, salt, want := a.variant, a.p, a.salt, a.key
	keyFn := mem.IDKey
	if variant == "argon2i" {
		keyFn = mem.Key
	}
	got := keyFn([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false
	}
	current := native && variant == "argon2id" && p == h.params &&
		len(salt) == argon2SaltLen && len(want) == argon2KeyLen
	return true, !current
}

type argon2Hash struct {
	variant   string
	p         Argon2Params
	salt, key []byte
}

// parseArgon2 reads $argon2{id,i}$v=19$m=…,t=…,p=…$salt$key strictly.
func parseArgon2(encoded string) (argon2Hash, bool) {
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[2] != "v=19" {
		return argon2Hash{}, false
	}
	variant := f[1]
	if variant != "argon2id" && variant != "argon2i" {
		return argon2Hash{}, false
	}
	p, ok := parseArgon2Params(f[3])
	if !ok {
		return argon2Hash{}, false
	}
	if strings.ContainsAny(f[4], "\r\n") || strings.ContainsAny(f[5], "\r\n") {
		return argon2Hash{}, false // the decoder would skip them
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(f[4])
	if err != nil || len(salt) < 8 || len(salt) > 1024 {
		return argon2Hash{}, false
	}
	key, err := b64.DecodeString(f[5])
	if err != nil || len(key) < 4 || len(key) > 1024 {
		return argon2Hash{}, false
	}
	return argon2Hash{variant: variant, p: p, salt: salt, key: key}, true
}

// parseArgon2Params parses "m=…,t=…,p=…" in that order, as the reference
// implementation writes it, and checks argon2's own minimums.
func parseArgon2Params(s string) (Argon2Params, bool) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return Argon2Params{}, false
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(f[i], name)
		if !ok {
			return Argon2Params{}, false
		}
		n, ok := parseCanonicalUint(v, 32)
		if !ok {
			return Argon2Params{}, false
		}
		vals[i] = n
	}
	if vals[1] < 1 || vals[2] < 1 || vals[2] > 255 || vals[0] < 8*vals[2] {
		return Argon2Params{}, false
	}
	return Argon2Params{MemoryKiB: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(vals[2])}, true
}

// parseCanonicalUint accepts only plain decimal digits without a leading
// zero (so that each number has exactly one spelling).
func parseCanonicalUint(s string, bits int) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

// verifyBcrypt checks a modular-crypt bcrypt hash ($2a$, $2b$ or $2y$,
// all the same algorithm for this purpose). Like the C implementations,
// only the first 72 bytes of the password count.
func (h *Hasher) verifyBcrypt(encoded string, password []byte) bool {
	if !bcryptWellFormed(encoded, h.limits.bcryptCost) {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(encoded), password) == nil
}

// bcryptWellFormed checks a modular-crypt bcrypt string's shape and that
// its cost is at most maxCost.
func bcryptWellFormed(encoded string, maxCost int) bool {
	// $2b$12$ + 22 characters of salt + 31 of hash.
	if len(encoded) != 60 || encoded[0] != '$' || encoded[1] != '2' || encoded[3] != '$' || encoded[6] != '$' {
		return false
	}
	if m := encoded[2]; m != 'a' && m != 'b' && m != 'y' {
		return false
	}
	cost, ok := parseCanonicalUint(strings.TrimPrefix(encoded[4:6], "0"), 8)
	if !ok || int(cost) < bcrypt.MinCost || int(cost) > maxCost {
		return false
	}
	for i := 7; i < len(encoded); i++ {
		if !bcryptAlphabet(encoded[i]) {
			return false
		}
	}
	return true
}

func bcryptAlphabet(c byte) bool {
	return c == '.' || c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// verifyPBKDF2 checks Django's "<algorithm>$<iterations>$<salt>$<hash>",
// where salt is used as text and hash is the padded standard base64 of the
// derived key (as long as the digest). Like Django, it re-encodes and
// compares the whole string, so only the canonical spelling verifies.
func (h *Hasher) verifyPBKDF2(encoded, password, algorithm string, digest func() hash.Hash) bool {
	f := strings.SplitN(encoded, "$", 4)
	if len(f) != 4 || f[0] != algorithm || f[2] == "" {
		return false
	}
	iterations, ok := parseCanonicalUint(f[1], 31)
	if !ok || iterations < 1 || int(iterations) > h.limits.pbkdf2Iterations {
		return false
	}
	key, err := pbkdf2.Key(digest, password, []byte(f[2]), int(iterations), digest().Size())
	if err != nil {
		return false
	}
	again := base64.StdEncoding.EncodeToString(key)
	return subtle.ConstantTimeCompare([]byte(again), []byte(f[3])) == 1
}
