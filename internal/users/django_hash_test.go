package users

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/idp/idp/internal/storage/storagetest"
)

// djangoVectors are made by Django's own hashers: see
// testdata/django_hashes.py, which wrote testdata/django_hashes.json.
type djangoVectors struct {
	Django  string `json:"django"`
	Vectors []struct {
		Name, Password, Encoded string
		Weak                    bool
	} `json:"vectors"`
	Unusable []string `json:"unusable"`
}

func loadDjangoVectors(t testing.TB) djangoVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/django_hashes.json")
	if err != nil {
		t.Fatal(err)
	}
	var v djangoVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) < 30 {
		t.Fatalf("only %d vectors", len(v.Vectors))
	}
	return v
}

func TestDjangoHashVectors(t *testing.T) {
	dv := loadDjangoVectors(t)
	h := NewHasher(cheapParams)
	for i, v := range dv.Vectors {
		t.Run(v.Name+"/"+string(rune('a'+i%26)), func(t *testing.T) {
			f, err := IdentifyHash(v.Encoded)
			wantAlgo, _, _ := strings.Cut(v.Name, "-")
			if strings.HasPrefix(wantAlgo, "argon2") {
				wantAlgo = "argon2" // Django's name for both variants
			}
			if err != nil || f.Algorithm != wantAlgo || f.Weak != v.Weak || !f.Usable {
				t.Fatalf("IdentifyHash = %+v, %v; want %s weak=%v usable", f, err, wantAlgo, v.Weak)
			}
			if ok, rehash := h.Verify(v.Encoded, v.Password); !ok || !rehash {
				t.Errorf("Verify(right) = %v, %v; want true, true (every Django hash is replaced)", ok, rehash)
			}
			wrongs := []string{"!" + v.Password[1:], "", strings.ToUpper(v.Password)}
			if !(wantAlgo == "bcrypt" && len(v.Password) > 72) && !(wantAlgo == "crypt" && len(v.Password) > 8) { // they read 72 and 8 bytes
				wrongs = append(wrongs, v.Password[:len(v.Password)-1])
			}
			for _, wrong := range wrongs {
				if ok, _ := h.Verify(v.Encoded, wrong); ok {
					t.Errorf("Verify(%q) = true", wrong)
				}
			}
		})
	}
}

func TestDjangoUnusablePasswords(t *testing.T) {
	dv := loadDjangoVectors(t)
	h := NewHasher(cheapParams)
	for _, enc := range append(dv.Unusable, "") {
		f, err := IdentifyHash(enc)
		if err != nil || f.Usable || f.Algorithm != "unusable" {
			t.Errorf("IdentifyHash(%q) = %+v, %v; want unusable", enc, f, err)
		}
		for _, pw := range []string{"", enc, strings.TrimPrefix(enc, "!")} {
			if ok, _ := h.Verify(enc, pw); ok {
				t.Errorf("unusable %q verified with %q", enc, pw)
			}
		}
	}
}

func TestIdentifyHashRefusesMalformed(t *testing.T) {
	tests := []struct {
		name, encoded string
		want          error
	}{
		{"pbkdf2/short-key", "pbkdf2_sha256$1000$salt$c2hvcnQ=", ErrMalformedHash},
		{"pbkdf2/no-salt", "pbkdf2_sha256$1000$$zqegGZtb6adYVlBb/qweFa+uIn7q1NeOWpsaDjN/3dY=", ErrMalformedHash},
		{"pbkdf2/leading-zero", "pbkdf2_sha256$01000$s$zqegGZtb6adYVlBb/qweFa+uIn7q1NeOWpsaDjN/3dY=", ErrMalformedHash},
		{"pbkdf2/too-many-iterations", "pbkdf2_sha256$99999999$s$zqegGZtb6adYVlBb/qweFa+uIn7q1NeOWpsaDjN/3dY=", ErrMalformedHash},
		{"pbkdf2_sha1/sha256-length", "pbkdf2_sha1$1000$s$zqegGZtb6adYVlBb/qweFa+uIn7q1NeOWpsaDjN/3dY=", ErrMalformedHash},
		{"argon2/bad-version", "argon2$argon2id$v=16$m=1024,t=1,p=2$OGV6N3p6RURtenVBUFNvdFpmTWdCTw$oLmLfV6UfBGc3p3eA8oyCQ", ErrMalformedHash},
		{"argon2/argon2d", "argon2$argon2d$v=19$m=1024,t=1,p=2$OGV6N3p6RURtenVBUFNvdFpmTWdCTw$oLmLfV6UfBGc3p3eA8oyCQ", ErrMalformedHash},
		{"bcrypt/truncated", "bcrypt$$2b$04$voiB0IwCaCT9gwkt5MtOZeHMf5MxZPjnG7wdyWvhzm2QSaLh1F22", ErrMalformedHash},
		{"bcrypt_sha256/cost-31", "bcrypt_sha256$$2b$31$IeFiIoL4Gduv2igTGDaAd.KXv2VRfZaJK0Hp7.N6Z3JE.NBw44ZqG", ErrMalformedHash},
		{"scrypt/n-not-power-of-two", "scrypt$1000$n2oS7snsF7qPvFMM5FBL2O$8$1$eG2Q6ECrX9s95/iuSQ0oD//sAiNCixbc5jsczsEvOFbO93Q28I/" + strings.Repeat("A", 42) + "==", ErrMalformedHash},
		{"md5/uppercase-hex", "md5$salt$1D9EBC3E2E37D2BF16FDC1D25DFD9EEA", ErrMalformedHash},
		{"sha1/short", "sha1$salt$a7f1c4e5", ErrMalformedHash},
		{"crypt/short", "crypt$$5jX/xRw1OP2K", ErrMalformedHash},
		{"crypt/non-canonical-last", "crypt$$5jX/xRw1OP2K/", ErrMalformedHash},
		{"unknown/plain-text", "hunter2", ErrUnknownHash},
		{"unknown/algorithm", "sha512$salt$abc", ErrUnknownHash},
		{"unknown/phc-like", "$6$rounds=5000$salt$hash", ErrUnknownHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := IdentifyHash(tt.encoded); !errors.Is(err, tt.want) {
				t.Errorf("IdentifyHash(%q) = %v, want %v", tt.encoded, err, tt.want)
			}
		})
	}
}

// An imported Django hash logs in once, is then replaced by idp's argon2id
// (recorded in the audit log, without the hash), and the password still
// works. Weak formats included.
func TestImportedHashRehashedOnFirstLoginAudited(t *testing.T) {
	dv := loadDjangoVectors(t)
	for _, name := range []string{"pbkdf2_sha256-1000", "argon2i", "bcrypt_sha256", "scrypt", "unsalted_md5", "crypt"} {
		t.Run(name, func(t *testing.T) {
			var enc, pw string
			for _, v := range dv.Vectors {
				if v.Name == name {
					enc, pw = v.Encoded, v.Password
					break
				}
			}
			store := storagetest.SQLite(t)
			svc, _ := newTestService(t, store, func(o *Options) { o.Audit = store })
			u, err := store.CreateUser(context.Background(), migratedUser("imported@example.com", enc))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authenticate(context.Background(), "imported@example.com", pw); err != nil {
				t.Fatalf("first login: %v", err)
			}
			got, _ := store.GetUser(context.Background(), u.ID)
			if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
				t.Fatalf("hash after login = %q, want argon2id", got.PasswordHash)
			}
			if !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
				t.Error("a rehash moved PasswordChangedAt (it would end sessions)")
			}
			events, _ := store.ListAudit(context.Background(), 0, 10)
			if len(events) != 1 || events[0].Type != "password.rehashed" || events[0].UserID != u.ID ||
				!strings.HasPrefix(events[0].Detail, strings.TrimSuffix(name, "-1000")+" ") || strings.Contains(events[0].Detail, enc) {
				t.Fatalf("audit = %+v, want one password.rehashed naming the old format", events)
			}
			if _, err := svc.Authenticate(context.Background(), "imported@example.com", pw); err != nil {
				t.Fatalf("second login: %v", err)
			}
			if events, _ := store.ListAudit(context.Background(), 0, 10); len(events) != 1 {
				t.Error("second login rehashed again")
			}
		})
	}
}

func FuzzIdentifyHash(f *testing.F) {
	dv := loadDjangoVectors(f)
	for _, v := range dv.Vectors {
		f.Add(v.Encoded, v.Password)
	}
	h := NewHasher(cheapParams)
	h.limits = verifyLimits{argon2MemoryKiB: 2048, argon2Iterations: 2, pbkdf2Iterations: 2000, bcryptCost: 5, scryptMemory: 1 << 21}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		hf, err := IdentifyHash(encoded)
		if ok, _ := h.Verify(encoded, password); ok && (err != nil || !hf.Usable) {
			t.Errorf("%q verifies but IdentifyHash = %+v, %v", encoded, hf, err)
		}
	})
}

func TestCheckImported(t *testing.T) {
	tests := []struct {
		name      string
		in        ImportedAccount
		want      ImportedAccount
		badFields []string
	}{
		{"normalised-like-registration", ImportedAccount{" Bob@EXAMPLE.com ", " Bob "}, ImportedAccount{"Bob@example.com", "Bob"}, nil},
		{"blank-name-allowed", ImportedAccount{"a@example.com", ""}, ImportedAccount{"a@example.com", ""}, nil},
		{"name-101", ImportedAccount{"a@example.com", strings.Repeat("é", 101)}, ImportedAccount{}, []string{FieldName}},
		{"not-an-email", ImportedAccount{"not-an-email", "X"}, ImportedAccount{}, []string{FieldEmail}},
		{"blank-email", ImportedAccount{"  ", "X"}, ImportedAccount{}, []string{FieldEmail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ve := CheckImported(tt.in)
			if tt.badFields == nil {
				if ve != nil || got != tt.want {
					t.Fatalf("CheckImported = %+v, %v; want %+v", got, ve, tt.want)
				}
				return
			}
			for _, f := range tt.badFields {
				if ve == nil || !ve.Has(f) {
					t.Fatalf("CheckImported = %v; want a problem with %s", ve, f)
				}
			}
		})
	}
}
