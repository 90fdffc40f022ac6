package storagetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

const window = 15 * time.Minute

// epoch is the window of a key BlockThrottle created: long over.
var epoch = time.Unix(0, 0).UTC()

func mustAddFailure(t *testing.T, s storage.Store, key string, now time.Time) storage.Throttle {
	t.Helper()
	th, err := s.AddFailure(ctxT(t), key, now, window)
	if err != nil {
		t.Fatalf("AddFailure(%q, %v): %v", key, now, err)
	}
	return th
}

func mustBlock(t *testing.T, s storage.Store, key string, until time.Time) {
	t.Helper()
	if err := s.BlockThrottle(ctxT(t), key, until); err != nil {
		t.Fatalf("BlockThrottle(%q): %v", key, err)
	}
}

// mustGetThrottles returns the keys' states sorted by key (the order is
// not part of the contract).
func mustGetThrottles(t *testing.T, s storage.Store, keys ...string) []storage.Throttle {
	t.Helper()
	ths, err := s.GetThrottles(ctxT(t), keys)
	if err != nil {
		t.Fatalf("GetThrottles(%q): %v", keys, err)
	}
	slices.SortFunc(ths, func(a, b storage.Throttle) int { return strings.Compare(a.Key, b.Key) })
	return ths
}

// mustGetThrottle returns key's state, failing if it has none.
func mustGetThrottle(t *testing.T, s storage.Store, key string) storage.Throttle {
	t.Helper()
	ths := mustGetThrottles(t, s, key)
	if len(ths) != 1 {
		t.Fatalf("GetThrottles(%q) = %+v, want one state", key, ths)
	}
	return ths[0]
}

func throttleKeys(ths []storage.Throttle) []string {
	keys := []string{}
	for _, th := range ths {
		keys = append(keys, th.Key)
	}
	return keys
}

var throttleCases = []testCase{
	{"throttles/add-failure-window-restarts-exactly-at-boundary", func(t *testing.T, s storage.Store) {
		// t0 has nanoseconds: the window is compared at the stores'
		// microsecond resolution.
		steps := []struct {
			name string
			at   time.Time
			want storage.Throttle
		}{
			{"first-failure-opens-window", t0, storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 1}},
			{"counts-within-window", t0.Add(time.Minute), storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 2}},
			{"before-the-window-start", t0.Add(-time.Hour), storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 3}},
			{"last-microsecond-of-window", t0.Add(window - time.Microsecond), storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 4}},
			{"restarts-exactly-at-boundary", t0.Add(window), storage.Throttle{Key: "k", WindowStart: norm(t0.Add(window)), Failures: 1}},
			{"counts-in-new-window", t0.Add(window + time.Second), storage.Throttle{Key: "k", WindowStart: norm(t0.Add(window)), Failures: 2}},
			{"restarts-long-after", t0.Add(24 * time.Hour), storage.Throttle{Key: "k", WindowStart: norm(t0.Add(24 * time.Hour)), Failures: 1}},
		}
		for _, st := range steps {
			got := mustAddFailure(t, s, "k", st.at)
			wantEqual(t, st.name+": AddFailure", got, st.want)
			wantEqual(t, st.name+": GetThrottles", mustGetThrottle(t, s, "k"), st.want)
		}
		wantEqual(t, "other key untouched", mustAddFailure(t, s, "k2", t0), storage.Throttle{Key: "k2", WindowStart: norm(t0), Failures: 1})
	}},
	{"throttles/block-never-moves-earlier", func(t *testing.T, s storage.Store) {
		// A block on a key without failures creates it with a window long over.
		mustBlock(t, s, "k", t0.Add(10*time.Minute))
		wantEqual(t, "created by block", mustGetThrottle(t, s, "k"),
			storage.Throttle{Key: "k", WindowStart: epoch, BlockedUntil: norm(t0.Add(10 * time.Minute))})
		steps := []struct {
			name  string
			until time.Time
			want  time.Time
		}{
			{"earlier-ignored", t0.Add(5 * time.Minute), t0.Add(10 * time.Minute)},
			{"same-kept", t0.Add(10 * time.Minute), t0.Add(10 * time.Minute)},
			{"zero-ignored", time.Time{}, t0.Add(10 * time.Minute)},
			{"later-extends", t0.Add(20*time.Minute + time.Microsecond), t0.Add(20*time.Minute + time.Microsecond)},
		}
		for _, st := range steps {
			mustBlock(t, s, "k", st.until)
			if got := mustGetThrottle(t, s, "k").BlockedUntil; !got.Equal(norm(st.want)) {
				t.Fatalf("%s: BlockedUntil = %v, want %v", st.name, got, norm(st.want))
			}
		}
		// Failures leave the block alone; the epoch window restarts.
		blocked := norm(t0.Add(20*time.Minute + time.Microsecond))
		wantEqual(t, "AddFailure on a blocked key", mustAddFailure(t, s, "k", t0),
			storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 1, BlockedUntil: blocked})
		wantEqual(t, "AddFailure restarting the window of a blocked key", mustAddFailure(t, s, "k", t0.Add(window)),
			storage.Throttle{Key: "k", WindowStart: norm(t0.Add(window)), Failures: 1, BlockedUntil: blocked})

		// A key with failures and no block gets one.
		mustAddFailure(t, s, "f", t0)
		mustBlock(t, s, "f", t0.Add(time.Minute))
		wantEqual(t, "block after failures", mustGetThrottle(t, s, "f"),
			storage.Throttle{Key: "f", WindowStart: norm(t0), Failures: 1, BlockedUntil: norm(t0.Add(time.Minute))})
		mustBlock(t, s, "z", time.Time{})
		wantEqual(t, "zero block on a missing key creates nothing", mustGetThrottles(t, s, "z"), []storage.Throttle{})
	}},
	{"throttles/get-many-in-one-call", func(t *testing.T, s storage.Store) {
		a := mustAddFailure(t, s, "a", t0)
		mustAddFailure(t, s, "c", t0)
		c := mustAddFailure(t, s, "c", t0.Add(time.Second))
		mustBlock(t, s, "b", t0.Add(time.Hour))
		b := storage.Throttle{Key: "b", WindowStart: epoch, BlockedUntil: norm(t0.Add(time.Hour))}
		wantEqual(t, "GetThrottles", mustGetThrottles(t, s, "c", "missing", "a", "b", "a"), []storage.Throttle{a, b, c})
		wantEqual(t, "GetThrottles of missing keys", mustGetThrottles(t, s, "x", "y"), []storage.Throttle{})
		wantEqual(t, "GetThrottles of no keys", mustGetThrottles(t, s), []storage.Throttle{})
		wantEqual(t, "GetThrottles(nil)", mustGetThrottles(t, s, []string(nil)...), []storage.Throttle{})
	}},
	{"throttles/reset-forgets", func(t *testing.T, s storage.Store) {
		for range 3 {
			mustAddFailure(t, s, "k", t0)
		}
		mustBlock(t, s, "k", t0.Add(time.Hour))
		mustAddFailure(t, s, "other", t0)
		wantErr(t, "ResetThrottle", s.ResetThrottle(ctxT(t), "k"), nil)
		wantEqual(t, "after reset", throttleKeys(mustGetThrottles(t, s, "k", "other")), []string{"other"})
		wantEqual(t, "AddFailure after reset", mustAddFailure(t, s, "k", t0.Add(time.Second)),
			storage.Throttle{Key: "k", WindowStart: norm(t0.Add(time.Second)), Failures: 1})
		wantErr(t, "ResetThrottle of a missing key", s.ResetThrottle(ctxT(t), "missing"), nil)
	}},
	{"throttles/undo-failure-never-below-zero", func(t *testing.T, s storage.Store) {
		mustAddFailure(t, s, "k", t0)
		mustAddFailure(t, s, "k", t0)
		mustBlock(t, s, "k", t0.Add(time.Hour))
		mustAddFailure(t, s, "other", t0)
		wantErr(t, "UndoFailure", s.UndoFailure(ctxT(t), "k"), nil)
		wantEqual(t, "after one undo", mustGetThrottle(t, s, "k"),
			storage.Throttle{Key: "k", WindowStart: norm(t0), Failures: 1, BlockedUntil: norm(t0.Add(time.Hour))})
		wantErr(t, "UndoFailure", s.UndoFailure(ctxT(t), "k"), nil)
		wantErr(t, "UndoFailure at zero", s.UndoFailure(ctxT(t), "k"), nil)
		wantEqual(t, "failures after undoing past zero", mustGetThrottle(t, s, "k").Failures, int64(0))
		wantEqual(t, "other key untouched", mustGetThrottle(t, s, "other").Failures, int64(1))
		wantErr(t, "UndoFailure of a missing key", s.UndoFailure(ctxT(t), "missing"), nil)
		wantEqual(t, "missing key not created", throttleKeys(mustGetThrottles(t, s, "missing")), []string{})
	}},
	{"throttles/delete-stale-batched", func(t *testing.T, s storage.Store) {
		cutoff := t0.Add(time.Hour)
		us := time.Microsecond
		mustAddFailure(t, s, "stale-window", cutoff.Add(-us))
		mustAddFailure(t, s, "stale-blocked-until-cutoff", t0)
		mustBlock(t, s, "stale-blocked-until-cutoff", cutoff)
		mustBlock(t, s, "stale-block-only", cutoff.Add(-time.Minute))
		mustAddFailure(t, s, "window-at-cutoff", cutoff)
		mustAddFailure(t, s, "window-after-cutoff", cutoff.Add(time.Minute))
		mustAddFailure(t, s, "blocked-past-cutoff", t0)
		mustBlock(t, s, "blocked-past-cutoff", cutoff.Add(us))
		mustBlock(t, s, "block-only-past-cutoff", cutoff.Add(time.Minute))
		all := []string{"stale-window", "stale-blocked-until-cutoff", "stale-block-only", "window-at-cutoff",
			"window-after-cutoff", "blocked-past-cutoff", "block-only-past-cutoff"}

		for _, limit := range []int{0, -1} {
			n, err := s.DeleteStaleThrottles(ctxT(t), cutoff, limit)
			if err != nil || n != 0 {
				t.Fatalf("DeleteStaleThrottles(limit %d) = %d, %v; want 0", limit, n, err)
			}
		}
		var got []int64
		for range 3 {
			n, err := s.DeleteStaleThrottles(ctxT(t), cutoff, 2)
			wantErr(t, "DeleteStaleThrottles", err, nil)
			got = append(got, n)
		}
		wantEqual(t, "deleted per call (limit 2)", got, []int64{2, 1, 0})
		wantEqual(t, "kept", throttleKeys(mustGetThrottles(t, s, all...)),
			[]string{"block-only-past-cutoff", "blocked-past-cutoff", "window-after-cutoff", "window-at-cutoff"})
	}},
	{"throttles/invalid-keys", func(t *testing.T, s storage.Store) {
		mustAddFailure(t, s, "good", t0)
		for _, bad := range badText {
			_, err := s.AddFailure(ctxT(t), bad, t0, window)
			refused(t, "AddFailure", err)
			refused(t, "BlockThrottle", s.BlockThrottle(ctxT(t), bad, t0.Add(time.Hour)))
			wantErr(t, "ResetThrottle", s.ResetThrottle(ctxT(t), bad), nil)
			wantErr(t, "UndoFailure", s.UndoFailure(ctxT(t), bad), nil)
			wantEqual(t, "GetThrottles", throttleKeys(mustGetThrottles(t, s, bad, "good")), []string{"good"})
		}
		n, err := s.DeleteStaleThrottles(ctxT(t), t0.Add(24*time.Hour), 100)
		if err != nil || n != 1 {
			t.Fatalf("DeleteStaleThrottles = %d, %v; want only the good key, 1", n, err)
		}
	}},
	{"concurrency/add-failure-same-key", func(t *testing.T, s storage.Store) {
		const n = 50
		counts := make([]int64, n)
		errs := race(n, func(i int) error {
			th, err := s.AddFailure(ctxT(t), "hot", t0.Add(time.Second), window)
			counts[i] = th.Failures
			return err
		})
		if ok, _ := tally(t, errs, nil); ok != n {
			t.Fatalf("%d of %d AddFailure calls succeeded", ok, n)
		}
		// Each call saw its own count: 1 … n, once each.
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("counts returned %v, want 1 … %d once each", counts, n)
			}
		}
		wantEqual(t, "state", mustGetThrottle(t, s, "hot"),
			storage.Throttle{Key: "hot", WindowStart: norm(t0.Add(time.Second)), Failures: n})
	}},
}
