package signer

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKEK(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:KEKSize] // exercises + / - _
	for _, tt := range []struct {
		name  string
		in    string
		want  []byte
		error string
	}{
		{"std-padded", base64.StdEncoding.EncodeToString(raw), raw, ""},
		{"std-raw", base64.RawStdEncoding.EncodeToString(raw), raw, ""},
		{"url-padded", base64.URLEncoding.EncodeToString(raw), raw, ""},
		{"url-raw", base64.RawURLEncoding.EncodeToString(raw), raw, ""},
		{"surrounding-whitespace", "  " + base64.StdEncoding.EncodeToString(raw) + "\n", raw, ""},
		{"empty", "", nil, "empty"},
		{"too-short", base64.StdEncoding.EncodeToString(raw[:16]), nil, "decodes to 16 bytes, want 32"},
		{"too-long", base64.StdEncoding.EncodeToString(append(raw, 1)), nil, "decodes to 33 bytes"},
		{"not-base64", "this is not base64 at all, secret-ish!!", nil, "not valid base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKEK(tt.in)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("err = %v, want %q", err, tt.error)
				}
				if strings.TrimSpace(tt.in) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Error("error echoes the secret")
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("ParseKEK = %x, %v", got, err)
			}
		})
	}
}

func TestGenerateKEK(t *testing.T) {
	a, err := GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateKEK()
	if a == b {
		t.Error("two KEKs are equal")
	}
	if k, err := ParseKEK(a); err != nil || len(k) != KEKSize {
		t.Errorf("generated KEK does not parse: %v", err)
	}
}

func TestLoadOrCreateKEKFile(t *testing.T) {
	t.Run("create-then-load", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		path := filepath.Join(dir, "kek")
		kek, created, err := LoadOrCreateKEKFile(path)
		if err != nil || !created || len(kek) != KEKSize {
			t.Fatalf("first call: %d bytes, created %v, %v", len(kek), created, err)
		}
		assertMode(t, dir, 0o700)
		assertMode(t, path, 0o600)
		again, created, err := LoadOrCreateKEKFile(path)
		if err != nil || created || !bytes.Equal(again, kek) {
			t.Fatalf("second call: created %v, same %v, %v", created, bytes.Equal(again, kek), err)
		}
	})
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run("refuses-mode-"+mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek")
			enc, _ := GenerateKEK()
			if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateKEKFile(path)
			if err == nil || !strings.Contains(err.Error(), "accessible by group or others") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), enc) {
				t.Error("error echoes the KEK")
			}
		})
	}
	t.Run("bad-content", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateKEKFile(path); err == nil || strings.Contains(err.Error(), "short") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		path := t.TempDir()
		if err := os.Chmod(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateKEKFile(path); err == nil {
			t.Fatal("accepted a directory")
		}
	})
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %04o, want %04o", path, got, want)
	}
}

// FuzzParseKEK: any input either decodes to exactly 32 bytes or fails with
// an error that does not contain it.
func FuzzParseKEK(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add("not base64")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		kek, err := ParseKEK(s)
		if err == nil {
			if len(kek) != KEKSize {
				t.Fatalf("%d bytes", len(kek))
			}
			return
		}
		if trimmed := strings.TrimSpace(s); len(trimmed) > 3 && strings.Contains(err.Error(), trimmed) {
			t.Fatalf("error %q echoes the input", err)
		}
	})
}
