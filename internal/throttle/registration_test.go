package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/throttle"
)

func TestRegistrations(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		c := &clock{t: t0}
		r, err := throttle.NewRegistrations(s, throttle.RegistrationPolicy{PerIP: 3, PerIPWindow: time.Minute, GlobalPerMinute: 60, GlobalBurst: 5}, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		admit := func(ip string) time.Duration {
			t.Helper()
			d, err := r.Admit(ctx, ip)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for i := range 3 {
			if d := admit("192.0.2.1"); d != 0 {
				t.Fatalf("registration %d refused: %v", i+1, d)
			}
		}
		if d := admit("192.0.2.1"); d != time.Minute {
			t.Fatalf("4th from one IP: wait %v, want 1m (the rest of the window)", d)
		}
		c.Advance(20 * time.Second)
		if d := admit("192.0.2.1"); d != 40*time.Second {
			t.Fatalf("20 s later: wait %v, want 40s", d)
		}
		// 20 s refilled the bucket of 5 fully (1/s); 3 taken before.
		for i := range 5 {
			if d := admit("198.51.100." + string(rune('1'+i))); d != 0 {
				t.Fatalf("other IP %d refused: %v", i, d)
			}
		}
		if d := admit("203.0.113.1"); d < time.Second {
			t.Fatalf("global burst spent: wait %v, want ≥ 1s", d)
		}
		c.Advance(time.Second)
		if d := admit("203.0.113.1"); d != 0 {
			t.Fatalf("a second later: wait %v", d)
		}
		c.Advance(time.Minute)
		if d := admit("192.0.2.1"); d != 0 {
			t.Fatalf("new window: wait %v", d)
		}
	})
}
