package tokens

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers tokens whose signature and claims verified, so
// that verifying the same token again (what resource servers and API
// clients do) skips the signature check: an RS256 verification costs ~100 µs of CPU, a
// lookup under a SHA-256 of the token a few µs. A hit is re-checked for
// what can change: the time window (exp, iat, nbf against now, with the leeway) and the key (revoked or
// expired keys fail VerificationKey). Revocation and family state are
// checked by the callers on every call, hit or not.
type verifiedCache struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*claims
	max int
}

// verifiedCacheSize bounds the cache (~0.5 KiB an entry).
const verifiedCacheSize = 20000

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[[sha256.Size]byte]*claims), max: max}
}

func (v *verifiedCache) get(k [sha256.Size]byte) *claims {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[k]
}

// put stores c; when full, expired entries go first, then about a tenth
// of the rest (map order is random).
func (v *verifiedCache) put(k [sha256.Size]byte, c *claims, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		for key, e := range v.m {
			if !now.Before(e.expires) {
				delete(v.m, key)
			}
		}
		for key := range v.m {
			if len(v.m) < v.max*9/10 {
				break
			}
			delete(v.m, key)
		}
	}
	v.m[k] = c
}

// parseCached is parse for the endpoints resource servers and clients call
// with the same token again and again (introspection, token/verify/, a
// bearer token on the API): a token verified before is taken from the
// cache after its expiry and key are re-checked. The
// claims returned must not be modified.
func (s *Service) parseCached(token string, want kind) (*claims, error) {
	if len(token) > maxTokenSize {
		return nil, invalid("too large")
	}
	k := sha256.Sum256([]byte(token))
	now := s.now()
	if c := s.verified.get(k); c != nil {
		switch {
		case !now.Before(c.expires.Add(s.leeway)):
			return nil, invalid("expired")
		case c.issuedAt.After(now.Add(s.leeway)):
			return nil, invalid("iat in the future")
		case c.notBefore.After(now.Add(s.leeway)):
			return nil, invalid("nbf")
		case want != kindAny && c.kind != want:
			return nil, &reasonError{ErrWrongType, kinds[c.kind].tokenType + " token"}
		}
		if _, err := s.keys.VerificationKey(c.kid); err != nil {
			return nil, invalid("unknown kid")
		}
		return c, nil
	}
	c, err := s.parse(token, want)
	if err != nil {
		return nil, err
	}
	s.verified.put(k, c, now)
	return c, nil
}
