package argon2

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// dirtyMemory is a Memory whose blocks hold garbage, as after an earlier
// hash with other inputs.
func dirtyMemory(t testing.TB, retainKiB uint32) *Memory {
	t.Helper()
	m := NewMemory(retainKiB)
	b := m.blocks(retainKiB)
	for i := range b {
		for j := range b[i] {
			b[i][j] = uint64(i)*0x9e3779b97f4a7c15 ^ uint64(j)
		}
	}
	return m
}

// TestMemoryMatchesXCrypto: keys derived in reused (dirty) memory are
// x/crypto's, for argon2id and argon2i, every lane count, memory sizes
// below, at and above what the Memory keeps (and the RFC 9106 test
// vectors, with a secret and associated data, in all three modes).
func TestMemoryMatchesXCrypto(t *testing.T) {
	const retain = 256
	m := dirtyMemory(t, retain)
	for i, c := range []struct {
		time, memory uint32
		threads      uint8
	}{
		{1, 8, 1}, {2, 64, 1}, {3, 255, 1}, {2, 256, 1}, {1, 257, 1}, {2, 1024, 1},
		{1, 64, 2}, {2, 256, 4}, {3, 100, 3}, {1, 512, 8}, {4, 32, 4},
	} {
		pw := fmt.Appendf(nil, "password %d", i)
		salt := make([]byte, 16)
		rand.Read(salt)
		name := fmt.Sprintf("t=%d,m=%d,p=%d", c.time, c.memory, c.threads)
		if got, want := m.IDKey(pw, salt, c.time, c.memory, c.threads, 32), xargon2.IDKey(pw, salt, c.time, c.memory, c.threads, 32); !bytes.Equal(got, want) {
			t.Errorf("argon2id %s: %x, x/crypto %x", name, got, want)
		}
		if got, want := m.Key(pw, salt, c.time, c.memory, c.threads, 32), xargon2.Key(pw, salt, c.time, c.memory, c.threads, 32); !bytes.Equal(got, want) {
			t.Errorf("argon2i %s: %x, x/crypto %x", name, got, want)
		}
	}
	if len(m.b) != retain {
		t.Errorf("memory keeps %d blocks, want %d (a larger derivation must not grow it)", len(m.b), retain)
	}
	for _, mode := range []int{argon2d, argon2i, argon2id} {
		kat := deriveKey(nil, mode, genKatPassword, genKatSalt, genKatSecret, genKatAAD, 3, 32, 4, 32)
		if got := deriveKey(dirtyMemory(t, 32), mode, genKatPassword, genKatSalt, genKatSecret, genKatAAD, 3, 32, 4, 32); !bytes.Equal(got, kat) {
			t.Errorf("mode %d test vector in reused memory: %x, want %x", mode, got, kat)
		}
	}
}

// FuzzMemoryMatchesXCrypto: any password, salt and small parameters give
// x/crypto's key in a reused Memory.
func FuzzMemoryMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesaltsomesalt"), uint8(2), uint16(64), uint8(1), uint8(32))
	f.Add([]byte(""), []byte("12345678"), uint8(1), uint16(8), uint8(4), uint8(4))
	m := dirtyMemory(f, 128)
	f.Fuzz(func(t *testing.T, pw, salt []byte, time uint8, memory uint16, threads, keyLen uint8) {
		tm, mem, th, kl := uint32(time%4)+1, uint32(memory%300)+8, threads%8+1, uint32(keyLen%64)+4
		if got, want := m.IDKey(pw, salt, tm, mem, th, kl), xargon2.IDKey(pw, salt, tm, mem, th, kl); !bytes.Equal(got, want) {
			t.Fatalf("t=%d m=%d p=%d: %x, x/crypto %x", tm, mem, th, got, want)
		}
	})
}

// BenchmarkIDKeyDefault compares a derivation at idp's default parameters
// in reused memory with x/crypto's, which allocates per derivation.
func BenchmarkIDKeyDefault(b *testing.B) {
	pw, salt := []byte("password"), []byte("somesaltsomesalt")
	b.Run("reused-memory", func(b *testing.B) {
		m := NewMemory(19456)
		for b.Loop() {
			m.IDKey(pw, salt, 2, 19456, 1, 32)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			xargon2.IDKey(pw, salt, 2, 19456, 1, 32)
		}
	})
}
