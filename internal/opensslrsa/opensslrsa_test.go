package opensslrsa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"sync"
	"testing"
)

// requireOpenSSL enables OpenSSL for the test, skipping where the host has
// no libcrypto.so.3 — unless IDP_TEST_REQUIRE_OPENSSL=1 (CI), where that is
// a failure.
func requireOpenSSL(t testing.TB) {
	t.Helper()
	desc, err := Configure(OpenSSL)
	if err != nil {
		if os.Getenv("IDP_TEST_REQUIRE_OPENSSL") == "1" {
			t.Fatalf("OpenSSL required: %v", err)
		}
		t.Skipf("no OpenSSL here: %v", err)
	}
	t.Logf("RSA implementation: %s", desc)
	t.Cleanup(func() { _, _ = Configure(Auto) })
}

func TestSignaturesAreCryptoRSAs(t *testing.T) {
	requireOpenSSL(t)
	for _, bits := range []int{2048, 3072, 4096} {
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Wrap(priv)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*signer); !ok {
			t.Fatalf("%d bits: Wrap gave %T, want the OpenSSL signer", bits, s)
		}
		for i := range 20 {
			d := sha256.Sum256([]byte{byte(i), byte(bits)})
			got, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			want, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bits, digest %d: OpenSSL and crypto/rsa signatures differ", bits, i)
			}
		}
	}
}

func TestOtherSignaturesGoToCryptoRSA(t *testing.T) {
	requireOpenSSL(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(priv)
	if err != nil {
		t.Fatal(err)
	}
	d384 := make([]byte, 48)
	sig, err := s.Sign(rand.Reader, d384, crypto.SHA384)
	if err != nil || rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA384, d384, sig) != nil {
		t.Fatalf("SHA-384: %v", err)
	}
	d := sha256.Sum256([]byte("pss"))
	pss := &rsa.PSSOptions{Hash: crypto.SHA256}
	sig, err = s.Sign(rand.Reader, d[:], pss)
	if err != nil || rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, d[:], sig, pss) != nil {
		t.Fatalf("PSS: %v", err)
	}
	if _, err := s.Sign(rand.Reader, []byte("short"), crypto.SHA256); err == nil {
		t.Fatal("a digest of the wrong length was signed")
	}
}

func TestGoModeKeepsCryptoRSA(t *testing.T) {
	if _, err := Configure(Go); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = Configure(Auto) })
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(priv)
	if err != nil || s != crypto.Signer(priv) {
		t.Fatalf("Wrap in go mode = %T, %v; want the key itself", s, err)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Auto, "auto": Auto, "go": Go, "openssl": OpenSSL} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseMode("boring"); err == nil {
		t.Error("ParseMode(boring) accepted")
	}
}

func TestConcurrentSigning(t *testing.T) {
	requireOpenSSL(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Wrap(priv)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				d := sha256.Sum256([]byte{byte(g), byte(i)})
				sig, err := s.Sign(nil, d[:], crypto.SHA256)
				if err == nil {
					err = rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, d[:], sig)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func benchmarkSign(b *testing.B, s crypto.Signer) {
	d := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRS256Sign compares the two implementations (-cpu 1,2).
func BenchmarkRS256Sign(b *testing.B) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	priv.Precompute()
	b.Run("go", func(b *testing.B) { benchmarkSign(b, priv) })
	b.Run("openssl", func(b *testing.B) {
		requireOpenSSL(b)
		s, err := Wrap(priv)
		if err != nil {
			b.Fatal(err)
		}
		benchmarkSign(b, s)
	})
}
