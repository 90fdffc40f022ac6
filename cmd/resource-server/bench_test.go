package main

import (
	"context"
	"net/http/httptest"
	"testing"
)

// BenchmarkVerify: the per-request cost with the keys cached.
func BenchmarkVerify(b *testing.B) {
	keys := testKeys()
	f := newFakeIssuer(b, keys["rsa"].pub, keys["ed"].pub, keys["ec"].pub)
	v, _, _ := startVerifier(b, f, nil)
	for _, name := range []string{"rsa", "ed", "ec"} {
		k := keys[name]
		tok := signAccess(b, k, accessClaims(f.URL, testNow))
		b.Run(string(k.alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWhoami: one authenticated request through the handler.
func BenchmarkWhoami(b *testing.B) {
	rsa := testKeys()["rsa"]
	f := newFakeIssuer(b, rsa.pub)
	v, _, _ := startVerifier(b, f, nil)
	h := newHandler(v, v.log)
	auth := "Bearer " + signAccess(b, rsa, accessClaims(f.URL, testNow))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/whoami", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}
