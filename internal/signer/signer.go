package signer

import (
	"bytes"
	"context"
	"crypto/ed25519"
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
	// Algorithms are the rings kept with an active key; default {"RS256"}.
	// Supported: "RS256", "EdDSA".
	Algorithms []string
	// RSABits is the size of generated RSA keys; default 2048.
	RSABits int
	Now     func() time.Time
	Logger  *slog.Logger
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
	store   storage.SigningKeys
	keks    [][]byte
	algs    []string
	rsaBits int
	now     func() time.Time
	log     *slog.Logger

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

// New loads the key set, makes sure every configured algorithm has an
// active key (generating one if needed; another instance generating it
// first is fine) and builds the first snapshot.
func New(ctx context.Context, opts Options) (*Signer, error) {
	s, err := newSigner(opts)
	if err != nil {
		return nil, err
	}
	if err := s.ensureActive(ctx); err != nil {
		return nil, err
	}
	if err := s.Reload(ctx); err != nil {
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
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{RS256}
	}
	for _, a := range algs {
		if !supportedAlg(a) {
			return nil, fmt.Errorf("signer: unsupported algorithm %q (want RS256 or EdDSA)", a)
		}
	}
	bits := opts.RSABits
	if bits == 0 {
		bits = 2048
	}
	if bits < minRSABits {
		return nil, fmt.Errorf("signer: RSABits %d is below %d", bits, minRSABits)
	}
	s := &Signer{
		store:   opts.Store,
		keks:    slices.Clone(opts.KEKs),
		algs:    slices.Compact(slices.Sorted(slices.Values(algs))),
		rsaBits: bits,
		now:     opts.Now,
		log:     opts.Logger,
		cache:   map[string]*Key{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s, nil
}

// ensureActive generates, outside the store's lock, a key for each ring
// that lacks an active one, then inserts it under the lock unless another
// instance got there first.
func (s *Signer) ensureActive(ctx context.Context) error {
	rows, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var missing []string
	for _, alg := range s.algs {
		if !hasActive(rows, alg) {
			missing = append(missing, alg)
		}
	}
	if len(missing) == 0 {
		return nil
	}

	fresh := make(map[string]storage.SigningKey, len(missing))
	for _, alg := range missing {
		k, err := GenerateKey(alg, s.rsaBits)
		if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond) // what both stores keep
		row, err := s.sealRow(k, storage.KeyActive, now)
		if err != nil {
			return err
		}
		row.ActivatesAt = now
		fresh[alg] = row
	}

	var inserted []storage.SigningKey
	err = s.store.UpdateSigningKeys(ctx, func(current []storage.SigningKey) (storage.KeyChanges, error) {
		inserted = inserted[:0]
		var ch storage.KeyChanges
		for _, alg := range missing {
			if hasActive(current, alg) {
				continue // another instance made one meanwhile: use theirs
			}
			ch.Insert = append(ch.Insert, fresh[alg])
		}
		inserted = append(inserted, ch.Insert...)
		return ch, nil
	})
	if err != nil {
		return fmt.Errorf("store new signing keys: %w", err)
	}
	for _, row := range inserted {
		s.log.Info("signing key generated", "kid", row.KID, "alg", row.Alg, "state", row.State)
	}
	if n := len(missing) - len(inserted); n > 0 {
		s.log.Info("signing key generated by another instance; using it", "count", n)
	}
	return nil
}

func hasActive(rows []storage.SigningKey, alg string) bool {
	for _, r := range rows {
		if r.Alg == alg && r.State == storage.KeyActive {
			return true
		}
	}
	return false
}

// sealRow turns a key into a storage row, sealing its private half under
// the first KEK.
func (s *Signer) sealRow(k *Key, state storage.KeyState, now time.Time) (storage.SigningKey, error) {
	row := storage.SigningKey{
		KID:       k.KID,
		Alg:       string(k.Alg),
		State:     state,
		PublicJWK: k.publicDoc,
		CreatedAt: now,
	}
	if k.signer != nil {
		blob, err := seal(s.keks[0], k.KID, string(k.Alg), k.signer)
		if err != nil {
			return storage.SigningKey{}, err
		}
		row.PrivateKey = blob
	}
	return row, nil
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
	for _, r := range rows {
		seen[r.KID] = true
		if r.State == storage.KeyRevoked {
			continue
		}
		if r.State != storage.KeyNext && r.State != storage.KeyActive && r.State != storage.KeyRetired {
			return nil, fmt.Errorf("signing key %s: unknown state %q", r.KID, r.State)
		}
		if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			if r.State == storage.KeyActive {
				s.log.Warn("active signing key is past its expiry; not using it", "kid", r.KID, "alg", r.Alg)
			}
			continue // left the JWKS: neither published nor used
		}
		material, err := s.material(r)
		if err != nil {
			return nil, err
		}
		k := *material
		k.State = r.State
		k.ExpiresAt = r.ExpiresAt
		key := &k
		snap.published[key.KID] = key
		pub = append(pub, key)
		if r.State == storage.KeyActive {
			if prev, dup := snap.active[r.Alg]; dup {
				// Rows are ordered by creation: the newest active key wins.
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

	createdAt := map[string]time.Time{}
	for _, r := range rows {
		createdAt[r.KID] = r.CreatedAt
	}
	slices.SortStableFunc(pub, func(a, b *Key) int {
		if (a.State == storage.KeyActive) != (b.State == storage.KeyActive) {
			if a.State == storage.KeyActive {
				return -1
			}
			return 1
		}
		if c := createdAt[a.KID].Compare(createdAt[b.KID]); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
	snap.jwks = renderJWKS(pub)

	snap.ready = true
	for _, alg := range s.algs {
		if k := snap.active[alg]; k == nil || k.signer == nil {
			snap.ready = false
		}
	}
	return snap, nil
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
