package signer

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/idp/idp/internal/storage/storagetest"
)

// TestPublicRings: only the rings named public are in the JWKS; the others
// still verify inside idp (refresh tokens), and KeyTimes reports each
// ring's schedule.
func TestPublicRings(t *testing.T) {
	st := storagetest.SQLite(t)
	clock := &fixedClock{t: T}
	o := opts(st, clock)
	o.Policy = testPolicy(RS256, EdDSA)
	o.Policy.Public = []string{RS256}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, Alg string } `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS().Body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the RS256 active and next: %s", len(set.Keys), s.JWKS().Body)
	}
	for _, k := range set.Keys {
		if k.Alg != RS256 {
			t.Errorf("JWKS publishes a %s key (%s)", k.Alg, k.Kid)
		}
	}
	refresh, err := s.SigningKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerificationKey(refresh.KID); err != nil {
		t.Errorf("the unpublished refresh key does not verify inside idp: %v", err)
	}
	signAndVerify(t, s, s, EdDSA)

	since, next, ok := s.KeyTimes(RS256)
	if !ok || !since.Equal(T) || !next.Equal(T.Add(testRotation)) {
		t.Errorf("KeyTimes(RS256) = %v, %v, %v; want %v, %v", since, next, ok, T, T.Add(testRotation))
	}
	if _, _, ok := s.KeyTimes(ES256); ok {
		t.Error("KeyTimes of a ring not configured reports ok")
	}
}
