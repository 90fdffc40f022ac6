package signer

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/idp/idp/internal/storage"
)

// The operator's commands (idp keys …). Each is one transaction under the
// store's key lock, followed by the policy's own maintenance in the same
// transaction, so the key set is never left without an active or a next
// key per ring.

// ErrNoSuchKey: no stored key has that kid.
var ErrNoSuchKey = errors.New("no signing key with that kid")

// find returns the row with kid.
func find(rows []storage.SigningKey, kid string) (storage.SigningKey, bool) {
	i := slices.IndexFunc(rows, func(r storage.SigningKey) bool { return r.KID == kid })
	if i < 0 {
		return storage.SigningKey{}, false
	}
	return rows[i], true
}

// apply returns rows with ch applied, for a plan that follows ch in the
// same transaction.
func apply(rows []storage.SigningKey, ch storage.KeyChanges) []storage.SigningKey {
	out := slices.Clone(rows)
	for _, u := range ch.Update {
		if i := slices.IndexFunc(out, func(r storage.SigningKey) bool { return r.KID == u.KID }); i >= 0 {
			out[i] = u
		}
	}
	out = slices.DeleteFunc(out, func(r storage.SigningKey) bool { return slices.Contains(ch.Delete, r.KID) })
	return append(out, ch.Insert...)
}

// merge appends the plan's changes after ch's, folding updates of one kid.
func merge(ch, more storage.KeyChanges) storage.KeyChanges {
	for _, u := range more.Update {
		if i := slices.IndexFunc(ch.Update, func(r storage.SigningKey) bool { return r.KID == u.KID }); i >= 0 {
			ch.Update[i] = u
		} else if j := slices.IndexFunc(ch.Insert, func(r storage.SigningKey) bool { return r.KID == u.KID }); j >= 0 {
			ch.Insert[j] = u
		} else {
			ch.Update = append(ch.Update, u)
		}
	}
	ch.Insert = append(ch.Insert, more.Insert...)
	for _, kid := range more.Delete {
		// The plan removes what the command just changed (a withdrawn next
		// key expires at once): the stores apply deletes first, so an
		// update of the same kid would find no row.
		ch.Update = slices.DeleteFunc(ch.Update, func(r storage.SigningKey) bool { return r.KID == kid })
		if i := slices.IndexFunc(ch.Insert, func(r storage.SigningKey) bool { return r.KID == kid }); i >= 0 {
			ch.Insert = slices.Delete(ch.Insert, i, i+1)
			continue
		}
		ch.Delete = append(ch.Delete, kid)
	}
	return ch
}

// thenPlan runs a command's changes and the policy's plan in one decision.
func (l *Lifecycle) thenPlan(ctx context.Context, cmd func(rows []storage.SigningKey, now time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error)) ([]Event, error) {
	return l.update(ctx, func(rows []storage.SigningKey, now time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		ch, events, err := cmd(rows, now, fresh)
		if err != nil {
			return storage.KeyChanges{}, nil, err
		}
		more, moreEvents, err := l.Policy.plan(apply(rows, ch), now, fresh)
		if err != nil {
			return storage.KeyChanges{}, nil, err
		}
		return merge(ch, more), append(events, moreEvents...), nil
	})
}

// Rotate promotes the oldest next key of alg's ring now, retiring the
// active key. Without force it refuses (ErrTooEarly) while the next key has
// been published for less than the pre-publication time: a verifier whose
// cached JWKS predates the key would reject the first tokens it signs.
// With force it rotates anyway.
func (l *Lifecycle) Rotate(ctx context.Context, alg string, force bool) ([]Event, error) {
	if !slices.Contains(l.Policy.Rings, alg) {
		return nil, fmt.Errorf("%s is not a configured signing algorithm (configured: %v)", alg, l.Policy.Rings)
	}
	return l.thenPlan(ctx, func(rows []storage.SigningKey, now time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		var active, next *storage.SigningKey
		for i, r := range rows {
			switch {
			case r.Alg != alg:
			case r.State == storage.KeyActive:
				active = &rows[i]
			case r.State == storage.KeyNext && (next == nil || r.CreatedAt.Before(next.CreatedAt)):
				next = &rows[i]
			}
		}
		var ch storage.KeyChanges
		var events []Event
		if next == nil {
			if !force {
				return ch, nil, fmt.Errorf("%w: the %s ring has no next key (idp keys generate --alg %s, then wait %s)", ErrTooEarly, alg, alg, l.Policy.PrePublish)
			}
			k, err := fresh(alg)
			if err != nil {
				return ch, nil, err
			}
			k.State = storage.KeyActive
			k.ActivatesAt = now
			ch.Insert = append(ch.Insert, k)
			events = append(events, Event{Type: "key.generated", KID: k.KID, Alg: alg, Detail: "forced rotation: active at once, never published before"})
		} else {
			if published := now.Sub(next.CreatedAt); published < l.Policy.PrePublish && !force {
				return ch, nil, fmt.Errorf("%w: next key %s has been published for %s, less than the pre-publication time %s; wait until %s or force it",
					ErrTooEarly, next.KID, published.Round(time.Second), l.Policy.PrePublish, next.CreatedAt.Add(l.Policy.PrePublish).Format(time.RFC3339))
			}
			k := *next
			k.State = storage.KeyActive
			k.ActivatesAt = now
			ch.Update = append(ch.Update, k)
			why := "manual rotation"
			if force {
				why = "forced manual rotation"
			}
			events = append(events, Event{Type: "key.activated", KID: k.KID, Alg: alg, Detail: why})
		}
		if active != nil {
			old := *active
			old.State = storage.KeyRetired
			old.RetiredAt = now
			old.ExpiresAt = now.Add(l.Policy.retention(alg))
			ch.Update = append(ch.Update, old)
			events = append(events, Event{Type: "key.retired", KID: old.KID, Alg: alg, Detail: "manual rotation; published until " + old.ExpiresAt.Format(time.RFC3339)})
		}
		return ch, events, nil
	})
}

// Retire stops a key from signing. An active key is replaced as by Rotate
// (force as there); a next key, which never signed, is withdrawn.
func (l *Lifecycle) Retire(ctx context.Context, kid string, force bool) ([]Event, error) {
	rows, err := l.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := find(rows, kid)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s", ErrNoSuchKey, kid)
	case k.State == storage.KeyActive:
		return l.Rotate(ctx, k.Alg, force)
	case k.State != storage.KeyNext:
		return nil, fmt.Errorf("key %s is %s, not active or next", kid, k.State)
	}
	return l.thenPlan(ctx, func(rows []storage.SigningKey, now time.Time, _ func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		k, ok := find(rows, kid)
		if !ok || k.State != storage.KeyNext {
			return storage.KeyChanges{}, nil, fmt.Errorf("key %s changed meanwhile; try again", kid)
		}
		k.State = storage.KeyRetired
		k.RetiredAt, k.ExpiresAt = now, now // it signed nothing
		return storage.KeyChanges{Update: []storage.SigningKey{k}},
			[]Event{{Type: "key.retired", KID: kid, Alg: k.Alg, Detail: "next key withdrawn before it signed"}}, nil
	})
}

// Revoke withdraws a key at once (a compromised key): it leaves the JWKS,
// every token it signed is rejected, its private half is erased, and if it
// was active the oldest next key takes over immediately. With Families set,
// the sessions whose current refresh token it signed are revoked too.
func (l *Lifecycle) Revoke(ctx context.Context, kid, reason string) ([]Event, error) {
	if reason == "" {
		return nil, errors.New("a reason is required")
	}
	var alg string
	events, err := l.thenPlan(ctx, func(rows []storage.SigningKey, now time.Time, _ func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		k, ok := find(rows, kid)
		alg = k.Alg
		if !ok {
			return storage.KeyChanges{}, nil, fmt.Errorf("%w: %s", ErrNoSuchKey, kid)
		}
		if k.State == storage.KeyRevoked {
			return storage.KeyChanges{}, nil, fmt.Errorf("key %s is already revoked", kid)
		}
		was := k.State
		k.State = storage.KeyRevoked
		k.RevokedAt = now
		k.RevokeReason = reason
		k.PrivateKey = nil
		return storage.KeyChanges{Update: []storage.SigningKey{k}},
			[]Event{{Type: "key.revoked", KID: kid, Alg: k.Alg, Detail: fmt.Sprintf("was %s; reason: %s", was, reason)}}, nil
	})
	if err != nil {
		return nil, err
	}
	if l.Families != nil {
		n, err := l.Families.RevokeFamiliesByKID(ctx, kid, l.now(), "signing_key_revoked")
		if err != nil {
			return events, fmt.Errorf("key %s revoked, but revoking its sessions failed: %w", kid, err)
		}
		if n > 0 {
			e := Event{Type: "key.sessions_revoked", KID: kid, Alg: alg, Detail: fmt.Sprintf("%d sessions whose refresh token it signed", n)}
			l.record(ctx, l.now(), []Event{e})
			events = append(events, e)
		}
	}
	return events, nil
}

// Generate adds a next key to alg's ring. It activates when the schedule
// reaches it (one rotation period after the newer of the active key and
// the next key before it), or at a manual rotation once published long
// enough.
func (l *Lifecycle) Generate(ctx context.Context, alg string) ([]Event, error) {
	if !slices.Contains(l.Policy.Rings, alg) {
		return nil, fmt.Errorf("%s is not a configured signing algorithm (configured: %v)", alg, l.Policy.Rings)
	}
	return l.thenPlan(ctx, func(_ []storage.SigningKey, _ time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		k, err := fresh(alg)
		if err != nil {
			return storage.KeyChanges{}, nil, err
		}
		k.State = storage.KeyNext
		return storage.KeyChanges{Insert: []storage.SigningKey{k}},
			[]Event{{Type: "key.generated", KID: k.KID, Alg: alg, Detail: "next key added by an operator"}}, nil
	})
}

// Import adds a private key from PEM (PKCS#8, PKCS#1 RSA or SEC 1 EC) as a
// next key of alg's ring; alg "" infers it from the key type.
func (l *Lifecycle) Import(ctx context.Context, pemBytes []byte, alg string) ([]Event, error) {
	k, err := ParsePrivatePEM(pemBytes, alg)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(l.Policy.Rings, string(k.Alg)) {
		return nil, fmt.Errorf("%s is not a configured signing algorithm (configured: %v)", k.Alg, l.Policy.Rings)
	}
	if len(l.KEKs) == 0 {
		return nil, errors.New("no key-encryption key to seal the imported key")
	}
	return l.thenPlan(ctx, func(rows []storage.SigningKey, now time.Time, _ func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		if _, dup := find(rows, k.KID); dup {
			return storage.KeyChanges{}, nil, fmt.Errorf("key %s is already stored", k.KID)
		}
		row, err := sealedRow(l.KEKs[0], k, now)
		if err != nil {
			return storage.KeyChanges{}, nil, err
		}
		row.State = storage.KeyNext
		return storage.KeyChanges{Insert: []storage.SigningKey{row}},
			[]Event{{Type: "key.generated", KID: k.KID, Alg: string(k.Alg), Detail: "imported from PEM as a next key"}}, nil
	})
}

// ParsePrivatePEM reads one private key from PEM. alg "" picks RS256 for
// RSA, EdDSA for Ed25519 and ES256 for P-256.
func ParsePrivatePEM(pemBytes []byte, alg string) (*Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	if alg == "" {
		alg = inferAlg(priv)
	}
	return NewKey(alg, priv)
}

func inferAlg(priv any) string {
	for _, alg := range Algorithms {
		if _, err := checkPrivateKey(alg, priv); err == nil {
			return alg
		}
	}
	return fmt.Sprintf("%T", priv)
}

// Rewrap re-seals every private key under the first KEK, so that older
// KEKs can then be dropped from the configuration. Keys already sealed
// under it are left alone.
func (l *Lifecycle) Rewrap(ctx context.Context) ([]Event, error) {
	if len(l.KEKs) == 0 {
		return nil, errors.New("no key-encryption key configured")
	}
	first := kekID(l.KEKs[0])
	return l.update(ctx, func(rows []storage.SigningKey, _ time.Time, _ func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		var ch storage.KeyChanges
		var events []Event
		for _, r := range rows {
			if len(r.PrivateKey) == 0 || sealedUnder(r.PrivateKey) == first {
				continue
			}
			priv, err := unseal(l.KEKs, r.KID, r.Alg, r.PrivateKey)
			if err != nil {
				return storage.KeyChanges{}, nil, err
			}
			blob, err := seal(l.KEKs[0], r.KID, r.Alg, priv)
			if err != nil {
				return storage.KeyChanges{}, nil, err
			}
			r.PrivateKey = blob
			ch.Update = append(ch.Update, r)
			events = append(events, Event{Type: "key.rewrapped", KID: r.KID, Alg: r.Alg, Detail: "re-sealed under the first key-encryption key"})
		}
		return ch, events, nil
	})
}

// KeyInfo is one key as `idp keys list` shows it.
type KeyInfo struct {
	KID   string           `json:"kid"`
	Alg   string           `json:"alg"`
	State storage.KeyState `json:"state"`
	// Created is when the key was made (and published, for next keys).
	Created time.Time `json:"created"`
	// Activates is when it became or is scheduled to become active.
	Activates time.Time `json:"activates"`
	// Retires is when it stopped or is scheduled to stop signing.
	Retires time.Time `json:"retires,omitzero"`
	// Expires is when it leaves the JWKS.
	Expires      time.Time `json:"expires,omitzero"`
	Revoked      time.Time `json:"revoked,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
	// Age is how long the key has existed.
	Age        time.Duration `json:"-"`
	AgeSeconds int64         `json:"age_seconds"`
	// Sealed names the KEK (by id) that seals the private key.
	Sealed string `json:"sealed_under,omitempty"`
}

// List returns every stored key with its schedule, oldest first within
// each ring.
func (l *Lifecycle) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := l.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := l.now()
	nextActivation := map[string]time.Time{}
	for _, r := range rows {
		if r.State == storage.KeyNext {
			if t, ok := nextActivation[r.Alg]; !ok || r.ActivatesAt.Before(t) {
				nextActivation[r.Alg] = r.ActivatesAt
			}
		}
	}
	out := make([]KeyInfo, 0, len(rows))
	for _, r := range rows {
		ki := KeyInfo{
			KID: r.KID, Alg: r.Alg, State: r.State, Created: r.CreatedAt, Activates: r.ActivatesAt,
			Retires: r.RetiredAt, Expires: r.ExpiresAt, Revoked: r.RevokedAt, RevokeReason: r.RevokeReason,
			Age: now.Sub(r.CreatedAt).Round(time.Second),
		}
		ki.AgeSeconds = int64(ki.Age / time.Second)
		if r.State == storage.KeyActive {
			ki.Retires = nextActivation[r.Alg]
			if !ki.Retires.IsZero() {
				ki.Expires = ki.Retires.Add(l.Policy.retention(r.Alg))
			}
		}
		if len(r.PrivateKey) > 0 {
			id := sealedUnder(r.PrivateKey)
			ki.Sealed = fmt.Sprintf("%x", id[:4])
		}
		out = append(out, ki)
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int {
		return cmp.Or(cmp.Compare(a.Alg, b.Alg), a.Created.Compare(b.Created), cmp.Compare(a.KID, b.KID))
	})
	return out, nil
}

// Published returns the keys the JWKS publishes now (next, active and
// retired keys not yet expired), in JWKS order, and the JWKS itself. It
// needs no key-encryption key.
func (l *Lifecycle) Published(ctx context.Context) ([]*Key, JWKS, error) {
	rows, err := l.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, JWKS{}, err
	}
	now := l.now()
	var keys []*Key
	for _, r := range orderForJWKS(rows) {
		if !published(r, now) {
			continue
		}
		k, err := parsePublicRow(r)
		if err != nil {
			return nil, JWKS{}, err
		}
		k.State, k.ExpiresAt = r.State, r.ExpiresAt
		keys = append(keys, k)
	}
	return keys, renderJWKS(keys), nil
}

// PublicPEM encodes k's public key as a PKIX "PUBLIC KEY" PEM block.
func PublicPEM(k *Key) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
