package signer

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/idp/idp/internal/storage"
)

// Options configures a Signer.
type Options struct {
	Store storage.SigningKeys
	// KEKs are 32-byte key-encryption keys: the first seals new keys, all
	// are tried (by id) to unseal. Required.
	KEKs [][]byte
	// Policy is the key schedule; zero fields take DefaultPolicy's values.
	Policy Policy
	// Families, if set, has sessions revoked with the key that signed their
	// current refresh token.
	Families storage.Families
	// Audit, if set, records key events.
	Audit  storage.Audit
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultPolicy is the schedule for unset Policy fields: RS256, 30-day
// rotation, next keys published an hour before they may activate, retired
// keys kept for a day (the default refresh-token lifetime).
func DefaultPolicy() Policy {
	return Policy{
		Rings:          []string{RS256},
		RSABits:        2048,
		RotationPeriod: 30 * 24 * time.Hour,
		PrePublish:     time.Hour,
		Retention:      map[string]time.Duration{},
	}
}

func withDefaults(p Policy) Policy {
	d := DefaultPolicy()
	if len(p.Rings) == 0 {
		p.Rings = d.Rings
	}
	p.Rings = slices.Compact(slices.Sorted(slices.Values(p.Rings)))
	p.RSABits = cmp.Or(p.RSABits, d.RSABits)
	p.RotationPeriod = cmp.Or(p.RotationPeriod, d.RotationPeriod)
	p.PrePublish = cmp.Or(p.PrePublish, d.PrePublish)
	if p.Retention == nil {
		p.Retention = map[string]time.Duration{}
	}
	for _, alg := range p.Rings {
		if _, ok := p.Retention[alg]; !ok {
			p.Retention[alg] = 24 * time.Hour
		}
	}
	return p
}

// JWKS is the pre-rendered public key set: compact JSON {"keys":[…]} and
// its strong, quoted ETag.
type JWKS struct {
	Body []byte
	ETag string
}

// Signer holds the current key set. Its read methods are safe for
// concurrent use and lock-free; Reload replaces the snapshot atomically.
type Signer struct {
	store storage.SigningKeys
	keks  [][]byte
	algs  []string
	// publicAlgs are the rings the JWKS lists; nil: all.
	publicAlgs []string
	life       *Lifecycle
	now        func() time.Time
	log        *slog.Logger

	snap atomic.Pointer[snapshot]

	mu    sync.Mutex      // serialises Reload; guards cache
	cache map[string]*Key // unsealed key material by kid (State etc. not used)
}

// snapshot is an immutable view of the key set. Never modified once
// published.
type snapshot struct {
	version   string          // fingerprint of the rows it was built from
	active    map[string]*Key // by algorithm
	published map[string]*Key // next/active/retired, not expired, by kid
	jwks      JWKS
	ready     bool
}

// New loads the key set, brings it in line with the policy (an active and
// a next key in every ring, generated on a fresh database; another instance
// doing it first is fine) and builds the first snapshot.
func New(ctx context.Context, opts Options) (*Signer, error) {
	s, err := newSigner(opts)
	if err != nil {
		return nil, err
	}
	if err := s.Maintain(ctx); err != nil {
		return nil, err
	}
	if !s.Ready() {
		return nil, fmt.Errorf("signing keys: no usable active key for every algorithm of %v", s.algs)
	}
	return s, nil
}

func newSigner(opts Options) (*Signer, error) {
	if opts.Store == nil {
		return nil, errors.New("signer: Store is required")
	}
	if len(opts.KEKs) == 0 {
		return nil, errors.New("signer: at least one key-encryption key is required")
	}
	for i, k := range opts.KEKs {
		if len(k) != KEKSize {
			return nil, fmt.Errorf("signer: key-encryption key #%d is %d bytes, want %d", i+1, len(k), KEKSize)
		}
	}
	policy := withDefaults(opts.Policy)
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	s := &Signer{
		store: opts.Store,
		keks:  slices.Clone(opts.KEKs),
		algs:  policy.Rings,

		publicAlgs: slices.Clone(policy.Public),
		now:        opts.Now,
		log:        opts.Logger,
		cache:      map[string]*Key{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.life = &Lifecycle{
		Store: opts.Store, KEKs: s.keks, Policy: policy,
		Families: opts.Families, Audit: opts.Audit, Now: s.now, Logger: s.log,
	}
	return s, nil
}

// Lifecycle is the signer's key lifecycle (for commands that change keys
// through a running signer, and for tests).
func (s *Signer) Lifecycle() *Lifecycle { return s.life }

// Maintain runs the policy (rotating when due, removing expired keys; a
// no-op when another instance already did it) and reloads the snapshot.
// Every instance calls it periodically.
func (s *Signer) Maintain(ctx context.Context) error {
	if _, err := s.life.Maintain(ctx); err != nil {
		// Keep serving with what is loaded; the caller logs.
		if rerr := s.Reload(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
		return fmt.Errorf("maintain signing keys: %w", err)
	}
	return s.Reload(ctx)
}

// Reload re-reads the key set and, if it changed, publishes a new snapshot.
// Keys already unsealed are reused; only new kids are unsealed. On error
// the previous snapshot stays in use.
func (s *Signer) Reload(ctx context.Context) error {
	s.mu.Lock() // one reload at a time: a slow one must not publish stale rows after a newer one
	defer s.mu.Unlock()

	rows, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := s.now()

	version := rowsVersion(rows, now)
	if cur := s.snap.Load(); cur != nil && cur.version == version {
		return nil
	}
	snap, err := s.build(rows, now)
	if err != nil {
		return err
	}
	snap.version = version
	s.snap.Store(snap)
	return nil
}

// rowsVersion fingerprints what a snapshot depends on: each row's identity,
// state and schedule, and which keys have expired by now.
func rowsVersion(rows []storage.SigningKey, now time.Time) string {
	h := sha256.New()
	for _, r := range rows {
		expired := !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
		fmt.Fprintf(h, "%s|%s|%s|%d|%d|%t|%x|%x\n", r.KID, r.Alg, r.State,
			r.CreatedAt.UnixNano(), r.ActivatesAt.UnixNano(), expired,
			sha256.Sum256(r.PrivateKey), sha256.Sum256(r.PublicJWK))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// build makes a snapshot from rows. Called with s.mu held.
func (s *Signer) build(rows []storage.SigningKey, now time.Time) (*snapshot, error) {
	snap := &snapshot{
		active:    map[string]*Key{},
		published: map[string]*Key{},
	}
	var pub []*Key
	seen := make(map[string]bool, len(rows))
	for _, r := range orderForJWKS(rows) {
		seen[r.KID] = true
		switch r.State {
		case storage.KeyNext, storage.KeyActive, storage.KeyRetired, storage.KeyRevoked:
		default:
			return nil, fmt.Errorf("signing key %s: unknown state %q", r.KID, r.State)
		}
		if !published(r, now) {
			if r.State == storage.KeyActive {
				s.log.Warn("active signing key is past its expiry; not using it", "kid", r.KID, "alg", r.Alg)
			}
			continue // revoked or left the JWKS: neither published nor used
		}
		material, err := s.material(r)
		if err != nil {
			return nil, err
		}
		k := *material
		k.State = r.State
		k.ExpiresAt = r.ExpiresAt
		k.CreatedAt, k.ActivatesAt = r.CreatedAt, r.ActivatesAt
		key := &k
		snap.published[key.KID] = key
		if s.public(r.Alg) {
			pub = append(pub, key)
		}
		if r.State == storage.KeyActive {
			if prev, dup := snap.active[r.Alg]; dup {
				// Ordered by creation: the newest active key wins.
				s.log.Warn("several active signing keys for one algorithm; signing with the newest",
					"alg", r.Alg, "kid", key.KID, "other_kid", prev.KID)
			}
			snap.active[r.Alg] = key
		}
	}
	for kid := range s.cache {
		if !seen[kid] {
			delete(s.cache, kid)
		}
	}
	snap.jwks = renderJWKS(pub)

	snap.ready = true
	for _, alg := range s.algs {
		if k := snap.active[alg]; k == nil || k.signer == nil {
			snap.ready = false
		}
	}
	return snap, nil
}

// published reports whether the JWKS lists r at now: next, active and
// retired keys until their expiry; never revoked ones.
func published(r storage.SigningKey, now time.Time) bool {
	return r.State != storage.KeyRevoked && (r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt))
}

// orderForJWKS sorts keys as the JWKS lists them: active keys first, then
// by creation time and kid.
func orderForJWKS(rows []storage.SigningKey) []storage.SigningKey {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b storage.SigningKey) int {
		if (a.State == storage.KeyActive) != (b.State == storage.KeyActive) {
			if a.State == storage.KeyActive {
				return -1
			}
			return 1
		}
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.KID, b.KID))
	})
	return out
}

// material returns the parsed, unsealed key of row r, from the cache when
// this kid was seen before.
func (s *Signer) material(r storage.SigningKey) (*Key, error) {
	if k, ok := s.cache[r.KID]; ok && string(k.Alg) == r.Alg && (k.signer != nil || len(r.PrivateKey) == 0) {
		return k, nil
	}
	k, err := parsePublicRow(r)
	if err != nil {
		return nil, err
	}
	if len(r.PrivateKey) > 0 {
		priv, err := unseal(s.keks, r.KID, r.Alg, r.PrivateKey)
		if err != nil {
			return nil, err
		}
		if err := k.attachPrivate(priv); err != nil {
			return nil, err
		}
	}
	s.cache[r.KID] = k
	return k, nil
}

// parsePublicRow checks a row's public JWK (a public key of the row's
// algorithm whose thumbprint, kid member and alg member agree with the row)
// and keeps its bytes, compacted, for the JWKS.
func parsePublicRow(r storage.SigningKey) (*Key, error) {
	if !supportedAlg(r.Alg) {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", r.KID, r.Alg)
	}
	pubJWK, err := jwk.ParseKey(r.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: parse public JWK: %w", r.KID, err)
	}
	if isPriv, err := jwk.IsPrivateKey(pubJWK); err != nil || isPriv {
		return nil, fmt.Errorf("signing key %s: public JWK is not an asymmetric public key", r.KID)
	}
	kid, err := thumbprint(pubJWK)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", r.KID, err)
	}
	if kid != r.KID || pubJWK.KeyID() != r.KID {
		return nil, fmt.Errorf("signing key %s: public JWK does not match the kid", r.KID)
	}
	if pubJWK.Algorithm().String() != r.Alg {
		return nil, fmt.Errorf("signing key %s: public JWK alg %q, row alg %q", r.KID, pubJWK.Algorithm(), r.Alg)
	}
	if u := pubJWK.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return nil, fmt.Errorf("signing key %s: public JWK use %q, want sig", r.KID, u)
	}
	var raw any
	if err := pubJWK.Raw(&raw); err != nil {
		return nil, fmt.Errorf("signing key %s: public JWK: %w", r.KID, err)
	}
	switch pk := raw.(type) {
	case *rsa.PublicKey:
		if r.Alg != RS256 || pk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("signing key %s: %d-bit RSA public key unusable for %s", r.KID, pk.N.BitLen(), r.Alg)
		}
	case ed25519.PublicKey:
		if r.Alg != EdDSA || len(pk) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing key %s: Ed25519 public key unusable for %s", r.KID, r.Alg)
		}
	case *ecdsa.PublicKey:
		if r.Alg != ES256 || pk.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key %s: ECDSA public key unusable for %s", r.KID, r.Alg)
		}
	default:
		return nil, fmt.Errorf("signing key %s: %T unusable for %s", r.KID, raw, r.Alg)
	}
	var doc bytes.Buffer
	if err := json.Compact(&doc, r.PublicJWK); err != nil {
		return nil, fmt.Errorf("signing key %s: public JWK: %w", r.KID, err)
	}
	return &Key{
		KID:       r.KID,
		Alg:       jwa.SignatureAlgorithm(r.Alg),
		Public:    pubJWK,
		publicKey: raw,
		publicDoc: doc.Bytes(),
	}, nil
}

func renderJWKS(keys []*Key) JWKS {
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k.publicDoc)
	}
	b.WriteString(`]}`)
	sum := sha256.Sum256(b.Bytes())
	return JWKS{Body: b.Bytes(), ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// SigningKey returns the active key of the algorithm's ring.
func (s *Signer) SigningKey(alg string) (*Key, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, errors.New("signer: keys not loaded")
	}
	k := snap.active[alg]
	if k == nil {
		return nil, fmt.Errorf("signer: no active %s key", alg)
	}
	if k.signer == nil {
		return nil, fmt.Errorf("signer: active %s key %s has no private key", alg, k.KID)
	}
	return k, nil
}

// VerificationKey returns the published (next, active or retired, not
// expired) key with that kid, or ErrUnknownKey.
func (s *Signer) VerificationKey(kid string) (*Key, error) {
	snap := s.snap.Load()
	if snap == nil {
		return nil, ErrUnknownKey
	}
	k := snap.published[kid]
	if k == nil || (!k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt)) {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// JWKS returns the pre-rendered public key set. Body must not be modified.
func (s *Signer) JWKS() JWKS {
	if snap := s.snap.Load(); snap != nil {
		return snap.jwks
	}
	return JWKS{}
}

// Ready reports whether keys are loaded and every configured algorithm has
// an active key that can sign.
func (s *Signer) Ready() bool {
	snap := s.snap.Load()
	return snap != nil && snap.ready
}
