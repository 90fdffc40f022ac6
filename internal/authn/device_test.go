package authn_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/storage"
)

// TestDeviceCookie: a successful login hands out a device token; an
// attempt presenting it is counted on that device (throttle Device set)
// only when the token is genuine, for the same account, and not expired.
func TestDeviceCookie(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	alice := storage.User{ID: 1, Email: "alice@example.com", IsActive: true}
	newSvc := func(keys ...[]byte) (*authn.Service, *fakeGuard) {
		g := &fakeGuard{}
		s, err := authn.New(authn.Options{Users: &fakeUsers{user: alice}, Guard: g, DeviceKeys: keys, Now: clock, DeviceTTL: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return s, g
	}
	login := func(s *authn.Service, email, device string) authn.Result {
		t.Helper()
		r, err := s.Login(context.Background(), authn.Attempt{Email: email, Password: "pw", IP: "192.0.2.1", Device: device})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	s, _ := newSvc(k1)
	tok := login(s, "alice@example.com", "").Device
	if !strings.HasPrefix(tok, "d1.") || len(tok) > 128 {
		t.Fatalf("device token %q", tok)
	}
	cases := []struct {
		name   string
		keys   [][]byte
		email  string
		token  string
		later  time.Duration
		honour bool
	}{
		{name: "genuine", keys: [][]byte{k1}, email: "alice@example.com", token: tok, honour: true},
		{name: "other-case-same-account", keys: [][]byte{k1}, email: "ALICE@example.com", token: tok, honour: true},
		{name: "rotated-key-still-verifies", keys: [][]byte{k2, k1}, email: "alice@example.com", token: tok, honour: true},
		{name: "other-account", keys: [][]byte{k1}, email: "bob@example.com", token: tok},
		{name: "other-key", keys: [][]byte{k2}, email: "alice@example.com", token: tok},
		{name: "tampered", keys: [][]byte{k1}, email: "alice@example.com", token: tok[:5] + "A" + tok[6:]},
		{name: "expired", keys: [][]byte{k1}, email: "alice@example.com", token: tok, later: 25 * time.Hour},
		{name: "garbage", keys: [][]byte{k1}, email: "alice@example.com", token: "d1.%%%.???"},
		{name: "oversized", keys: [][]byte{k1}, email: "alice@example.com", token: tok + strings.Repeat("A", 200)},
		{name: "no-keys-no-devices", email: "alice@example.com", token: tok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			saved := now
			now = now.Add(tc.later)
			defer func() { now = saved }()
			s, g := newSvc(tc.keys...)
			login(s, tc.email, tc.token)
			got := g.admitted[0].Device
			if tc.honour != (got != "") {
				t.Fatalf("device %q honoured=%v, want %v", got, got != "", tc.honour)
			}
			if got != "" && strings.Contains(tok, got) {
				t.Errorf("device id %q is a substring of the token", got)
			}
		})
	}
	if _, err := authn.New(authn.Options{Users: &fakeUsers{}, DeviceKeys: [][]byte{[]byte("short")}}); err == nil {
		t.Error("a 5-byte device key was accepted")
	}
}
