package signer

import (
	"slices"
	"time"

	"github.com/idp/idp/internal/storage"
)

// public reports whether the JWKS lists keys of alg's ring.
func (s *Signer) public(alg string) bool {
	return len(s.publicAlgs) == 0 || slices.Contains(s.publicAlgs, alg)
}

// KeyTimes reports the schedule of alg's ring as loaded: since when its
// active key signs, and when its next key is due to take over (zero if no
// next key is scheduled). ok is false if the ring has no active key.
func (s *Signer) KeyTimes(alg string) (activeSince, nextRotation time.Time, ok bool) {
	snap := s.snap.Load()
	if snap == nil {
		return time.Time{}, time.Time{}, false
	}
	active := snap.active[alg]
	if active == nil {
		return time.Time{}, time.Time{}, false
	}
	activeSince = active.ActivatesAt
	if activeSince.IsZero() {
		activeSince = active.CreatedAt
	}
	for _, k := range snap.published {
		if string(k.Alg) == alg && k.State == storage.KeyNext && (nextRotation.IsZero() || k.ActivatesAt.Before(nextRotation)) {
			nextRotation = k.ActivatesAt
		}
	}
	return activeSince, nextRotation, true
}
