package signer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Policy is the key schedule. Every ring (algorithm) keeps one active key
// and at least one next key; keys move next → active → retired → removed,
// or are revoked.
type Policy struct {
	// Rings are the algorithms that sign: each must have an active key.
	Rings []string
	// RSABits is the size of generated RSA keys (default 2048).
	RSABits int
	// RotationPeriod is how long a key stays active.
	RotationPeriod time.Duration
	// PrePublish is the least time a next key is published before it may
	// activate: at least 2 × the JWKS max-age plus the time instances take
	// to notice a change, so every verifier's cached JWKS holds a key
	// before the first token it signs.
	PrePublish time.Duration
	// Retention is how long a retired key of each ring stays published:
	// the longest lifetime of the tokens it signed plus leeway and the time
	// other instances may go on signing with it before they notice.
	Retention map[string]time.Duration
	// Public are the algorithms whose keys the public JWKS lists: those
	// that sign access tokens. Keys of the other rings (refresh tokens,
	// which only idp verifies) still verify inside idp but are never handed
	// to a resource server. Empty: every ring is public.
	Public []string
}

func (p Policy) retention(alg string) time.Duration {
	if d, ok := p.Retention[alg]; ok {
		return d
	}
	var longest time.Duration
	for _, d := range p.Retention {
		longest = max(longest, d)
	}
	return longest
}

// Validate reports a schedule that would break verifiers.
func (p Policy) Validate() error {
	var errs []error
	if len(p.Rings) == 0 {
		errs = append(errs, errors.New("no signing algorithms"))
	}
	for _, alg := range p.Rings {
		if !supportedAlg(alg) {
			errs = append(errs, fmt.Errorf("unsupported algorithm %q", alg))
		}
	}
	if p.RotationPeriod <= 0 {
		errs = append(errs, fmt.Errorf("rotation period %s must be positive", p.RotationPeriod))
	}
	if p.PrePublish <= 0 {
		errs = append(errs, fmt.Errorf("pre-publication %s must be positive", p.PrePublish))
	}
	if p.RotationPeriod < p.PrePublish {
		errs = append(errs, fmt.Errorf("rotation period %s is shorter than the pre-publication time %s", p.RotationPeriod, p.PrePublish))
	}
	if p.RSABits != 0 && p.RSABits < minRSABits {
		errs = append(errs, fmt.Errorf("RSA keys of %d bits are too small", p.RSABits))
	}
	return errors.Join(errs...)
}

// Event is one key lifecycle event (an audit event and a log line).
type Event struct {
	Type   string // key.generated, key.activated, key.retired, key.removed, key.revoked, key.rewrapped
	KID    string
	Alg    string
	Detail string
}

// ErrTooEarly: a manual rotation would activate a key that verifiers may
// not have fetched yet. Rotate with force to do it anyway.
var ErrTooEarly = errors.New("the next key has not been published long enough")

// plan computes what the key set needs at now under p: expired retired
// keys removed, rings no longer configured retired, an active key in
// every ring (promoting the oldest next key, or a fresh one on an empty
// ring), the due rotation done, and a next key in every ring. fresh makes
// a new sealed key row; it is called only when one is needed. plan is a
// pure function of its inputs: every instance that runs it on the same
// rows decides the same thing, which is why re-running it under the store's
// lock makes "another instance already did it" a normal, empty outcome.
func (p Policy) plan(rows []storage.SigningKey, now time.Time, fresh func(alg string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
	var (
		ch     storage.KeyChanges
		events []Event
		byAlg  = map[string][]storage.SigningKey{}
	)
	update := func(k storage.SigningKey, e Event) {
		ch.Update = append(ch.Update, k)
		if e.Type != "" {
			events = append(events, e)
		}
	}
	retire := func(k storage.SigningKey, why string) storage.SigningKey {
		k.State = storage.KeyRetired
		k.RetiredAt = now
		k.ExpiresAt = now.Add(p.retention(k.Alg))
		update(k, Event{Type: "key.retired", KID: k.KID, Alg: k.Alg, Detail: why + "; published until " + k.ExpiresAt.Format(time.RFC3339)})
		return k
	}
	for _, r := range rows {
		switch {
		case r.State == storage.KeyRetired && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
			ch.Delete = append(ch.Delete, r.KID)
			events = append(events, Event{Type: "key.removed", KID: r.KID, Alg: r.Alg, Detail: "every token it signed has expired"})
		case r.State == storage.KeyNext || r.State == storage.KeyActive:
			byAlg[r.Alg] = append(byAlg[r.Alg], r)
		}
	}

	// Rings no longer configured: their active key retires (its tokens
	// still verify until they expire); next keys never signed and go.
	for alg, keys := range byAlg {
		if slices.Contains(p.Rings, alg) {
			continue
		}
		for _, k := range keys {
			if k.State == storage.KeyActive {
				retire(k, "algorithm no longer configured")
			} else {
				ch.Delete = append(ch.Delete, k.KID)
				events = append(events, Event{Type: "key.removed", KID: k.KID, Alg: k.Alg, Detail: "next key of an algorithm no longer configured"})
			}
		}
	}

	for _, alg := range p.Rings {
		var active *storage.SigningKey
		var actives, nexts []storage.SigningKey
		for _, k := range byAlg[alg] {
			if k.State == storage.KeyActive {
				actives = append(actives, k)
			} else {
				nexts = append(nexts, k)
			}
		}
		byAge := func(a, b storage.SigningKey) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.KID, b.KID))
		}
		slices.SortFunc(actives, byAge)
		slices.SortFunc(nexts, byAge)
		if n := len(actives); n > 0 {
			// plan never makes two; should a store hold them, the newest
			// signs and the others retire.
			for _, k := range actives[:n-1] {
				retire(k, "a second active key")
			}
			active = &actives[n-1]
		}

		activate := func(k storage.SigningKey, why string) {
			k.State = storage.KeyActive
			k.ActivatesAt = now
			update(k, Event{Type: "key.activated", KID: k.KID, Alg: k.Alg, Detail: why})
			active = &k
		}
		switch {
		case active == nil && len(nexts) > 0:
			// Emergency (the active key was revoked or retired by hand):
			// the oldest next key takes over at once, published or not.
			activate(nexts[0], "no active key: promoted the oldest next key at once")
			nexts = nexts[1:]
		case active == nil:
			k, err := fresh(alg)
			if err != nil {
				return storage.KeyChanges{}, nil, err
			}
			k.State = storage.KeyActive
			k.ActivatesAt = now
			ch.Insert = append(ch.Insert, k)
			events = append(events, Event{Type: "key.generated", KID: k.KID, Alg: alg, Detail: "first key of the ring, active at once"})
			active = &k
		case len(nexts) > 0 && !now.Before(p.activation(*active, nexts[0])):
			old := *active
			activate(nexts[0], "scheduled rotation")
			nexts = nexts[1:]
			retire(old, "rotated out by "+active.KID)
		}

		// Every ring keeps a next key, published for a whole rotation
		// period before it activates; the displayed schedule follows the
		// policy.
		if len(nexts) == 0 {
			k, err := fresh(alg)
			if err != nil {
				return storage.KeyChanges{}, nil, err
			}
			k.State = storage.KeyNext
			k.ActivatesAt = p.activation(*active, k)
			ch.Insert = append(ch.Insert, k)
			events = append(events, Event{Type: "key.generated", KID: k.KID, Alg: alg, Detail: "next key, activates at " + k.ActivatesAt.Format(time.RFC3339)})
			continue
		}
		for i, k := range nexts {
			want := p.activation(*active, k)
			if i > 0 {
				want = later(want, nexts[i-1].ActivatesAt.Add(p.RotationPeriod))
			}
			if !k.ActivatesAt.Equal(want) {
				k.ActivatesAt = want
				update(k, Event{})
				nexts[i] = k
			}
		}
	}
	return ch, events, nil
}

// activation is when next may replace active: one rotation period after
// active began, and never before next has been published for PrePublish.
func (p Policy) activation(active, next storage.SigningKey) time.Time {
	return storeTime(later(active.ActivatesAt.Add(p.RotationPeriod), next.CreatedAt.Add(p.PrePublish)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// storeTime is t as both stores keep it (UTC, microseconds), so that a
// plan recomputed from stored rows compares equal.
func storeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Lifecycle carries out key changes in the store: the periodic
// maintenance every instance runs, and the operator's commands. It holds
// no key material beyond what an operation needs.
type Lifecycle struct {
	Store  storage.SigningKeys
	KEKs   [][]byte
	Policy Policy
	// Families, if set, has the sessions whose current refresh token a
	// revoked key signed revoked too.
	Families storage.Families
	// Audit, if set, records every event.
	Audit  storage.Audit
	Now    func() time.Time
	Logger *slog.Logger
}

func (l *Lifecycle) now() time.Time {
	if l.Now != nil {
		return storeTime(l.Now())
	}
	return storeTime(time.Now())
}

func (l *Lifecycle) log() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newRow generates and seals a key of alg created at now.
func (l *Lifecycle) newRow(alg string, now time.Time) (storage.SigningKey, error) {
	if len(l.KEKs) == 0 {
		return storage.SigningKey{}, errors.New("no key-encryption key to seal a new signing key")
	}
	k, err := GenerateKey(alg, cmp.Or(l.Policy.RSABits, 2048))
	if err != nil {
		return storage.SigningKey{}, err
	}
	return sealedRow(l.KEKs[0], k, now)
}

func sealedRow(kek []byte, k *Key, now time.Time) (storage.SigningKey, error) {
	row := storage.SigningKey{KID: k.KID, Alg: string(k.Alg), PublicJWK: k.publicDoc, CreatedAt: now}
	if k.signer != nil {
		blob, err := seal(kek, k.KID, string(k.Alg), k.raw)
		if err != nil {
			return storage.SigningKey{}, err
		}
		row.PrivateKey = blob
	}
	return row, nil
}

// errNeedKeys: the plan needs more fresh keys than were made beforehand.
type errNeedKeys struct{ algs []string }

func (e *errNeedKeys) Error() string { return fmt.Sprintf("need fresh keys for %v", e.algs) }

// update runs change under the store's lock with keys generated outside
// it. change gets the current rows and a source of fresh keys; it runs
// once per attempt and must be a pure function of its inputs. Keys are
// generated before the lock is taken (RSA generation is slow and the
// SQLite store has one writer), by a dry run on the rows read first.
func (l *Lifecycle) update(ctx context.Context, change func(rows []storage.SigningKey, now time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error)) ([]Event, error) {
	pool := map[string][]storage.SigningKey{}
	for attempt := 0; ; attempt++ {
		now := l.now()
		var events []Event
		err := l.Store.UpdateSigningKeys(ctx, func(rows []storage.SigningKey) (storage.KeyChanges, error) {
			if err := l.checkKEKs(rows); err != nil {
				return storage.KeyChanges{}, err
			}
			var missing []string
			taken := map[string]int{}
			fresh := func(alg string) (storage.SigningKey, error) {
				if taken[alg] < len(pool[alg]) {
					k := pool[alg][taken[alg]]
					taken[alg]++
					k.CreatedAt = now
					return k, nil
				}
				missing = append(missing, alg)
				return storage.SigningKey{KID: "pending-" + alg, Alg: alg, CreatedAt: now}, nil
			}
			ch, evs, err := change(rows, now, fresh)
			if err != nil {
				return storage.KeyChanges{}, err
			}
			if len(missing) > 0 {
				return storage.KeyChanges{}, &errNeedKeys{algs: missing}
			}
			events = evs
			return ch, nil
		})
		var need *errNeedKeys
		if errors.As(err, &need) && attempt < 3 {
			for _, alg := range need.algs {
				row, gerr := l.newRow(alg, now)
				if gerr != nil {
					return nil, gerr
				}
				pool[alg] = append(pool[alg], row)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		l.record(ctx, now, events)
		return events, nil
	}
}

// checkKEKs refuses to change a key set whose keys this process could not
// unseal: with a wrong key-encryption key it would add keys sealed under
// that one, which the correctly configured instances could not load.
func (l *Lifecycle) checkKEKs(rows []storage.SigningKey) error {
	configured := map[[kekIDSize]byte]bool{}
	for _, k := range l.KEKs {
		configured[kekID(k)] = true
	}
	for _, r := range rows {
		if len(r.PrivateKey) == 0 {
			continue
		}
		if id := sealedUnder(r.PrivateKey); !configured[id] {
			return fmt.Errorf("signing key %s is sealed under key-encryption key %x, which is not configured (wrong or missing KEK): refusing to change the key set", r.KID, id)
		}
	}
	return nil
}

func (l *Lifecycle) record(ctx context.Context, now time.Time, events []Event) {
	for _, e := range events {
		l.log().InfoContext(ctx, "signing key event", "event", e.Type, "kid", e.KID, "alg", e.Alg, "detail", e.Detail)
		if l.Audit == nil {
			continue
		}
		if err := l.Audit.RecordAudit(ctx, storage.AuditEvent{At: now, Type: e.Type, KID: e.KID, Detail: e.Alg + ": " + e.Detail}); err != nil {
			l.log().ErrorContext(ctx, "record audit event", "event", e.Type, "kid", e.KID, "err", err)
		}
	}
}

// Maintain brings the key set in line with the policy (see plan). Many
// instances may run it at once: exactly one of them makes each change,
// the others find nothing to do. It returns the events it caused.
func (l *Lifecycle) Maintain(ctx context.Context) ([]Event, error) {
	// Cheap check first, without the lock or key generation: most calls
	// find nothing to do.
	rows, err := l.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	needed := false
	ch, _, err := l.Policy.plan(rows, l.now(), func(alg string) (storage.SigningKey, error) {
		needed = true
		return storage.SigningKey{Alg: alg}, nil
	})
	if err != nil {
		return nil, err
	}
	if !needed && ch.Empty() {
		return nil, nil
	}
	return l.update(ctx, func(rows []storage.SigningKey, now time.Time, fresh func(string) (storage.SigningKey, error)) (storage.KeyChanges, []Event, error) {
		return l.Policy.plan(rows, now, fresh)
	})
}
