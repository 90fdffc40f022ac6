package users

import (
	"regexp"
	"strings"
	"testing"
)

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashRoundTrip(t *testing.T) {
	h := NewHasher(cheapParams)
	enc, err := h.Hash("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if m := phcPattern.FindStringSubmatch(enc); m == nil || m[1] != "1024" || m[2] != "1" || m[3] != "1" {
		t.Fatalf("hash %q is not $argon2id$v=19$m=1024,t=1,p=1$<22>$<43>", enc)
	}
	if ok, rehash := h.Verify(enc, "s3cret-pass"); !ok || rehash {
		t.Errorf("Verify(right) = %v, %v; want true, false", ok, rehash)
	}
	for _, wrong := range []string{"s3cret-pasS", "s3cret-pas", "s3cret-pass ", ""} {
		if ok, rehash := h.Verify(enc, wrong); ok || rehash {
			t.Errorf("Verify(%q) = %v, %v; want false, false", wrong, ok, rehash)
		}
	}
	again, _ := h.Hash("s3cret-pass")
	if again == enc {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHashDefaultsAreOWASPMinimum(t *testing.T) {
	h := NewHasher(Argon2Params{})
	if got, want := h.Params(), (Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}); got != want {
		t.Fatalf("default params %+v, want %+v", got, want)
	}
	enc, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the OWASP parameters", enc)
	}
	if ok, rehash := h.Verify(enc, "correct horse"); !ok || rehash {
		t.Errorf("Verify = %v, %v", ok, rehash)
	}
}

func TestArgon2ParamsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Argon2Params
		want Argon2Params
	}{
		{"zero", Argon2Params{}, DefaultArgon2Params},
		{"partial", Argon2Params{Iterations: 3}, Argon2Params{MemoryKiB: 19456, Iterations: 3, Parallelism: 1}},
		{"memory-raised-to-8-per-lane", Argon2Params{MemoryKiB: 16, Iterations: 1, Parallelism: 4}, Argon2Params{MemoryKiB: 32, Iterations: 1, Parallelism: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewHasher(tt.in).Params(); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Vectors made by the reference implementations, with Python 3.11:
// libargon2 through argon2-cffi 21.1 (argon2.low_level.hash_secret), pyca
// bcrypt 3.2.2, and hashlib.pbkdf2_hmac in Django's format; the
// "argon2$…", "bcrypt$…" and "bcrypt_sha256$…" strings are what Django's
// Argon2PasswordHasher, BCryptPasswordHasher and BCryptSHA256PasswordHasher
// store.
var hashVectors = []struct {
	name, encoded, password string
	rehash                  bool // with cheapParams
}{
	{"argon2id-reference-same-params", "$argon2id$v=19$m=1024,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$mEi7359ApNqrzZUkv820xx9l/3O0pG99mNGzz/G82AU", "s3cret-pass", false},
	{"argon2id-reference-other-params", "$argon2id$v=19$m=2048,t=2,p=2$MDEyMzQ1Njc4OWFiY2RlZg$/LXu5GmD/yY9h1eWS+NjMD2YjkSuoBvdXO9wOsT2E34", "s3cret-pass", true},
	{"django-argon2id", "argon2$argon2id$v=19$m=1024,t=1,p=2$U2FsdFNhbHRTYWx0MTIzNA$Yhv0YNSVHdeSWTjZ4pM3hg", "s3cret-pass", true},
	{"django-argon2i", "argon2$argon2i$v=19$m=1024,t=1,p=1$U2FsdFNhbHRTYWx0MTIzNA$kqAAinX2Sl5wD3mEqHZQZA", "s3cret-pass", true},
	{"bcrypt-2b", "$2b$04$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm", "s3cret-pass", true},
	{"bcrypt-2a", "$2a$04$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm", "s3cret-pass", true},
	{"bcrypt-2y", "$2y$04$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm", "s3cret-pass", true},
	{"bcrypt-72-bytes", "$2b$04$2N6aiDR0C/NPLE7CvgKeR.gIYB1Vu8GNi4uPJ4CPs5ZZe8FuAkaAC", strings.Repeat("x", 72), true},
	{"bcrypt-truncates-after-72-bytes", "$2b$04$2N6aiDR0C/NPLE7CvgKeR.gIYB1Vu8GNi4uPJ4CPs5ZZe8FuAkaAC", strings.Repeat("x", 72) + "ignored", true},
	{"django-bcrypt", "bcrypt$$2b$04$fXdk/xikCG25hselyGGries.b6X8seLfq4R4tJFByGPeIpPRI7RqO", "s3cret-pass", true},
	{"django-bcrypt-sha256", "bcrypt_sha256$$2b$04$0CFlDoREsEcpZ7xKOrOfMe8TuEVGdjiZA7gfmBR2cxMYJIywOVhji", "s3cret-pass", true},
	{"django-pbkdf2-sha256", "pbkdf2_sha256$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g=", "s3cret-pass", true},
	{"django-pbkdf2-sha256-unicode", "pbkdf2_sha256$1200$saltsalt$lSAwi2jqSpMCnzGZzbmGD4n5m3V5NdpNjUKrMN6KLM0=", "pässwörd-ünïcode", true},
	{"django-pbkdf2-sha1", "pbkdf2_sha1$1000$saltysalt$Ddrn2BCd2eQ0Mcfpd5Y08+CjlgE=", "s3cret-pass", true},
}

func TestVerifyReferenceVectors(t *testing.T) {
	h := NewHasher(cheapParams)
	for _, v := range hashVectors {
		t.Run(v.name, func(t *testing.T) {
			if ok, rehash := h.Verify(v.encoded, v.password); !ok || rehash != v.rehash {
				t.Errorf("Verify(right) = %v, %v; want true, %v", ok, rehash, v.rehash)
			}
			if ok, rehash := h.Verify(v.encoded, "!"+v.password[1:]); ok || rehash {
				t.Errorf("Verify(wrong) = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

func TestVerifyRejectsTamperedHashes(t *testing.T) {
	h := NewHasher(cheapParams)
	// A tampered cost must not make the test slow (bcrypt 04 → 14).
	h.limits.bcryptCost = 5
	for _, v := range hashVectors {
		t.Run(v.name, func(t *testing.T) {
			// Change one character at a time after the algorithm name.
			start := strings.IndexAny(v.encoded[1:], "$") + 2
			for i := start; i < len(v.encoded); i++ {
				if v.encoded[i] == '$' {
					continue
				}
				b := []byte(v.encoded)
				b[i] = flipChar(b[i])
				if ok, _ := h.Verify(string(b), v.password); ok {
					// Only bcrypt's unused low bits of the last salt
					// character may change without effect.
					if !strings.Contains(v.encoded, "$2") || i != strings.LastIndex(v.encoded, "$")+22 {
						t.Errorf("tampered at %d still verifies: %q", i, b)
					}
				}
			}
		})
	}
}

// flipChar swaps a character for another of the same base64/decimal kind.
func flipChar(c byte) byte {
	switch {
	case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
		return c + 1
	case c == '9':
		return '0'
	case c == 'z':
		return 'a'
	case c == 'Z':
		return 'A'
	default:
		return 'Q'
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(cheapParams)
	valid := "$argon2id$v=19$m=1024,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$mEi7359ApNqrzZUkv820xx9l/3O0pG99mNGzz/G82AU"
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"unusable-django", "!Xy7aBcDeFgHiJkLm"},
		{"plain-text", "s3cret-pass"},
		{"unknown-algorithm", "md5$salt$0123456789abcdef"},
		{"argon2d", strings.Replace(valid, "argon2id", "argon2d", 1)},
		{"argon2-no-version", strings.Replace(valid, "v=19$", "", 1)},
		{"argon2-version-16", strings.Replace(valid, "v=19", "v=16", 1)},
		{"argon2-params-reordered", strings.Replace(valid, "m=1024,t=1,p=1", "t=1,m=1024,p=1", 1)},
		{"argon2-param-leading-zero", strings.Replace(valid, "m=1024", "m=01024", 1)},
		{"argon2-param-sign", strings.Replace(valid, "t=1", "t=+1", 1)},
		{"argon2-param-overflow", strings.Replace(valid, "m=1024", "m=99999999999", 1)},
		{"argon2-t-zero", strings.Replace(valid, "t=1", "t=0", 1)},
		{"argon2-p-zero", strings.Replace(valid, "p=1", "p=0", 1)},
		{"argon2-p-256", strings.Replace(valid, "p=1", "p=256", 1)},
		{"argon2-memory-below-8p", strings.Replace(valid, "m=1024,t=1,p=1", "m=8,t=1,p=2", 1)},
		{"argon2-memory-over-limit", strings.Replace(valid, "m=1024", "m=4194304", 1)},
		{"argon2-iterations-over-limit", strings.Replace(valid, "t=1", "t=1000", 1)},
		{"argon2-padded-salt", strings.Replace(valid, "RlZg$", "RlZg==$", 1)},
		{"argon2-bad-base64", strings.Replace(valid, "MDEy", "MD!y", 1)},
		{"argon2-short-salt", strings.Replace(valid, "MDEyMzQ1Njc4OWFiY2RlZg", "MDEy", 1)},
		{"argon2-empty-key", valid[:strings.LastIndex(valid, "$")+1]},
		{"argon2-extra-field", valid + "$x"},
		{"argon2-missing-field", strings.Replace(valid, "$v=19", "", 1)},
		{"argon2-trailing-newline", valid + "\n"},
		{"argon2-newline-in-salt", strings.Replace(valid, "RlZg$", "Rl\nZg$", 1)},
		{"argon2-carriage-return-in-key", strings.Replace(valid, "/3O0", "/3\rO0", 1)},
		{"bcrypt-short", "$2b$04$plKgd6JCc26nKA1.8vbHGu"},
		{"bcrypt-cost-3", "$2b$03$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm"},
		{"bcrypt-cost-over-limit", "$2b$31$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm"},
		{"bcrypt-cost-not-digits", "$2b$x4$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm"},
		{"bcrypt-unknown-minor", "$2c$04$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRkUm"},
		{"bcrypt-bad-alphabet", "$2b$04$plKgd6JCc26nKA1.8vbHGuhpUAs5vWo6qQB4v94w1h2UB6fPVRk!m"},
		{"django-bcrypt-sha256-no-inner", "bcrypt_sha256$"},
		{"pbkdf2-missing-parts", "pbkdf2_sha256$1000$salt"},
		{"pbkdf2-iterations-zero", "pbkdf2_sha256$0$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
		{"pbkdf2-iterations-leading-zero", "pbkdf2_sha256$01000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
		{"pbkdf2-iterations-negative", "pbkdf2_sha256$-1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
		{"pbkdf2-iterations-over-limit", "pbkdf2_sha256$2000000000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
		{"pbkdf2-empty-salt", "pbkdf2_sha256$1000$$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
		{"pbkdf2-unpadded-hash", "pbkdf2_sha256$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g"},
		{"pbkdf2-other-digest", "pbkdf2_sha512$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, rehash := h.Verify(tt.encoded, "s3cret-pass"); ok || rehash {
				t.Errorf("Verify(%q) = %v, %v; want false, false", tt.encoded, ok, rehash)
			}
		})
	}
}

func TestNeedsRehashOnParameterChange(t *testing.T) {
	old := NewHasher(cheapParams)
	enc, err := old.Hash("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params Argon2Params
		rehash bool
	}{
		{"same", cheapParams, false},
		{"memory", Argon2Params{MemoryKiB: 2048, Iterations: 1, Parallelism: 1}, true},
		{"iterations", Argon2Params{MemoryKiB: 1024, Iterations: 2, Parallelism: 1}, true},
		{"parallelism", Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash := NewHasher(tt.params).Verify(enc, "s3cret-pass")
			if !ok || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v; want true, %v", ok, rehash, tt.rehash)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	for _, v := range hashVectors {
		f.Add(v.encoded, v.password)
	}
	f.Add("$argon2id$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$mEi7", "x")
	f.Add("pbkdf2_sha256$1$s$", "")
	f.Add("$2b$04$", "")
	f.Add("argon2$argon2i$v=19$m=8,t=1,p=1$$", "")
	// Cheap limits, so that the fuzzer cannot wander into hashes that
	// take seconds or gigabytes.
	h := NewHasher(cheapParams)
	h.limits = verifyLimits{argon2MemoryKiB: 2048, argon2Iterations: 2, pbkdf2Iterations: 2000, bcryptCost: 5, scryptMemory: 1 << 21}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, rehash := h.Verify(encoded, password)
		if rehash && !ok {
			t.Errorf("needsRehash without ok for %q", encoded)
		}
		if ok && !recognizes(encoded) {
			t.Errorf("verified an unrecognised format %q", encoded)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(Argon2Params{})
	for b.Loop() {
		if _, err := h.Hash("s3cret-pass"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(Argon2Params{})
	enc, err := h.Hash("s3cret-pass")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := h.Verify(enc, "s3cret-pass"); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkVerifyDjangoPBKDF2 is a migrated user's first login with
// Django 3.2's default of 260,000 iterations.
func BenchmarkVerifyDjangoPBKDF2(b *testing.B) {
	const enc = "pbkdf2_sha256$260000$Xy7aBcDeFgHiJkLm$"
	h := NewHasher(Argon2Params{})
	for b.Loop() {
		h.Verify(enc+"AAAA", "s3cret-pass")
	}
}
