package clients

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/idp/idp/internal/storage"
)

var (
	// ErrNotFound: no client with that id.
	ErrNotFound = errors.New("no such client")
	// ErrExists: the client id is taken.
	ErrExists = errors.New("a client with that id exists")
	// ErrInvalidClient: client authentication failed — unknown id, wrong
	// or missing secret, disabled client. Which one is never told.
	ErrInvalidClient = errors.New("client authentication failed")
	// ErrPublic: a public client has no secret to rotate.
	ErrPublic = errors.New("a public client has no secret")
)

// secretBytes is the entropy of a generated secret: 256 bits.
const secretBytes = 32

// hashPrefix names the scheme of a stored secret hash.
const hashPrefix = "sha256:"

// Options configure a Registry.
type Options struct {
	Store storage.Clients
	Audit storage.Audit // may be nil
	// Scopes are the custom scopes clients may be allowed besides the
	// built-in ones.
	Scopes []string
	// SecretOverlap is how long a rotated-out secret keeps working when
	// RotateSecret is not told otherwise; zero: not at all.
	SecretOverlap time.Duration
	// CacheTTL is how long Authenticate may use a client record it read
	// (0: never cached). Changes made through this Registry take effect at
	// once; changes by another instance or the CLI within CacheTTL.
	CacheTTL time.Duration
	Now      func() time.Time
}

// Registry manages and authenticates clients.
type Registry struct {
	store   storage.Clients
	audit   storage.Audit
	custom  []string
	overlap time.Duration
	now     func() time.Time
	cache   *clientCache
}

// New returns a Registry.
func New(opts Options) (*Registry, error) {
	if opts.Store == nil {
		return nil, errors.New("clients: Store is required")
	}
	for _, s := range opts.Scopes {
		if !ValidScopeToken(s) {
			return nil, fmt.Errorf("clients: scope %q: not an RFC 6749 scope token", s)
		}
	}
	if opts.SecretOverlap < 0 {
		return nil, fmt.Errorf("clients: SecretOverlap %s: must not be negative", opts.SecretOverlap)
	}
	if opts.CacheTTL < 0 {
		return nil, fmt.Errorf("clients: CacheTTL %s: must not be negative", opts.CacheTTL)
	}
	r := &Registry{store: opts.Store, audit: opts.Audit, custom: slices.Clone(opts.Scopes), overlap: opts.SecretOverlap, now: opts.Now}
	if r.now == nil {
		r.now = time.Now
	}
	r.cache = newClientCache(opts.CacheTTL, r.now)
	return r, nil
}

// KnownScopes are the built-in scopes and the configured ones.
func (r *Registry) KnownScopes() []string {
	return append(slices.Clone(BuiltinScopes), r.custom...)
}

// Create registers a client from s. A confidential client gets a new
// secret, returned here and never again; a public one gets "".
func (r *Registry) Create(ctx context.Context, s Spec) (storage.Client, string, error) {
	if s.ID == "" {
		s.ID = randomText(16, hex.EncodeToString)
	}
	if err := r.validate(&s); err != nil {
		return storage.Client{}, "", err
	}
	now := r.now().UTC().Truncate(time.Microsecond)
	c := clientOf(s)
	c.Enabled, c.CreatedAt, c.UpdatedAt = true, now, now
	var secret string
	if c.Type == storage.ClientConfidential {
		secret = newSecret()
		c.SecretHash = hashSecret(secret)
	}
	if err := r.store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Client{}, "", fmt.Errorf("client %s: %w", c.ID, ErrExists)
		}
		return storage.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	r.record(ctx, "client.created", c.ID, "")
	return c, secret, nil
}

func clientOf(s Spec) storage.Client {
	return storage.Client{
		ID: s.ID, Name: s.Name, Type: s.Type,
		GrantTypes: s.GrantTypes, RedirectURIs: s.RedirectURIs, PostLogoutRedirectURIs: s.PostLogoutRedirectURIs,
		Scopes: s.Scopes, Audiences: s.Audiences,
		AccessTTL: s.AccessTTL, RefreshTTL: s.RefreshTTL, FirstParty: s.FirstParty,
	}
}

// Get returns the client (its secret hashes included: never show them).
func (r *Registry) Get(ctx context.Context, id string) (storage.Client, error) {
	c, err := r.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, fmt.Errorf("client %s: %w", id, ErrNotFound)
	}
	return c, err
}

// List returns every client, by id.
func (r *Registry) List(ctx context.Context) ([]storage.Client, error) {
	var all []storage.Client
	after := ""
	for {
		page, err := r.store.ListClients(ctx, after, 500)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < 500 {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

// Update applies change to the client's spec (its id cannot change),
// validates the result and stores it.
func (r *Registry) Update(ctx context.Context, id string, change func(*Spec)) (storage.Client, error) {
	old, err := r.Get(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	s := specOf(old)
	change(&s)
	s.ID = id
	if err := r.validate(&s); err != nil {
		return storage.Client{}, err
	}
	if s.Type != old.Type {
		return storage.Client{}, &ValidationError{Problems: []string{"type: cannot change (delete and re-create the client)"}}
	}
	c := clientOf(s)
	c.Enabled, c.CreatedAt, c.UpdatedAt = old.Enabled, old.CreatedAt, r.now().UTC().Truncate(time.Microsecond)
	c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = old.SecretHash, old.PreviousSecretHash, old.PreviousSecretExpiresAt
	if err := r.store.UpdateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Client{}, fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		return storage.Client{}, fmt.Errorf("update client: %w", err)
	}
	r.cache.forget(id)
	r.record(ctx, "client.updated", id, "")
	return c, nil
}

// SetEnabled enables or disables the client. A disabled client cannot
// authenticate, so it gets no tokens and cannot refresh, introspect or
// revoke.
func (r *Registry) SetEnabled(ctx context.Context, id string, enabled bool) (storage.Client, error) {
	old, err := r.Get(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	old.Enabled, old.UpdatedAt = enabled, r.now().UTC().Truncate(time.Microsecond)
	if err := r.store.UpdateClient(ctx, old); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return storage.Client{}, fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		return storage.Client{}, fmt.Errorf("update client: %w", err)
	}
	r.cache.forget(id)
	typ := "client.enabled"
	if !enabled {
		typ = "client.disabled"
	}
	r.record(ctx, typ, id, "")
	return old, nil
}

// RotateSecret gives a confidential client a new secret, returned once.
// The old secret keeps working for overlap (negative: the configured
// SecretOverlap; zero: stops at once). Any older secret still in its
// overlap stops now.
func (r *Registry) RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	c, err := r.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Type != storage.ClientConfidential {
		return "", fmt.Errorf("client %s: %w", id, ErrPublic)
	}
	if overlap < 0 {
		overlap = r.overlap
	}
	now := r.now().UTC().Truncate(time.Microsecond)
	secret := newSecret()
	rot := storage.SecretRotation{ClientID: id, NewHash: hashSecret(secret), At: now}
	if overlap > 0 {
		rot.PreviousExpiresAt = now.Add(overlap)
	}
	if err := r.store.RotateClientSecret(ctx, rot); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		return "", fmt.Errorf("rotate client secret: %w", err)
	}
	r.cache.forget(id)
	r.record(ctx, "client.secret_rotated", id, fmt.Sprintf("previous secret valid for %s", overlap))
	return secret, nil
}

// Delete removes the client. Tokens it holds stay valid until they expire
// (access) or fail to refresh (refresh: the client cannot authenticate).
func (r *Registry) Delete(ctx context.Context, id string) error {
	if err := r.store.DeleteClient(ctx, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("client %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("delete client: %w", err)
	}
	r.cache.forget(id)
	r.record(ctx, "client.deleted", id, "")
	return nil
}

// dummyHash is compared against when the client is unknown or public, so
// that every confidential authentication does the same work.
var dummyHash = hashSecret("idp: no such client")

// Authenticate checks a client's credentials. A confidential client must
// present its current secret, or its previous one within the overlap; a
// public client must present none (hasSecret false). Every failure is
// ErrInvalidClient, wrapped with a private reason for logs.
func (r *Registry) Authenticate(ctx context.Context, id, secret string, hasSecret bool) (storage.Client, error) {
	presented := hashSecret(secret)
	c, err := r.cache.get(ctx, r.store, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, fmt.Errorf("authenticate client: %w", err)
	}
	known := err == nil
	current, previous := dummyHash, dummyHash
	if known && c.Type == storage.ClientConfidential {
		current = c.SecretHash
		if c.PreviousSecretHash != "" && r.now().Before(c.PreviousSecretExpiresAt) {
			previous = c.PreviousSecretHash
		}
	}
	match := subtle.ConstantTimeCompare([]byte(presented), []byte(current)) |
		subtle.ConstantTimeCompare([]byte(presented), []byte(previous))
	switch {
	case !known:
		return storage.Client{}, fmt.Errorf("%w: unknown client", ErrInvalidClient)
	case c.Type == storage.ClientPublic && hasSecret:
		return storage.Client{}, fmt.Errorf("%w: public client sent a secret", ErrInvalidClient)
	case c.Type == storage.ClientConfidential && !hasSecret:
		return storage.Client{}, fmt.Errorf("%w: no secret", ErrInvalidClient)
	case c.Type == storage.ClientConfidential && match != 1:
		return storage.Client{}, fmt.Errorf("%w: wrong secret", ErrInvalidClient)
	case !c.Enabled:
		return storage.Client{}, fmt.Errorf("%w: client disabled", ErrInvalidClient)
	}
	return c, nil
}

func (r *Registry) record(ctx context.Context, typ, clientID, detail string) {
	if r.audit == nil {
		return
	}
	d := "client_id=" + clientID
	if detail != "" {
		d += "; " + detail
	}
	// An audit failure never undoes the change; the caller's logs show it.
	_ = r.audit.RecordAudit(ctx, storage.AuditEvent{At: r.now(), Type: typ, Detail: d})
}

// newSecret is 256 random bits, base64url without padding (43 characters).
func newSecret() string {
	return randomText(secretBytes, base64.RawURLEncoding.EncodeToString)
}

func randomText(n int, enc func([]byte) string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return enc(b)
}

// hashSecret is the stored form of a secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// Lookup returns the client for the authorization endpoint (through the
// short client cache, like Authenticate); storage.ErrNotFound if none.
func (r *Registry) Lookup(ctx context.Context, id string) (storage.Client, error) {
	if !validID(id) {
		return storage.Client{}, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	return r.cache.get(ctx, r.store, id)
}
