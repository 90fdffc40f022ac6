package users

import (
	"crypto/des"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// Without a salt, desEncrypt is DES: the tables are checked against the
// standard library.
func TestDESEncryptMatchesCryptoDES(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		key, block := r.Uint64(), r.Uint64()
		var kb, pb, want [8]byte
		binary.BigEndian.PutUint64(kb[:], key)
		binary.BigEndian.PutUint64(pb[:], block)
		c, err := des.NewCipher(kb[:])
		if err != nil {
			t.Fatal(err)
		}
		c.Encrypt(want[:], pb[:])
		ks := desSubkeys(key)
		e := desE
		if got := desEncrypt(block, &ks, &e, 1); got != binary.BigEndian.Uint64(want[:]) {
			t.Fatalf("DES(%016x, %016x) = %016x, want %x", key, block, got, want)
		}
	}
}

// Known crypt(3) outputs (glibc's, as Python's crypt module gives them).
func TestDESCryptKnownAnswers(t *testing.T) {
	for _, tt := range []struct{ password, salt, want string }{
		{"test", "aa", "aaqPiZY5xR5l."},
		{"", "..", "..X8NBuQ4l6uQ"},
	} {
		if got := desCrypt(tt.password, tt.salt); got != tt.want {
			t.Errorf("desCrypt(%q, %q) = %q, want %q", tt.password, tt.salt, got, tt.want)
		}
	}
}
