package throttle_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/throttle"
)

// FuzzGuard: whatever email a client types and whatever address it comes
// from (any address the HTTP layer can extract), the guard counts and
// checks without error, and a block lands on every spelling of the email
// that differs only in case and surrounding spaces.
func FuzzGuard(f *testing.F) {
	for _, seed := range []struct{ email, ip string }{
		{"alice@example.com", "192.0.2.1"},
		{"  Alice@Example.COM\t", "2001:db8::1"},
		{"\x00\xff\xfe", "::ffff:192.0.2.1"},
		{strings.Repeat("é", 200), "fe80::1"},
		{"", "0.0.0.0"},
	} {
		f.Add(seed.email, seed.ip)
	}
	store := storagetest.SQLite(f)
	now := t0
	g, err := throttle.New(throttle.Options{Store: store, Audit: store, Policy: throttle.Policy{PairLimit: 1, IPLimit: 1 << 40, AccountLimit: 1 << 40},
		Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, email, ip string) {
		if _, err := netip.ParseAddr(ip); err != nil {
			t.Skip("not an address the HTTP layer extracts")
		}
		now = now.Add(time.Hour) // a fresh window for every input
		ctx := context.Background()
		a := throttle.Attempt{Email: email, IP: ip, UserAgent: email}
		if d, err := g.Admit(ctx, a); err != nil || d != 0 {
			t.Fatalf("Admit before any failure = %v, %v", d, err)
		}
		if err := g.Failed(ctx, a); err != nil {
			t.Fatalf("Failed: %v", err)
		}
		variant := a
		variant.Email = strings.ToUpper(email)
		if strings.ToLower(strings.ToUpper(email)) != strings.ToLower(email) {
			variant.Email = email // case mapping is not round-trip for this input
		}
		if d, err := g.Blocked(ctx, variant); err != nil || d != 30*time.Second {
			t.Fatalf("Blocked(%q) after the pair's limit = %v, %v; want 30s", variant.Email, d, err)
		}
		if err := g.Succeeded(ctx, a, 1); err != nil {
			t.Fatalf("Succeeded: %v", err)
		}
	})
}
