package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/opensslrsa"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var (
	kekA = bytes.Repeat([]byte{0xA1}, KEKSize)
	kekB = bytes.Repeat([]byte{0xB2}, KEKSize)
	t0   = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// fixedClock is a settable clock safe for concurrent reads.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// fixtureKey loads a PKCS#8 PEM from testdata as a Key for alg.
func fixtureKey(t testing.TB, name, alg string) *Key {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	k, err := NewKey(alg, priv)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// row seals k under kek into a storage row.
func row(t testing.TB, kek []byte, k *Key, state storage.KeyState, created time.Time) storage.SigningKey {
	t.Helper()
	blob, err := seal(kek, k.KID, string(k.Alg), k.raw)
	if err != nil {
		t.Fatal(err)
	}
	return storage.SigningKey{
		KID: k.KID, Alg: string(k.Alg), State: state, PrivateKey: blob, PublicJWK: k.publicDoc,
		CreatedAt: created, ActivatesAt: created,
	}
}

func insert(t testing.TB, st storage.SigningKeys, rows ...storage.SigningKey) {
	t.Helper()
	err := st.UpdateSigningKeys(context.Background(), func([]storage.SigningKey) (storage.KeyChanges, error) {
		return storage.KeyChanges{Insert: rows}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func opts(st storage.SigningKeys, clock *fixedClock, keks ...[]byte) Options {
	if len(keks) == 0 {
		keks = [][]byte{kekA}
	}
	return Options{Store: st, KEKs: keks, Now: clock.Now}
}

// signAndVerify signs with s's active key and verifies with v's published key.
func signAndVerify(t *testing.T, s, v *Signer, alg string) {
	t.Helper()
	k, err := s.SigningKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Sign([]byte("payload"), jws.WithKey(k.Alg, k.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	vk, err := v.VerificationKey(k.KID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(msg, jws.WithKey(vk.Alg, vk.PublicKey())); err != nil {
		t.Fatalf("verify with published key: %v", err)
	}
}

func TestNewGeneratesOnEmptyStore(t *testing.T) {
	for _, alg := range []string{RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			st := storagetest.SQLite(t)
			clock := &fixedClock{t: t0}
			o := opts(st, clock)
			o.Policy.Rings = []string{alg}
			s, err := New(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := st.ListSigningKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// A fresh ring holds one active key and one next key, published
			// now and scheduled one rotation period later.
			byState := map[storage.KeyState][]storage.SigningKey{}
			for _, r := range rows {
				if r.Alg != alg {
					t.Errorf("key %s of algorithm %s, want %s", r.KID, r.Alg, alg)
				}
				byState[r.State] = append(byState[r.State], r)
			}
			if len(rows) != 2 || len(byState[storage.KeyActive]) != 1 || len(byState[storage.KeyNext]) != 1 {
				t.Fatalf("rows = %v, want one active and one next %s key", kidsAndStates(rows), alg)
			}
			r, next := byState[storage.KeyActive][0], byState[storage.KeyNext][0]
			if !r.CreatedAt.Equal(t0) || !r.ActivatesAt.Equal(t0) {
				t.Errorf("active created/activates = %v/%v, want %v", r.CreatedAt, r.ActivatesAt, t0)
			}
			if want := t0.Add(DefaultPolicy().RotationPeriod); !next.CreatedAt.Equal(t0) || !next.ActivatesAt.Equal(want) {
				t.Errorf("next created/activates = %v/%v, want %v/%v", next.CreatedAt, next.ActivatesAt, t0, want)
			}
			for _, r := range rows {
				if bytes.Contains(r.PrivateKey, []byte("PRIVATE")) || len(r.PrivateKey) < sealHeader+16 || r.PrivateKey[0] != sealVersion {
					t.Errorf("private key of %s not sealed: %q", r.KID, r.PrivateKey[:min(len(r.PrivateKey), 20)])
				}
			}
			k, err := s.SigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			if k.KID != r.KID || string(k.Alg) != alg || k.State != storage.KeyActive {
				t.Errorf("signing key %s/%s/%s, row %s", k.KID, k.Alg, k.State, r.KID)
			}
			if !s.Ready() {
				t.Error("not ready")
			}
			signAndVerify(t, s, s, alg)
			if nk, err := s.VerificationKey(next.KID); err != nil || nk.State != storage.KeyNext {
				t.Errorf("next key not a verification key: %v, %v", nk, err)
			}

			// The published JWKs, active first: kid, alg, use, key params,
			// nothing private.
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(s.JWKS().Body, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
			}
			for i, want := range []string{r.KID, next.KID} {
				pub := set.Keys[i]
				if pub["kid"] != want || pub["alg"] != alg || pub["use"] != "sig" {
					t.Errorf("JWK #%d = %v, want kid %s", i, pub, want)
				}
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := pub[private]; ok {
						t.Errorf("JWK publishes private member %q", private)
					}
				}
			}
			if _, err := s.SigningKey(ES256); err == nil {
				t.Error("SigningKey(ES256) succeeded on a store without an ES256 ring")
			}
		})
	}
}

func TestNewReusesKeyAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	clock := &fixedClock{t: t0}
	st1 := storagetest.OpenSQLite(t, path)
	first, err := New(context.Background(), opts(st1, clock))
	if err != nil {
		t.Fatal(err)
	}
	before, err := st1.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Hour))
	st2 := storagetest.OpenSQLite(t, path)
	second, err := New(context.Background(), opts(st2, clock))
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := first.SigningKey(RS256)
	k2, _ := second.SigningKey(RS256)
	if k1.KID != k2.KID {
		t.Fatalf("restart made a new key: %s then %s", k1.KID, k2.KID)
	}
	rows, _ := st2.ListSigningKeys(context.Background())
	if len(rows) != 2 || !reflect.DeepEqual(rows, before) {
		t.Fatalf("restart changed the key set:\nbefore %v\nafter  %v", kidsAndStates(before), kidsAndStates(rows))
	}
	signAndVerify(t, first, second, RS256)
	signAndVerify(t, second, first, RS256)
	if !bytes.Equal(first.JWKS().Body, second.JWKS().Body) || first.JWKS().ETag != second.JWKS().ETag {
		t.Error("JWKS differs across restart")
	}
}

func TestNewUnsealErrors(t *testing.T) {
	ctx := context.Background()
	rsa := fixtureKey(t, "rsa2048.pem", RS256)
	ed := fixtureKey(t, "ed25519.pem", EdDSA)

	tests := []struct {
		name    string
		rows    func() []storage.SigningKey
		keks    [][]byte
		wantErr string // "" means success
	}{
		{
			name:    "wrong-kek",
			rows:    func() []storage.SigningKey { return []storage.SigningKey{row(t, kekA, rsa, storage.KeyActive, t0)} },
			keks:    [][]byte{kekB},
			wantErr: "unseal key " + rsa.KID + ": sealed under key-encryption key",
		},
		{
			name:    "old-kek-listed-second",
			rows:    func() []storage.SigningKey { return []storage.SigningKey{row(t, kekA, rsa, storage.KeyActive, t0)} },
			keks:    [][]byte{kekB, kekA},
			wantErr: "",
		},
		{
			name: "blob-swapped-between-rows",
			rows: func() []storage.SigningKey {
				a := row(t, kekA, rsa, storage.KeyActive, t0)
				b := row(t, kekA, fixtureKey(t, "rsa2048-b.pem", RS256), storage.KeyRetired, t0.Add(-time.Hour))
				a.PrivateKey, b.PrivateKey = b.PrivateKey, a.PrivateKey
				return []storage.SigningKey{a, b}
			},
			keks:    [][]byte{kekA},
			wantErr: "authentication failed",
		},
		{
			name: "blob-moved-to-other-alg",
			rows: func() []storage.SigningKey {
				e := row(t, kekA, ed, storage.KeyActive, t0)
				e.Alg = RS256 // AAD binds alg too
				return []storage.SigningKey{e}
			},
			keks:    [][]byte{kekA},
			wantErr: ed.KID,
		},
		{
			name: "corrupt-blob",
			rows: func() []storage.SigningKey {
				r := row(t, kekA, rsa, storage.KeyActive, t0)
				r.PrivateKey[len(r.PrivateKey)-1] ^= 1
				return []storage.SigningKey{r}
			},
			keks:    [][]byte{kekA},
			wantErr: "unseal key " + rsa.KID + ": authentication failed",
		},
		{
			name: "truncated-blob",
			rows: func() []storage.SigningKey {
				r := row(t, kekA, rsa, storage.KeyActive, t0)
				r.PrivateKey = r.PrivateKey[:5]
				return []storage.SigningKey{r}
			},
			keks:    [][]byte{kekA},
			wantErr: "unseal key " + rsa.KID + ": sealed blob too short",
		},
		{
			name: "public-jwk-of-another-key",
			rows: func() []storage.SigningKey {
				r := row(t, kekA, rsa, storage.KeyActive, t0)
				r.PublicJWK = fixtureKey(t, "rsa2048-b.pem", RS256).publicDoc
				return []storage.SigningKey{r}
			},
			keks:    [][]byte{kekA},
			wantErr: "signing key " + rsa.KID + ": public JWK does not match the kid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storagetest.SQLite(t)
			insert(t, st, tt.rows()...)
			s, err := New(ctx, opts(st, &fixedClock{t: t0}, tt.keks...))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				signAndVerify(t, s, s, RS256)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			for _, k := range [][]byte{kekA, kekB} {
				if strings.Contains(err.Error(), hex.EncodeToString(k)) {
					t.Error("error reveals a KEK")
				}
			}
		})
	}
}

func TestSealRoundTrip(t *testing.T) {
	for _, tt := range []struct{ file, alg string }{{"rsa2048.pem", RS256}, {"ed25519.pem", EdDSA}} {
		t.Run(tt.alg, func(t *testing.T) {
			k := fixtureKey(t, tt.file, tt.alg)
			blob, err := seal(kekA, k.KID, tt.alg, k.raw)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := seal(kekA, k.KID, tt.alg, k.raw)
			if bytes.Equal(blob, again) {
				t.Error("two seals gave the same bytes: nonce not random")
			}
			id := kekID(kekA)
			if blob[0] != sealVersion || !bytes.Equal(blob[1:9], id[:]) {
				t.Errorf("header = %x", blob[:9])
			}
			priv, err := unseal([][]byte{kekB, kekA}, k.KID, tt.alg, blob)
			if err != nil {
				t.Fatal(err)
			}
			k2, err := NewKey(tt.alg, priv)
			if err != nil || k2.KID != k.KID {
				t.Fatalf("unsealed key kid %v, err %v", k2, err)
			}
			if _, err := unseal([][]byte{kekA}, "other-kid", tt.alg, blob); err == nil {
				t.Error("unsealed under another kid")
			}
		})
	}
}

func TestJWKSGolden(t *testing.T) {
	ctx := context.Background()
	st := storagetest.SQLite(t)
	clock := &fixedClock{t: t0}
	rsaActive := fixtureKey(t, "rsa2048.pem", RS256)
	edActive := fixtureKey(t, "ed25519.pem", EdDSA)
	rsaRetired := fixtureKey(t, "rsa2048-b.pem", RS256)
	edNext := fixtureKey(t, "ed25519-b.pem", EdDSA)
	// Every ring has its next key from testdata: New then generates
	// nothing, and the golden file holds fixed keys only.
	rsaNext := fixtureKey(t, "rsa2048-c.pem", RS256)
	revoked, _ := GenerateKey(EdDSA, 0)
	expired, _ := GenerateKey(EdDSA, 0)

	retired := row(t, kekA, rsaRetired, storage.KeyRetired, t0.Add(-48*time.Hour))
	retired.RetiredAt = t0.Add(-time.Hour)
	retired.ExpiresAt = t0.Add(time.Hour)
	rev := row(t, kekA, revoked, storage.KeyRevoked, t0.Add(-72*time.Hour))
	rev.RevokedAt, rev.RevokeReason = t0.Add(-time.Minute), "test"
	exp := row(t, kekA, expired, storage.KeyRetired, t0.Add(-96*time.Hour))
	exp.RetiredAt, exp.ExpiresAt = t0.Add(-3*time.Hour), t0.Add(-time.Second)
	insert(t, st,
		row(t, kekA, rsaActive, storage.KeyActive, t0.Add(-24*time.Hour)),
		row(t, kekA, edActive, storage.KeyActive, t0.Add(-12*time.Hour)),
		retired, rev, exp,
		row(t, kekA, edNext, storage.KeyNext, t0.Add(-time.Minute)),
		row(t, kekA, rsaNext, storage.KeyNext, t0.Add(-30*time.Minute)),
	)
	o := opts(st, clock)
	o.Policy.Rings = []string{RS256, EdDSA}
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// New's maintenance removed the expired key and generated nothing.
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kidsAndStates(rows), 6; len(got) != want {
		t.Fatalf("stored keys after New: %v, want %d", got, want)
	}
	if _, ok := find(rows, expired.KID); ok {
		t.Error("expired retired key still stored")
	}
	got := s.JWKS()

	golden := filepath.Join("testdata", "jwks.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(bytes.Clone(got.Body), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("JWKS differs from %s (run with -update if intended)\ngot:  %s\nwant: %s", golden, got.Body, want)
	}

	// Order: active first, then by creation; revoked and expired absent.
	set, err := jwk.Parse(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	wantKids := []string{rsaActive.KID, edActive.KID, retired.KID, rsaNext.KID, edNext.KID}
	if strings.Join(kids, ",") != strings.Join(wantKids, ",") {
		t.Errorf("kids = %v, want %v", kids, wantKids)
	}
	if bytes.Contains(got.Body, []byte(" ")) || bytes.Contains(got.Body, []byte("\n")) {
		t.Error("JWKS is not compact")
	}

	// ETag: strong, quoted, a hash of the body, stable across reloads and instances.
	sum := sha256.Sum256(got.Body)
	if got.ETag != `"`+hex.EncodeToString(sum[:16])+`"` {
		t.Errorf("ETag = %s", got.ETag)
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.JWKS().ETag != got.ETag || other.JWKS().ETag != got.ETag {
		t.Error("ETag not stable")
	}

	// Verification keys: published ones only.
	for _, tt := range []struct {
		name string
		kid  string
		ok   bool
	}{
		{"active", rsaActive.KID, true},
		{"next", edNext.KID, true},
		{"next-rsa", rsaNext.KID, true},
		{"retired", retired.KID, true},
		{"revoked", revoked.KID, false},
		{"expired", expired.KID, false},
		{"unknown", "nope", false},
		{"empty", "", false},
	} {
		t.Run("verification-key/"+tt.name, func(t *testing.T) {
			k, err := s.VerificationKey(tt.kid)
			if tt.ok && (err != nil || k.KID != tt.kid) {
				t.Fatalf("VerificationKey = %v, %v", k, err)
			}
			if !tt.ok && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("err = %v, want ErrUnknownKey", err)
			}
		})
	}

	// A retired key stops verifying when it expires, before any reload.
	clock.Set(retired.ExpiresAt)
	if _, err := s.VerificationKey(retired.KID); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("expired retired key still verifies: %v", err)
	}
	// and the next reload drops it from the JWKS.
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.JWKS().Body, []byte(retired.KID)) || s.JWKS().ETag == got.ETag {
		t.Error("reload after expiry still publishes the retired key")
	}
}

func TestReload(t *testing.T) {
	ctx := context.Background()
	st := storagetest.SQLite(t)
	clock := &fixedClock{t: t0}
	s, err := New(ctx, opts(st, clock))
	if err != nil {
		t.Fatal(err)
	}
	active, _ := s.SigningKey(RS256)
	before := s.snap.Load()
	cached := s.cache[active.KID]

	t.Run("unchanged-keeps-snapshot", func(t *testing.T) {
		if err := s.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if s.snap.Load() != before {
			t.Error("snapshot rebuilt although nothing changed")
		}
	})
	t.Run("new-key-published-old-not-unsealed-again", func(t *testing.T) {
		next := fixtureKey(t, "ed25519-b.pem", EdDSA)
		insert(t, st, row(t, kekA, next, storage.KeyNext, t0))
		if err := s.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if s.snap.Load() == before {
			t.Fatal("snapshot not rebuilt")
		}
		if !bytes.Contains(s.JWKS().Body, []byte(next.KID)) {
			t.Error("new key not in JWKS")
		}
		if s.cache[active.KID] != cached {
			t.Error("known key unsealed again")
		}
		if k, err := s.VerificationKey(next.KID); err != nil || k.State != storage.KeyNext {
			t.Errorf("next key: %v, %v", k, err)
		}
		if k, _ := s.SigningKey(RS256); k.KID != active.KID {
			t.Error("active key changed")
		}
	})
	t.Run("revoked-key-withdrawn", func(t *testing.T) {
		err := st.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) (storage.KeyChanges, error) {
			for _, r := range cur {
				if r.KID == active.KID {
					r.State, r.RevokedAt = storage.KeyRevoked, t0
					return storage.KeyChanges{Update: []storage.SigningKey{r}}, nil
				}
			}
			return storage.KeyChanges{}, errors.New("active key not found")
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerificationKey(active.KID); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("revoked key verifies: %v", err)
		}
		if bytes.Contains(s.JWKS().Body, []byte(active.KID)) {
			t.Error("revoked key published")
		}
		if s.Ready() {
			t.Error("ready without an active RS256 key")
		}
		if _, err := s.SigningKey(RS256); err == nil {
			t.Error("SigningKey succeeded without an active key")
		}
	})
}

// TestNewConcurrentInstances starts three instances at once on one fresh
// database, each with its own connection pool: one key is generated and
// all three use it.
func TestNewConcurrentInstances(t *testing.T) {
	backends := map[string]func(t *testing.T) func() storage.SigningKeys{
		"sqlite": func(t *testing.T) func() storage.SigningKeys {
			path := filepath.Join(t.TempDir(), "idp.db")
			storagetest.OpenSQLite(t, path) // migrate once
			return func() storage.SigningKeys { return storagetest.OpenSQLite(t, path) }
		},
		"postgres": func(t *testing.T) func() storage.SigningKeys {
			url := storagetest.PostgresURL(t)
			storagetest.OpenPostgres(t, url)
			return func() storage.SigningKeys { return storagetest.OpenPostgres(t, url) }
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			openStore := open(t)
			const n = 3
			stores := make([]storage.SigningKeys, n)
			for i := range stores {
				stores[i] = openStore()
			}
			signers := make([]*Signer, n)
			errs := make([]error, n)
			var logs syncBuffer
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					o := opts(stores[i], &fixedClock{t: t0})
					o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
					signers[i], errs[i] = New(context.Background(), o)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("instance %d: %v", i, err)
				}
			}
			rows, err := stores[0].ListSigningKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var active, next []storage.SigningKey
			for _, r := range rows {
				switch r.State {
				case storage.KeyActive:
					active = append(active, r)
				case storage.KeyNext:
					next = append(next, r)
				}
			}
			if len(rows) != 2 || len(active) != 1 || len(next) != 1 {
				t.Fatalf("stored keys %v, want exactly one active and one next", kidsAndStates(rows))
			}
			// Exactly one instance inserted the ring's two keys; the others
			// found them there.
			if got := strings.Count(logs.String(), "event=key.generated"); got != 2 {
				t.Errorf("%d key.generated events, want 2 (one active, one next); logs:\n%s", got, logs.String())
			}
			if got := strings.Count(logs.String(), "event=key.activated"); got != 0 {
				t.Errorf("%d key.activated events on a fresh store, want 0", got)
			}
			for i, s := range signers {
				if k, _ := s.SigningKey(RS256); k.KID != active[0].KID {
					t.Errorf("instance %d signs with %s, want %s", i, k.KID, active[0].KID)
				}
				if s.JWKS().ETag != signers[0].JWKS().ETag {
					t.Errorf("instance %d publishes another JWKS", i)
				}
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func TestNewOptions(t *testing.T) {
	st := storagetest.SQLite(t)
	for _, tt := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no-store", func(o *Options) { o.Store = nil }, "Store is required"},
		{"no-kek", func(o *Options) { o.KEKs = nil }, "key-encryption key is required"},
		{"short-kek", func(o *Options) { o.KEKs = [][]byte{make([]byte, 16)} }, "#1 is 16 bytes"},
		{"bad-alg", func(o *Options) { o.Policy.Rings = []string{"HS256"} }, `unsupported algorithm "HS256"`},
		{"small-rsa", func(o *Options) { o.Policy.RSABits = 1024 }, "RSA keys of 1024 bits"},
		{"prepublish-longer-than-rotation", func(o *Options) { o.Policy.RotationPeriod, o.Policy.PrePublish = time.Hour, 2*time.Hour }, "shorter than the pre-publication time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := opts(st, &fixedClock{t: t0})
			tt.mod(&o)
			_, err := New(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewKeyRejects(t *testing.T) {
	ed := fixtureKey(t, "ed25519.pem", EdDSA)
	rsa := fixtureKey(t, "rsa2048.pem", RS256)
	for _, tt := range []struct {
		name string
		alg  string
		priv any
	}{
		{"rsa-for-eddsa", EdDSA, rsa.signer},
		{"ed-for-rs256", RS256, ed.signer},
		{"unknown-alg", "ES256", rsa.signer},
		{"nil", RS256, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKey(tt.alg, tt.priv); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := GenerateKey(RS256, 1024); err == nil {
		t.Error("generated a 1024-bit RSA key")
	}
}

func BenchmarkVerificationKey(b *testing.B) {
	st := storagetest.SQLite(b)
	s, err := New(context.Background(), Options{Store: st, KEKs: [][]byte{kekA}, Policy: Policy{Rings: []string{EdDSA}}})
	if err != nil {
		b.Fatal(err)
	}
	k, _ := s.SigningKey(EdDSA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.VerificationKey(k.KID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnseal(b *testing.B) {
	k := fixtureKey(b, "rsa2048.pem", RS256)
	blob, err := seal(kekA, k.KID, RS256, k.raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := unseal([][]byte{kekA}, k.KID, RS256, blob); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKeyNeverPrintsMaterial(t *testing.T) {
	k := fixtureKey(t, "rsa2048.pem", RS256)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), logged.String()} {
		if !strings.Contains(out, k.KID) || strings.Contains(out, `"d"`) || strings.Contains(out, "PRIVATE") ||
			strings.Contains(out, "Primes") || strings.Contains(out, "D:") {
			t.Errorf("printed key: %s", out)
		}
	}
}

// TestRS256UsesOpenSSLWhenEnabled: with OpenSSL on, RS256 keys sign
// through it (opensslrsa) and the tokens still verify with the Go key.
func TestRS256UsesOpenSSLWhenEnabled(t *testing.T) {
	k, err := GenerateKey(RS256, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, goKey := k.Signer().(*rsa.PrivateKey)
	if opensslrsa.Enabled() == goKey {
		t.Fatalf("OpenSSL enabled = %v, but the key signs with %T", opensslrsa.Enabled(), k.Signer())
	}
	if k.raw.(*rsa.PrivateKey) == nil {
		t.Fatal("the raw key is not kept for sealing")
	}
	d := sha256.Sum256([]byte("x"))
	sig, err := k.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(k.PublicKey().(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Fatal(err)
	}
}
