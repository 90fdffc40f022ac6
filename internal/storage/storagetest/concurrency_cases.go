package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// race runs fn(i) for i in [0, n) on n goroutines released together, and
// returns their errors by i.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts nil errors and errors matching want; any other error fails.
func tally(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("goroutine %d: unexpected error: %v", i, err)
		}
	}
	return ok, matched
}

var concurrencyCases = []testCase{
	{"concurrency/create-user-same-email", func(t *testing.T, s storage.Store) {
		const n = 20
		errs := race(n, func(i int) error {
			email := "race@example.com"
			if i%2 == 1 {
				email = strings.ToUpper(email)
			} else if i%3 == 0 {
				email = "Race@Example.Com"
			}
			_, err := s.CreateUser(ctxT(t), newUser(email))
			return err
		})
		ok, conflicts := tally(t, errs, storage.ErrConflict)
		if ok != 1 || conflicts != n-1 {
			t.Fatalf("%d created, %d ErrConflict; want 1 and %d", ok, conflicts, n-1)
		}
		all, err := s.ListUsers(ctxT(t), 0, 100)
		wantErr(t, "ListUsers", err, nil)
		if len(all) != 1 {
			t.Fatalf("%d users stored, want 1", len(all))
		}
	}},
	{"concurrency/rotate-family-same-old-jti", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		const n = 50
		at := t0.Add(time.Minute)
		errs := race(n, func(i int) error {
			_, err := s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: f.ID, OldJTI: f.CurrentJTI,
				NewJTI: fmt.Sprintf("new-%d", i), NewKID: "k", At: at})
			return err
		})
		ok, refused := tally(t, errs, storage.ErrNotFound)
		if ok != 1 || refused != n-1 {
			t.Fatalf("%d rotations succeeded, %d ErrNotFound; want 1 and %d", ok, refused, n-1)
		}
		winner := -1
		for i, err := range errs {
			if err == nil {
				winner = i
			}
		}
		got := mustGetFamily(t, s, f.ID)
		if got.Generation != 1 || got.PreviousJTI != f.CurrentJTI || got.CurrentJTI != fmt.Sprintf("new-%d", winner) {
			t.Fatalf("family after the race = %+v; want generation 1, current new-%d", got, winner)
		}
	}},
	{"concurrency/update-signing-keys-one-active", func(t *testing.T, s storage.Store) {
		const n = 8
		errs := race(n, func(i int) error {
			return s.UpdateSigningKeys(ctxT(t), func(cur []storage.SigningKey) (storage.KeyChanges, error) {
				for _, k := range cur {
					if k.Alg == "RS256" && k.State == storage.KeyActive {
						return storage.KeyChanges{}, nil // another instance did it
					}
				}
				return storage.KeyChanges{Insert: []storage.SigningKey{
					newKey(fmt.Sprintf("k%d", i), "RS256", storage.KeyActive, t0),
				}}, nil
			})
		})
		if ok, _ := tally(t, errs, nil); ok != n {
			t.Fatalf("%d of %d updates succeeded", ok, n)
		}
		active := 0
		for _, k := range mustListKeys(t, s) {
			if k.Alg == "RS256" && k.State == storage.KeyActive {
				active++
			}
		}
		if active != 1 {
			t.Fatalf("%d active RS256 keys after the race, want exactly 1", active)
		}
	}},
}
