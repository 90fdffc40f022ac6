package signer

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// raceRounds is how many due rotations the instances race for.
const raceRounds = 30

// sharedDatabase returns a function opening a new connection (its own
// pool) to one fresh database of the backend.
func sharedDatabase(t *testing.T, backend string) func() storage.Store {
	t.Helper()
	switch backend {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "idp.db")
		return func() storage.Store { return storagetest.OpenSQLite(t, path) }
	case "postgres":
		url := storagetest.PostgresURL(t) // skips, or fails under IDP_TEST_REQUIRE_POSTGRES=1
		return func() storage.Store { return storagetest.OpenPostgres(t, url) }
	}
	t.Fatalf("unknown backend %s", backend)
	return nil
}

// TestRotationRace: three instances, each on its own connection to one
// database, share a clock and race for the same due rotation, round after
// round. Each round exactly one of them rotates each ring (the others'
// Maintain finds nothing to do), and no reader ever sees a ring with zero
// or two active keys.
func TestRotationRace(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			open := sharedDatabase(t, backend)
			clock := &fixedClock{t: T}
			rings := []string{EdDSA, ES256}
			const n = 3

			// Three instances start at once on the empty database.
			signers := make([]*Signer, n)
			errs := make([]error, n)
			stores := make([]storage.Store, n)
			for i := range stores {
				stores[i] = open()
			}
			var wg sync.WaitGroup
			for i := range n {
				o := signerOptions(stores[i], clock, rings...)
				// Retired keys expire exactly when the next rotation falls
				// due: each round's race also removes the previous round's
				// retired keys, and nothing is due a microsecond before.
				o.Policy.Retention = map[string]time.Duration{EdDSA: testRotation, ES256: testRotation}
				wg.Go(func() { signers[i], errs[i] = New(ctx, o) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("instance %d: %v", i, err)
				}
			}
			audit := open()
			rows := listRows(t, audit)
			checkRings(t, rows, rings...)
			if len(rows) != 2*len(rings) {
				t.Fatalf("three starts stored %v, want one active and one next key per ring", kidsAndStates(rows))
			}
			auditCursor := int64(0)
			if evs, err := audit.ListAudit(ctx, 0, 1000); err != nil {
				t.Fatal(err)
			} else if got := countAudit(evs, "key.generated"); got != 2*len(rings) {
				t.Fatalf("%d key.generated audit events for the three starts, want %d", got, 2*len(rings))
			} else if len(evs) > 0 {
				auditCursor = evs[len(evs)-1].ID
			}

			// A fourth connection watches the key set throughout.
			poll := watchRings(t, open(), rings)

			for round := 1; round <= raceRounds; round++ {
				before := listRows(t, audit)
				due, promote := nextRotation(t, before, rings)
				wantRemoved := map[string]int{}
				for _, r := range before {
					if r.State == storage.KeyRetired && !due.Before(r.ExpiresAt) {
						wantRemoved[r.Alg]++
					}
				}

				// One microsecond early, nothing happens.
				clock.Set(due.Add(-time.Microsecond))
				if evs, err := signers[round%n].Lifecycle().Maintain(ctx); err != nil || len(evs) > 0 {
					t.Fatalf("round %d: Maintain before the due instant: %v, %v", round, eventList(evs), err)
				}

				// At the due instant, all three at once.
				clock.Set(due)
				events := make([][]Event, n)
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						events[i], errs[i] = signers[i].Lifecycle().Maintain(ctx)
					})
				}
				close(start)
				wg.Wait()

				acted := 0
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("round %d: instance %d: %v", round, i, errs[i])
					}
					if len(events[i]) > 0 {
						acted++
					}
				}
				if acted != 1 {
					t.Errorf("round %d: %d instances reported changes, want exactly 1: %v", round, acted, events)
				}
				all := slices.Concat(events...)
				for _, alg := range rings {
					got := map[string]int{}
					for _, e := range all {
						if e.Alg == alg {
							got[e.Type]++
						}
					}
					want := map[string]int{"key.activated": 1, "key.retired": 1, "key.generated": 1}
					if round > 1 {
						want["key.removed"] = 1
					}
					if wantRemoved[alg] != want["key.removed"] {
						t.Errorf("round %d: %d %s keys expire at the due instant, want %d", round, wantRemoved[alg], alg, want["key.removed"])
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("round %d: %s events across the three instances %v, want %v", round, alg, got, want)
					}
				}

				after := listRows(t, audit)
				checkRings(t, after, rings...)
				for _, alg := range rings {
					if got := ringKeys(after, alg, storage.KeyActive); got[0] != promote[alg] {
						t.Errorf("round %d: %s active %s, want the former next key %s", round, alg, short(got[0]), short(promote[alg]))
					}
				}
				if len(after) != 3*len(rings) {
					t.Errorf("round %d: keys %v, want a retired, an active and a next key per ring", round, kidsAndStates(after))
				}

				// The audit log has each rotation once.
				evs, err := audit.ListAudit(ctx, auditCursor, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if got := countAudit(evs, "key.activated"); got != len(rings) {
					t.Errorf("round %d: %d key.activated audit events, want %d", round, got, len(rings))
				}
				if len(evs) > 0 {
					auditCursor = evs[len(evs)-1].ID
				}

				// Every instance picks the new keys up and agrees.
				for i, s := range signers {
					if err := s.Reload(ctx); err != nil {
						t.Fatalf("round %d: instance %d reload: %v", round, i, err)
					}
					for _, alg := range rings {
						if k, err := s.SigningKey(alg); err != nil || k.KID != promote[alg] {
							t.Errorf("round %d: instance %d signs %s with %v (%v)", round, i, alg, k, err)
						}
					}
					if s.JWKS().ETag != signers[0].JWKS().ETag {
						t.Errorf("round %d: instance %d publishes another JWKS", round, i)
					}
				}
				if t.Failed() {
					break
				}
			}

			polls, bad := poll()
			if len(bad) > 0 {
				t.Errorf("a reader saw a broken key set %d times (of %d reads), e.g. %v", len(bad), polls, bad[:min(len(bad), 5)])
			}
			if polls < raceRounds {
				t.Errorf("the watcher read the key set only %d times", polls)
			}
			t.Logf("%d rounds, watcher read the key set %d times", raceRounds, polls)
		})
	}
}

// nextRotation is the instant every ring's rotation falls due (the rings
// were created together, so they rotate together) and, per ring, the next
// key that will take over.
func nextRotation(t *testing.T, rows []storage.SigningKey, rings []string) (time.Time, map[string]string) {
	t.Helper()
	var due time.Time
	promote := map[string]string{}
	for i, alg := range rings {
		next := mustRow(t, rows, ringKeys(rows, alg, storage.KeyNext)[0])
		if i > 0 && !next.ActivatesAt.Equal(due) {
			t.Fatalf("rings fall due at different instants: %s and %s", due, next.ActivatesAt)
		}
		due = next.ActivatesAt
		promote[alg] = next.KID
	}
	return due, promote
}

func countAudit(evs []storage.AuditEvent, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// watchRings reads the key set over st until the returned function is
// called, which returns how many reads it made and a description of each
// read that found a ring without exactly one active key or without a
// next key.
func watchRings(t *testing.T, st storage.SigningKeys, rings []string) func() (int, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var polls atomic.Int64
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			rows, err := st.ListSigningKeys(ctx)
			if err != nil {
				if ctx.Err() == nil {
					mu.Lock()
					bad = append(bad, "read error: "+err.Error())
					mu.Unlock()
				}
				return
			}
			polls.Add(1)
			if problems := ringProblems(rows, rings); len(problems) > 0 {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%v in %v", problems, kidsAndStates(rows)))
				mu.Unlock()
			}
		}
	}()
	stop := func() (int, []string) {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return int(polls.Load()), slices.Clone(bad)
	}
	t.Cleanup(func() { stop() })
	return stop
}
