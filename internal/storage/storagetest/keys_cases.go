package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// allBytes is every byte value, NUL included: sealed keys are binary.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func newKey(kid string, alg string, state storage.KeyState, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		KID:         kid,
		Alg:         alg,
		State:       state,
		PrivateKey:  append([]byte("sealed:"+kid+":"), allBytes...),
		PublicJWK:   []byte(`{"kty":"RSA","kid":"` + kid + `","n":"0vx7","e":"AQAB"}`),
		CreatedAt:   created,
		ActivatesAt: created.Add(time.Minute),
	}
}

// storedKey is k as the store returns it.
func storedKey(k storage.SigningKey) storage.SigningKey {
	for _, t := range []*time.Time{&k.CreatedAt, &k.ActivatesAt, &k.RetiredAt, &k.ExpiresAt, &k.RevokedAt} {
		*t = norm(*t)
	}
	if len(k.PrivateKey) == 0 {
		k.PrivateKey = nil
	}
	if len(k.PublicJWK) == 0 {
		k.PublicJWK = nil
	}
	return k
}

func storedKeys(ks []storage.SigningKey) []storage.SigningKey {
	out := []storage.SigningKey{}
	for _, k := range ks {
		out = append(out, storedKey(k))
	}
	return out
}

func mustListKeys(t *testing.T, s storage.Store) []storage.SigningKey {
	t.Helper()
	ks, err := s.ListSigningKeys(ctxT(t))
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	// nil and empty byte slices are the same stored value.
	return storedKeys(ks)
}

// apply writes changes unconditionally through UpdateSigningKeys.
func apply(t *testing.T, s storage.Store, c storage.KeyChanges) error {
	t.Helper()
	return s.UpdateSigningKeys(ctxT(t), func([]storage.SigningKey) (storage.KeyChanges, error) { return c, nil })
}

func mustApply(t *testing.T, s storage.Store, c storage.KeyChanges) {
	t.Helper()
	if err := apply(t, s, c); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
}

var keyCases = []testCase{
	{"keys/empty", func(t *testing.T, s storage.Store) {
		ks, err := s.ListSigningKeys(ctxT(t))
		wantErr(t, "ListSigningKeys", err, nil)
		if len(ks) != 0 {
			t.Fatalf("ListSigningKeys on empty store = %v", ks)
		}
	}},
	{"keys/insert-and-list-order", func(t *testing.T, s storage.Store) {
		c := newKey("c", "RS256", storage.KeyActive, t0)
		b := newKey("b", "EdDSA", storage.KeyActive, t0) // same time: by kid
		a := newKey("a", "RS256", storage.KeyNext, t0.Add(time.Hour))
		z := newKey("z", "RS256", storage.KeyRetired, t0.Add(-time.Hour))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{c, b, a, z}})
		wantEqual(t, "ListSigningKeys", mustListKeys(t, s), storedKeys([]storage.SigningKey{z, b, c, a}))
	}},
	{"keys/exact-bytes-kept", func(t *testing.T, s storage.Store) {
		k := newKey("bytes", "EdDSA", storage.KeyActive, t0)
		k.PrivateKey = append([]byte{0, 0, 0xff}, allBytes...)
		// Odd spacing, key order, escapes and non-ASCII: a JSON column
		// type would rewrite these.
		k.PublicJWK = []byte("{ \"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\" ,\"kty\" : \"OKP\",\n\t\"crv\":\"Ed25519\", \"note\":\"\\u00e9 é\", \"kty2\":1.0e0}\n")
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{k}})
		got := mustListKeys(t, s)
		wantEqual(t, "keys", got, storedKeys([]storage.SigningKey{k}))
		if string(got[0].PublicJWK) != string(k.PublicJWK) || string(got[0].PrivateKey) != string(k.PrivateKey) {
			t.Fatalf("bytes changed on the way through the store")
		}
	}},
	{"keys/times-round-trip", func(t *testing.T, s storage.Store) {
		full := newKey("full", "RS256", storage.KeyRevoked, t0)
		full.RetiredAt = t0.Add(time.Hour + time.Nanosecond)
		full.ExpiresAt = t0.Add(2*time.Hour + 999*time.Nanosecond)
		full.RevokedAt = t0.Add(3*time.Hour + 1001*time.Nanosecond)
		full.RevokeReason = "compromised"
		bare := newKey("bare", "RS256", storage.KeyNext, t0.Add(time.Second))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{full, bare}})
		got := mustListKeys(t, s)
		wantEqual(t, "keys", got, storedKeys([]storage.SigningKey{full, bare}))
		if !got[1].RetiredAt.IsZero() || !got[1].ExpiresAt.IsZero() || !got[1].RevokedAt.IsZero() {
			t.Fatalf("unset times came back set: %+v", got[1])
		}
		if got[0].CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt in %v, want UTC", got[0].CreatedAt.Location())
		}
	}},
	{"keys/update-rewrites-whole-key", func(t *testing.T, s storage.Store) {
		k := newKey("k1", "RS256", storage.KeyActive, t0)
		other := newKey("k2", "RS256", storage.KeyNext, t0.Add(time.Minute))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{k, other}})
		k.State = storage.KeyRetired
		k.RetiredAt = t0.Add(time.Hour)
		k.ExpiresAt = t0.Add(25 * time.Hour)
		k.PrivateKey = []byte("resealed under a new KEK")
		other.State = storage.KeyActive
		mustApply(t, s, storage.KeyChanges{Update: []storage.SigningKey{k, other}})
		wantEqual(t, "after update", mustListKeys(t, s), storedKeys([]storage.SigningKey{k, other}))
		// And back: clearing a time stores the zero time again.
		k.RetiredAt, k.ExpiresAt = time.Time{}, time.Time{}
		mustApply(t, s, storage.KeyChanges{Update: []storage.SigningKey{k}})
		wantEqual(t, "after clearing", mustListKeys(t, s), storedKeys([]storage.SigningKey{k, other}))
	}},
	{"keys/delete", func(t *testing.T, s storage.Store) {
		a := newKey("a", "RS256", storage.KeyRetired, t0)
		b := newKey("b", "RS256", storage.KeyActive, t0.Add(time.Minute))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{a, b}})
		mustApply(t, s, storage.KeyChanges{Delete: []string{"a"}})
		wantEqual(t, "after delete", mustListKeys(t, s), storedKeys([]storage.SigningKey{b}))
	}},
	{"keys/insert-update-delete-in-one-call", func(t *testing.T, s storage.Store) {
		old := newKey("old", "RS256", storage.KeyRetired, t0)
		cur := newKey("cur", "RS256", storage.KeyActive, t0.Add(time.Minute))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{old, cur}})
		cur.State, cur.RetiredAt = storage.KeyRetired, t0.Add(time.Hour)
		nxt := newKey("nxt", "RS256", storage.KeyActive, t0.Add(30*time.Minute))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{nxt}, Update: []storage.SigningKey{cur}, Delete: []string{"old"}})
		wantEqual(t, "after rotation", mustListKeys(t, s), storedKeys([]storage.SigningKey{cur, nxt}))
	}},
	{"keys/decide-sees-current-keys", func(t *testing.T, s storage.Store) {
		a := newKey("a", "RS256", storage.KeyActive, t0)
		b := newKey("b", "EdDSA", storage.KeyNext, t0.Add(time.Minute))
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{a, b}})
		calls := 0
		err := s.UpdateSigningKeys(ctxT(t), func(cur []storage.SigningKey) (storage.KeyChanges, error) {
			calls++
			wantEqual(t, "keys given to decide", storedKeys(cur), storedKeys([]storage.SigningKey{a, b}))
			return storage.KeyChanges{}, nil
		})
		wantErr(t, "UpdateSigningKeys", err, nil)
		if calls != 1 {
			t.Fatalf("decide called %d times, want 1", calls)
		}
	}},
	{"keys/decide-on-empty-set", func(t *testing.T, s storage.Store) {
		var seen []storage.SigningKey
		err := s.UpdateSigningKeys(ctxT(t), func(cur []storage.SigningKey) (storage.KeyChanges, error) {
			seen = cur
			return storage.KeyChanges{Insert: []storage.SigningKey{newKey("first", "RS256", storage.KeyActive, t0)}}, nil
		})
		wantErr(t, "UpdateSigningKeys", err, nil)
		if len(seen) != 0 {
			t.Fatalf("decide saw %d keys in an empty store", len(seen))
		}
		if got := mustListKeys(t, s); len(got) != 1 || got[0].KID != "first" {
			t.Fatalf("keys = %+v, want only first", got)
		}
	}},
	{"keys/decide-error-returned-unchanged-nothing-written", func(t *testing.T, s storage.Store) {
		a := newKey("a", "RS256", storage.KeyActive, t0)
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{a}})
		errDecide := errors.New("decide says no")
		err := s.UpdateSigningKeys(ctxT(t), func([]storage.SigningKey) (storage.KeyChanges, error) {
			return storage.KeyChanges{Insert: []storage.SigningKey{newKey("b", "RS256", storage.KeyNext, t0)}}, errDecide
		})
		if err != errDecide {
			t.Fatalf("UpdateSigningKeys returned %v, want decide's error itself", err)
		}
		wantEqual(t, "keys", mustListKeys(t, s), storedKeys([]storage.SigningKey{a}))
	}},
	{"keys/failed-write-rolls-back", func(t *testing.T, s storage.Store) {
		a := newKey("a", "RS256", storage.KeyActive, t0)
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{a}})
		changed := a
		changed.State = storage.KeyRetired
		cases := []struct {
			name string
			c    storage.KeyChanges
			want error
		}{
			{"insert-duplicate-kid", storage.KeyChanges{
				Update: []storage.SigningKey{changed},
				Insert: []storage.SigningKey{newKey("new", "RS256", storage.KeyNext, t0), newKey("a", "RS256", storage.KeyNext, t0)},
			}, storage.ErrConflict},
			{"update-missing-kid", storage.KeyChanges{
				Insert: []storage.SigningKey{newKey("new", "RS256", storage.KeyNext, t0)},
				Update: []storage.SigningKey{changed, newKey("ghost", "RS256", storage.KeyNext, t0)},
			}, storage.ErrNotFound},
			{"delete-missing-kid", storage.KeyChanges{
				Update: []storage.SigningKey{changed},
				Delete: []string{"ghost"},
			}, storage.ErrNotFound},
			{"invalid-state", storage.KeyChanges{
				Update: []storage.SigningKey{changed},
				Insert: []storage.SigningKey{newKey("new", "RS256", "bogus", t0)},
			}, nil},
		}
		for _, tc := range cases {
			err := apply(t, s, tc.c)
			if err == nil {
				t.Fatalf("%s: UpdateSigningKeys succeeded", tc.name)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%s: got %v, want %v", tc.name, err, tc.want)
			}
			wantEqual(t, tc.name+": keys after failed write", mustListKeys(t, s), storedKeys([]storage.SigningKey{a}))
		}
	}},
}
