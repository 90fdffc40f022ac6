package signer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// The lifecycle tests run on an injected clock. T is aligned to the
// microsecond, as both stores keep times.
var T = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

const (
	testRotation   = 10 * 24 * time.Hour
	testPrePublish = 2 * time.Hour
)

// testPolicy is a schedule with a retention of its own per algorithm, so
// that a test can tell which ring's retention was applied.
func testPolicy(rings ...string) Policy {
	return Policy{
		Rings:          rings,
		RSABits:        2048,
		RotationPeriod: testRotation,
		PrePublish:     testPrePublish,
		Retention:      map[string]time.Duration{RS256: 3 * time.Hour, EdDSA: 48 * time.Hour, ES256: 5 * time.Hour},
	}
}

// lifecycle is a Lifecycle on st with the test policy, sealing under kekA.
func lifecycle(st storage.Store, clock *fixedClock, rings ...string) *Lifecycle {
	return &Lifecycle{
		Store: st, KEKs: [][]byte{kekA}, Policy: testPolicy(rings...),
		Families: st, Audit: st, Now: clock.Now,
	}
}

// signerOptions are a Signer's options on st with the test policy.
func signerOptions(st storage.Store, clock *fixedClock, rings ...string) Options {
	return Options{
		Store: st, KEKs: [][]byte{kekA}, Policy: testPolicy(rings...),
		Families: st, Audit: st, Now: clock.Now,
	}
}

// kidsAndStates names rows compactly for failure messages.
func kidsAndStates(rows []storage.SigningKey) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s/%s/%s", short(r.KID), r.Alg, r.State))
	}
	return out
}

func short(kid string) string { return kid[:min(len(kid), 8)] }

func listRows(t testing.TB, st storage.SigningKeys) []storage.SigningKey {
	t.Helper()
	rows, err := st.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func mustRow(t testing.TB, rows []storage.SigningKey, kid string) storage.SigningKey {
	t.Helper()
	r, ok := find(rows, kid)
	if !ok {
		t.Fatalf("no stored key %s among %v", short(kid), kidsAndStates(rows))
	}
	return r
}

// ringKeys returns the kids of rows of alg in state, oldest first.
func ringKeys(rows []storage.SigningKey, alg string, state storage.KeyState) []string {
	var kids []string
	for _, r := range rows {
		if r.Alg == alg && r.State == state {
			kids = append(kids, r.KID)
		}
	}
	return kids
}

// ringProblems describes every configured ring without exactly one active
// key or without a next key, and any active or next key of another ring.
func ringProblems(rows []storage.SigningKey, rings []string) []string {
	var bad []string
	for _, alg := range rings {
		if n := len(ringKeys(rows, alg, storage.KeyActive)); n != 1 {
			bad = append(bad, fmt.Sprintf("%s ring has %d active keys", alg, n))
		}
		if len(ringKeys(rows, alg, storage.KeyNext)) == 0 {
			bad = append(bad, fmt.Sprintf("%s ring has no next key", alg))
		}
	}
	for _, r := range rows {
		if (r.State == storage.KeyActive || r.State == storage.KeyNext) && !slices.Contains(rings, r.Alg) {
			bad = append(bad, fmt.Sprintf("%s key %s of unconfigured ring %s", r.State, short(r.KID), r.Alg))
		}
	}
	return bad
}

// checkRings fails unless every ring has exactly one active key and at
// least one next key.
func checkRings(t testing.TB, rows []storage.SigningKey, rings ...string) {
	t.Helper()
	if bad := ringProblems(rows, rings); len(bad) > 0 {
		t.Fatalf("key set broken: %v (keys %v)", bad, kidsAndStates(rows))
	}
}

// eventList renders events as sorted "type kid" strings.
func eventList(events []Event) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Type+" "+e.KID)
	}
	slices.Sort(out)
	return out
}

func countEvents(events []Event, typ string) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// onlyEvents fails unless events are exactly want (as "type kid", any order).
func onlyEvents(t testing.TB, events []Event, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := eventList(events); !slices.Equal(got, want) {
		t.Errorf("events:\n got  %q\n want %q", got, want)
	}
}

// --- plan: a pure function, tested on rows without a store. ---

// keyRow is a plan input row. Plan tests need no key material.
func keyRow(kid, alg string, state storage.KeyState, created, activates time.Time) storage.SigningKey {
	return storage.SigningKey{KID: kid, Alg: alg, State: state, CreatedAt: created, ActivatesAt: activates}
}

func retiredRow(kid, alg string, created, retired, expires time.Time) storage.SigningKey {
	r := keyRow(kid, alg, storage.KeyRetired, created, created)
	r.RetiredAt, r.ExpiresAt = retired, expires
	return r
}

func revokedRow(kid, alg string, created, revoked time.Time) storage.SigningKey {
	r := keyRow(kid, alg, storage.KeyRevoked, created, created)
	r.RevokedAt, r.RevokeReason = revoked, "test"
	return r
}

// freshKeys stands in for key generation: fresh-1, fresh-2, … created at
// now, as Lifecycle.update hands them to plan.
type freshKeys struct {
	n   int
	err error
}

func (f *freshKeys) source(now time.Time) func(string) (storage.SigningKey, error) {
	return func(alg string) (storage.SigningKey, error) {
		if f.err != nil {
			return storage.SigningKey{}, f.err
		}
		f.n++
		return storage.SigningKey{KID: fmt.Sprintf("fresh-%d", f.n), Alg: alg, CreatedAt: now}, nil
	}
}

// applyLikeStore applies ch as both stores do: deletes, then updates (of
// existing kids), then inserts (of new kids); a violation is an error, as
// it would fail the transaction.
func applyLikeStore(rows []storage.SigningKey, ch storage.KeyChanges) ([]storage.SigningKey, error) {
	out := slices.Clone(rows)
	for _, kid := range ch.Delete {
		i := slices.IndexFunc(out, func(r storage.SigningKey) bool { return r.KID == kid })
		if i < 0 {
			return nil, fmt.Errorf("delete of missing key %s", kid)
		}
		out = slices.Delete(out, i, i+1)
	}
	for _, u := range ch.Update {
		i := slices.IndexFunc(out, func(r storage.SigningKey) bool { return r.KID == u.KID })
		if i < 0 {
			return nil, fmt.Errorf("update of missing key %s", u.KID)
		}
		out[i] = u
	}
	for _, k := range ch.Insert {
		if slices.ContainsFunc(out, func(r storage.SigningKey) bool { return r.KID == k.KID }) {
			return nil, fmt.Errorf("insert of existing key %s", k.KID)
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b storage.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.KID, b.KID))
	})
	return out, nil
}

// keyView is what the plan tests compare of a row.
type keyView struct {
	KID, Alg  string
	State     storage.KeyState
	Created   time.Time
	Activates time.Time
	Retired   time.Time
	Expires   time.Time
}

func (v keyView) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "T" + fmtOffset(t.Sub(T))
	}
	return fmt.Sprintf("{%s %s %s created=%s activates=%s retired=%s expires=%s}",
		v.KID, v.Alg, v.State, f(v.Created), f(v.Activates), f(v.Retired), f(v.Expires))
}

func fmtOffset(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

func views(rows []storage.SigningKey) []keyView {
	out := make([]keyView, 0, len(rows))
	for _, r := range rows {
		out = append(out, keyView{r.KID, r.Alg, r.State, r.CreatedAt, r.ActivatesAt, r.RetiredAt, r.ExpiresAt})
	}
	slices.SortFunc(out, func(a, b keyView) int { return cmp.Compare(a.KID, b.KID) })
	return out
}

func view(kid, alg string, state storage.KeyState, created, activates time.Time) keyView {
	return keyView{KID: kid, Alg: alg, State: state, Created: created, Activates: activates}
}

func (v keyView) retired(at, expires time.Time) keyView {
	v.State, v.Retired, v.Expires = storage.KeyRetired, at, expires
	return v
}

func TestPlan(t *testing.T) {
	const day = 24 * time.Hour
	us := time.Microsecond
	ed := testPolicy(EdDSA)
	both := testPolicy(RS256, EdDSA)
	// steady is a ring mid-period: active since T-5d, next due at T+5d.
	steady := func(alg string) []storage.SigningKey {
		return []storage.SigningKey{
			keyRow("A", alg, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)),
			keyRow("N", alg, storage.KeyNext, T.Add(-5*day), T.Add(5*day)),
		}
	}
	steadyViews := []keyView{
		view("A", EdDSA, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)),
		view("N", EdDSA, storage.KeyNext, T.Add(-5*day), T.Add(5*day)),
	}
	// due is a ring whose rotation falls due at T exactly.
	due := []storage.SigningKey{
		keyRow("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
		keyRow("N", EdDSA, storage.KeyNext, T.Add(-testRotation), T),
	}
	rotatedAt := func(now time.Time) []keyView {
		return []keyView{
			view("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)).retired(now, now.Add(48*time.Hour)),
			view("N", EdDSA, storage.KeyActive, T.Add(-testRotation), now),
			view("fresh-1", EdDSA, storage.KeyNext, now, now.Add(testRotation)),
		}
	}

	tests := []struct {
		name   string
		policy Policy
		rows   []storage.SigningKey
		now    time.Time
		want   []keyView
		events []string
	}{
		{
			name:   "empty-ring-gets-active-and-next",
			policy: ed,
			now:    T,
			want: []keyView{
				view("fresh-1", EdDSA, storage.KeyActive, T, T),
				view("fresh-2", EdDSA, storage.KeyNext, T, T.Add(testRotation)),
			},
			events: []string{"key.generated fresh-1", "key.generated fresh-2"},
		},
		{
			name:   "every-empty-ring-gets-active-and-next",
			policy: both,
			now:    T,
			want: []keyView{
				view("fresh-1", RS256, storage.KeyActive, T, T),
				view("fresh-2", RS256, storage.KeyNext, T, T.Add(testRotation)),
				view("fresh-3", EdDSA, storage.KeyActive, T, T),
				view("fresh-4", EdDSA, storage.KeyNext, T, T.Add(testRotation)),
			},
			events: []string{"key.generated fresh-1", "key.generated fresh-2", "key.generated fresh-3", "key.generated fresh-4"},
		},
		{
			name:   "steady-ring-unchanged",
			policy: ed,
			rows:   steady(EdDSA),
			now:    T,
			want:   steadyViews,
		},
		{
			name:   "rotation-not-due-one-microsecond-before",
			policy: ed,
			rows:   due,
			now:    T.Add(-us),
			want:   views(due),
		},
		{
			name:   "rotation-exactly-at-due-instant",
			policy: ed,
			rows:   due,
			now:    T,
			want:   rotatedAt(T),
			events: []string{"key.activated N", "key.retired A", "key.generated fresh-1"},
		},
		{
			name:   "rotation-long-overdue-rotates-once",
			policy: ed,
			rows:   due,
			now:    T.Add(25 * day),
			want:   rotatedAt(T.Add(25 * day)),
			events: []string{"key.activated N", "key.retired A", "key.generated fresh-1"},
		},
		{
			// The stored ActivatesAt is only the displayed schedule; the
			// decision follows the policy.
			name:   "rotation-due-by-policy-whatever-the-stored-schedule",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-testRotation), T.Add(99*day)),
			},
			now:    T,
			want:   rotatedAt(T),
			events: []string{"key.activated N", "key.retired A", "key.generated fresh-1"},
		},
		{
			// Rotation period over, but the next key was published an hour
			// ago: activation = max(active+period, next created+prepublish).
			name:   "pre-publication-bounds-activation",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-time.Hour), time.Time{}),
			},
			now: T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				view("N", EdDSA, storage.KeyNext, T.Add(-time.Hour), T.Add(time.Hour)),
			},
		},
		{
			name:   "rotation-at-pre-publication-bound",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-testPrePublish), T),
			},
			now: T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)).retired(T, T.Add(48*time.Hour)),
				view("N", EdDSA, storage.KeyActive, T.Add(-testPrePublish), T),
				view("fresh-1", EdDSA, storage.KeyNext, T, T.Add(testRotation)),
			},
			events: []string{"key.activated N", "key.retired A", "key.generated fresh-1"},
		},
		{
			name:   "no-rotation-one-microsecond-before-pre-publication-bound",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-testPrePublish+us), T.Add(us)),
			},
			now: T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				view("N", EdDSA, storage.KeyNext, T.Add(-testPrePublish+us), T.Add(us)),
			},
		},
		{
			// Published long ago: the active key's period bounds it, and
			// a wrong stored schedule is corrected.
			name:   "rotation-period-bounds-activation",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-3*day), T.Add(-3*day)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-5*day), T),
			},
			now: T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-3*day), T.Add(-3*day)),
				view("N", EdDSA, storage.KeyNext, T.Add(-5*day), T.Add(7*day)),
			},
		},
		{
			name:   "retired-expiry-is-now-plus-retention-of-its-algorithm",
			policy: both,
			rows: []storage.SigningKey{
				keyRow("RA", RS256, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("RN", RS256, storage.KeyNext, T.Add(-testRotation), T),
				keyRow("EA", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)),
				keyRow("EN", EdDSA, storage.KeyNext, T.Add(-testRotation), T),
			},
			now: T,
			want: []keyView{
				view("EA", EdDSA, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)).retired(T, T.Add(48*time.Hour)),
				view("EN", EdDSA, storage.KeyActive, T.Add(-testRotation), T),
				view("RA", RS256, storage.KeyActive, T.Add(-testRotation), T.Add(-testRotation)).retired(T, T.Add(3*time.Hour)),
				view("RN", RS256, storage.KeyActive, T.Add(-testRotation), T),
				view("fresh-1", RS256, storage.KeyNext, T, T.Add(testRotation)),
				view("fresh-2", EdDSA, storage.KeyNext, T, T.Add(testRotation)),
			},
			events: []string{
				"key.activated RN", "key.retired RA", "key.generated fresh-1",
				"key.activated EN", "key.retired EA", "key.generated fresh-2",
			},
		},
		{
			name:   "expired-retired-key-removed-at-its-expiry",
			policy: ed,
			rows: append(steady(EdDSA),
				retiredRow("R-expired", EdDSA, T.Add(-20*day), T.Add(-2*day), T),
				retiredRow("R-live", EdDSA, T.Add(-19*day), T.Add(-2*day), T.Add(us)),
				revokedRow("V", EdDSA, T.Add(-30*day), T.Add(-29*day)),
			),
			now: T,
			want: append(slices.Clone(steadyViews),
				view("R-live", EdDSA, storage.KeyRetired, T.Add(-19*day), T.Add(-19*day)).retired(T.Add(-2*day), T.Add(us)),
				keyView{KID: "V", Alg: EdDSA, State: storage.KeyRevoked, Created: T.Add(-30 * day), Activates: T.Add(-30 * day)},
			),
			events: []string{"key.removed R-expired"},
		},
		{
			// RS256 left the configuration: its active key retires (its
			// tokens verify until they expire; RS256 has no retention of
			// its own here, so the longest applies), its next key, which
			// never signed, goes at once; its retired key stays.
			name: "ring-dropped-from-config",
			policy: Policy{
				Rings: []string{EdDSA}, RotationPeriod: testRotation, PrePublish: testPrePublish,
				Retention: map[string]time.Duration{EdDSA: 48 * time.Hour, ES256: 5 * time.Hour},
			},
			rows: append(steady(EdDSA),
				keyRow("RA", RS256, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)),
				keyRow("RN", RS256, storage.KeyNext, T.Add(-5*day), T.Add(5*day)),
				retiredRow("RR", RS256, T.Add(-15*day), T.Add(-5*day), T.Add(time.Hour)),
			),
			now: T,
			want: append(slices.Clone(steadyViews),
				view("RA", RS256, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)).retired(T, T.Add(48*time.Hour)),
				view("RR", RS256, storage.KeyRetired, T.Add(-15*day), T.Add(-15*day)).retired(T.Add(-5*day), T.Add(time.Hour)),
			),
			events: []string{"key.retired RA", "key.removed RN"},
		},
		{
			name:   "two-active-keys-repaired-newest-signs",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A-old", EdDSA, storage.KeyActive, T.Add(-6*day), T.Add(-6*day)),
				keyRow("A-new", EdDSA, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)),
				keyRow("N", EdDSA, storage.KeyNext, T.Add(-5*day), T.Add(5*day)),
			},
			now: T,
			want: []keyView{
				view("A-new", EdDSA, storage.KeyActive, T.Add(-5*day), T.Add(-5*day)),
				view("A-old", EdDSA, storage.KeyActive, T.Add(-6*day), T.Add(-6*day)).retired(T, T.Add(48*time.Hour)),
				view("N", EdDSA, storage.KeyNext, T.Add(-5*day), T.Add(5*day)),
			},
			events: []string{"key.retired A-old"},
		},
		{
			name:   "several-next-keys-scheduled-one-period-apart",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day)),
				keyRow("N1", EdDSA, storage.KeyNext, T.Add(-20*time.Hour), time.Time{}),
				keyRow("N2", EdDSA, storage.KeyNext, T.Add(-10*time.Hour), time.Time{}),
				keyRow("N3", EdDSA, storage.KeyNext, T.Add(-time.Hour), time.Time{}),
			},
			now: T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day)),
				view("N1", EdDSA, storage.KeyNext, T.Add(-20*time.Hour), T.Add(9*day)),
				view("N2", EdDSA, storage.KeyNext, T.Add(-10*time.Hour), T.Add(19*day)),
				view("N3", EdDSA, storage.KeyNext, T.Add(-time.Hour), T.Add(29*day)),
			},
		},
		{
			name:   "rotation-promotes-oldest-of-several-next-keys",
			policy: ed,
			rows: []storage.SigningKey{
				keyRow("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day)),
				keyRow("N1", EdDSA, storage.KeyNext, T.Add(-20*time.Hour), T.Add(9*day)),
				keyRow("N2", EdDSA, storage.KeyNext, T.Add(-10*time.Hour), T.Add(19*day)),
				keyRow("N3", EdDSA, storage.KeyNext, T.Add(-time.Hour), T.Add(29*day)),
			},
			now: T.Add(9 * day),
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day)).retired(T.Add(9*day), T.Add(9*day+48*time.Hour)),
				view("N1", EdDSA, storage.KeyActive, T.Add(-20*time.Hour), T.Add(9*day)),
				view("N2", EdDSA, storage.KeyNext, T.Add(-10*time.Hour), T.Add(19*day)),
				view("N3", EdDSA, storage.KeyNext, T.Add(-time.Hour), T.Add(29*day)),
			},
			events: []string{"key.activated N1", "key.retired A"},
		},
		{
			// The active key was revoked: the oldest next key signs at
			// once, published long enough or not.
			name:   "no-active-promotes-oldest-next-at-once",
			policy: ed,
			rows: []storage.SigningKey{
				revokedRow("V", EdDSA, T.Add(-5*day), T.Add(-time.Second)),
				keyRow("N1", EdDSA, storage.KeyNext, T.Add(-time.Minute), T.Add(5*day)),
				keyRow("N2", EdDSA, storage.KeyNext, T.Add(-30*time.Second), T.Add(15*day)),
			},
			now: T,
			want: []keyView{
				view("N1", EdDSA, storage.KeyActive, T.Add(-time.Minute), T),
				view("N2", EdDSA, storage.KeyNext, T.Add(-30*time.Second), T.Add(testRotation)),
				{KID: "V", Alg: EdDSA, State: storage.KeyRevoked, Created: T.Add(-5 * day), Activates: T.Add(-5 * day)},
			},
			events: []string{"key.activated N1"},
		},
		{
			name:   "no-active-no-next-generates-both",
			policy: ed,
			rows: []storage.SigningKey{
				revokedRow("V", EdDSA, T.Add(-5*day), T.Add(-time.Second)),
				retiredRow("R", EdDSA, T.Add(-15*day), T.Add(-5*day), T.Add(time.Hour)),
			},
			now: T,
			want: []keyView{
				view("R", EdDSA, storage.KeyRetired, T.Add(-15*day), T.Add(-15*day)).retired(T.Add(-5*day), T.Add(time.Hour)),
				{KID: "V", Alg: EdDSA, State: storage.KeyRevoked, Created: T.Add(-5 * day), Activates: T.Add(-5 * day)},
				view("fresh-1", EdDSA, storage.KeyActive, T, T),
				view("fresh-2", EdDSA, storage.KeyNext, T, T.Add(testRotation)),
			},
			events: []string{"key.generated fresh-1", "key.generated fresh-2"},
		},
		{
			name:   "active-without-next-gets-one",
			policy: ed,
			rows:   []storage.SigningKey{keyRow("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day))},
			now:    T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-day), T.Add(-day)),
				view("fresh-1", EdDSA, storage.KeyNext, T, T.Add(9*day)),
			},
			events: []string{"key.generated fresh-1"},
		},
		{
			// An overdue active key with no next key keeps signing: a key
			// nobody has fetched yet must not take over.
			name:   "overdue-active-without-next-is-not-replaced-at-once",
			policy: ed,
			rows:   []storage.SigningKey{keyRow("A", EdDSA, storage.KeyActive, T.Add(-20*day), T.Add(-20*day))},
			now:    T,
			want: []keyView{
				view("A", EdDSA, storage.KeyActive, T.Add(-20*day), T.Add(-20*day)),
				view("fresh-1", EdDSA, storage.KeyNext, T, T.Add(testPrePublish)),
			},
			events: []string{"key.generated fresh-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fk freshKeys
			ch, events, err := tt.policy.plan(slices.Clone(tt.rows), tt.now, fk.source(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			after, err := applyLikeStore(tt.rows, ch)
			if err != nil {
				t.Fatalf("changes cannot be written: %v\nchanges: %+v", err, ch)
			}
			if got := views(after); !reflect.DeepEqual(got, sortedViews(tt.want)) {
				t.Errorf("key set after plan:\n got  %v\n want %v", got, sortedViews(tt.want))
			}
			onlyEvents(t, events, tt.events...)
			if len(tt.events) == 0 && fk.n > 0 {
				t.Errorf("%d keys generated for a plan without events", fk.n)
			}
			for _, e := range events {
				if e.Alg == "" || e.Detail == "" {
					t.Errorf("event %+v lacks alg or detail", e)
				}
			}
			if bad := ringProblems(after, tt.policy.Rings); len(bad) > 0 {
				t.Errorf("after plan: %v", bad)
			}

			// Deterministic: the same rows at the same instant, the same
			// outcome (what makes "another instance did it" empty).
			var fk2 freshKeys
			ch2, _, err := tt.policy.plan(slices.Clone(tt.rows), tt.now, fk2.source(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			after2, err := applyLikeStore(tt.rows, ch2)
			if err != nil || !reflect.DeepEqual(views(after2), views(after)) {
				t.Errorf("second plan on the same rows differs: %v, %v", err, views(after2))
			}

			// Idempotent: planning on its own output changes nothing.
			var fk3 freshKeys
			again, moreEvents, err := tt.policy.plan(after, tt.now, fk3.source(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			if !again.Empty() || len(moreEvents) > 0 || fk3.n > 0 {
				t.Errorf("plan on its own output: changes %+v, events %v, %d keys generated", again, eventList(moreEvents), fk3.n)
			}
		})
	}
}

func sortedViews(v []keyView) []keyView {
	out := slices.Clone(v)
	slices.SortFunc(out, func(a, b keyView) int { return cmp.Compare(a.KID, b.KID) })
	return out
}

func TestPlanFreshKeyError(t *testing.T) {
	boom := errors.New("entropy exhausted")
	for _, tt := range []struct {
		name string
		rows []storage.SigningKey
	}{
		{"empty-ring", nil},
		{"ring-without-next", []storage.SigningKey{keyRow("A", EdDSA, storage.KeyActive, T, T)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, events, err := testPolicy(EdDSA).plan(tt.rows, T, (&freshKeys{err: boom}).source(T))
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want %v", err, boom)
			}
			if !ch.Empty() || len(events) > 0 {
				t.Errorf("a failed plan returned changes %+v, events %v", ch, events)
			}
		})
	}
}

// TestPlanSchedule walks one ring through a year of daily plans: at every
// instant one active and one next key, a rotation exactly every period,
// retired keys removed when their retention ends.
func TestPlanSchedule(t *testing.T) {
	p := testPolicy(EdDSA)
	var fk freshKeys
	var rows []storage.SigningKey
	var rotations []time.Time
	for now := T; now.Before(T.Add(365 * 24 * time.Hour)); now = now.Add(6 * time.Hour) {
		ch, events, err := p.plan(rows, now, fk.source(now))
		if err != nil {
			t.Fatal(err)
		}
		if rows, err = applyLikeStore(rows, ch); err != nil {
			t.Fatal(err)
		}
		checkRings(t, rows, EdDSA)
		if countEvents(events, "key.activated") > 0 {
			rotations = append(rotations, now)
		}
		for _, r := range rows {
			if r.State == storage.KeyRetired && !now.Before(r.ExpiresAt) {
				t.Fatalf("%s: expired key %s still stored", now, r.KID)
			}
		}
	}
	if len(rotations) != 36 {
		t.Errorf("%d rotations in a year, want 36", len(rotations))
	}
	for i, at := range rotations {
		if want := T.Add(time.Duration(i+1) * testRotation); !at.Equal(want) {
			t.Errorf("rotation #%d at %s, want %s", i+1, at, want)
		}
	}
	if n := len(rows); n > 3 {
		t.Errorf("%d keys stored after a year, want active, next and at most one retired", n)
	}
}

func TestPolicyRetention(t *testing.T) {
	p := Policy{Retention: map[string]time.Duration{RS256: time.Hour, EdDSA: 30 * time.Hour}}
	for _, tt := range []struct {
		alg  string
		want time.Duration
	}{
		{RS256, time.Hour},
		{EdDSA, 30 * time.Hour},
		{ES256, 30 * time.Hour}, // not configured: the longest
	} {
		if got := p.retention(tt.alg); got != tt.want {
			t.Errorf("retention(%s) = %s, want %s", tt.alg, got, tt.want)
		}
	}
	if got := (Policy{}).retention(RS256); got != 0 {
		t.Errorf("retention without any = %s, want 0", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Policy)
		want []string // substrings; none means valid
	}{
		{"valid", func(*Policy) {}, nil},
		{"valid-es256", func(p *Policy) { p.Rings = []string{ES256} }, nil},
		{"no-rings", func(p *Policy) { p.Rings = nil }, []string{"no signing algorithms"}},
		{"unsupported", func(p *Policy) { p.Rings = []string{RS256, "PS256"} }, []string{`unsupported algorithm "PS256"`}},
		{"zero-rotation", func(p *Policy) { p.RotationPeriod = 0 }, []string{"rotation period 0s must be positive"}},
		{"zero-prepublish", func(p *Policy) { p.PrePublish = 0 }, []string{"pre-publication 0s must be positive"}},
		{"rotation-shorter-than-prepublish", func(p *Policy) { p.RotationPeriod = time.Hour }, []string{"rotation period 1h0m0s is shorter than the pre-publication time 2h0m0s"}},
		{"small-rsa", func(p *Policy) { p.RSABits = 1024 }, []string{"RSA keys of 1024 bits are too small"}},
		{"every-problem-at-once", func(p *Policy) { p.Rings, p.RotationPeriod, p.RSABits = nil, -1, 512 },
			[]string{"no signing algorithms", "rotation period -1ns must be positive", "512 bits"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy(RS256, EdDSA)
			tt.mod(&p)
			err := p.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// --- Maintain on real stores. ---

// countingKeys counts the store calls Maintain makes.
type countingKeys struct {
	storage.SigningKeys
	lists, updates int
}

func (c *countingKeys) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	c.lists++
	return c.SigningKeys.ListSigningKeys(ctx)
}

func (c *countingKeys) UpdateSigningKeys(ctx context.Context, decide func([]storage.SigningKey) (storage.KeyChanges, error)) error {
	c.updates++
	return c.SigningKeys.UpdateSigningKeys(ctx, decide)
}

func TestMaintain(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		ctx := t.Context()
		clock := &fixedClock{t: T}
		l := lifecycle(st, clock, EdDSA, ES256)
		counting := &countingKeys{SigningKeys: st}
		l.Store = counting

		events, err := l.Maintain(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows := listRows(t, st)
		checkRings(t, rows, EdDSA, ES256)
		if len(rows) != 4 || countEvents(events, "key.generated") != 4 || len(events) != 4 {
			t.Fatalf("first Maintain: keys %v, events %v", kidsAndStates(rows), eventList(events))
		}
		edActive := ringKeys(rows, EdDSA, storage.KeyActive)[0]
		edNext := ringKeys(rows, EdDSA, storage.KeyNext)[0]
		if r := mustRow(t, rows, edNext); !r.ActivatesAt.Equal(T.Add(testRotation)) || !r.CreatedAt.Equal(T) {
			t.Errorf("next key created %s, activates %s; want %s, %s", r.CreatedAt, r.ActivatesAt, T, T.Add(testRotation))
		}

		type step struct {
			name   string
			at     time.Time
			events []string // types, sorted
		}
		for _, s := range []step{
			{"nothing-due", T.Add(time.Hour), nil},
			{"one-microsecond-before-rotation", T.Add(testRotation - time.Microsecond), nil},
			{"rotation-due", T.Add(testRotation), []string{
				"key.activated", "key.activated", "key.generated", "key.generated", "key.retired", "key.retired"}},
			{"same-instant-again", T.Add(testRotation), nil},
			{"es256-retired-key-expires", T.Add(testRotation + 5*time.Hour), []string{"key.removed"}},
			{"eddsa-retired-key-expires", T.Add(testRotation + 48*time.Hour), []string{"key.removed"}},
		} {
			t.Run(s.name, func(t *testing.T) {
				clock.Set(s.at)
				counting.lists, counting.updates = 0, 0
				events, err := l.Maintain(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var types []string
				for _, e := range events {
					types = append(types, e.Type)
				}
				slices.Sort(types)
				if !slices.Equal(types, s.events) {
					t.Errorf("events %v, want types %v", eventList(events), s.events)
				}
				if len(s.events) == 0 && (counting.lists != 1 || counting.updates != 0) {
					t.Errorf("a no-op Maintain made %d list and %d update calls, want 1 and 0", counting.lists, counting.updates)
				}
				checkRings(t, listRows(t, st), EdDSA, ES256)
			})
		}
		rows = listRows(t, st)
		if got := ringKeys(rows, EdDSA, storage.KeyActive); len(got) != 1 || got[0] != edNext {
			t.Errorf("EdDSA active %v, want the former next key %s", got, short(edNext))
		}
		if _, ok := find(rows, edActive); ok {
			t.Errorf("the first EdDSA key is still stored after its retention")
		}
		if len(rows) != 4 {
			t.Errorf("keys %v, want an active and a next key per ring", kidsAndStates(rows))
		}
	})
}

// TestSignerMaintainFollowsRotation: a Signer's Maintain rotates and
// reloads, and a second instance's Maintain picks the change up.
func TestSignerMaintainFollowsRotation(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		ctx := t.Context()
		clock := &fixedClock{t: T}
		a, err := New(ctx, signerOptions(st, clock, EdDSA))
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(ctx, signerOptions(st, clock, EdDSA))
		if err != nil {
			t.Fatal(err)
		}
		old, _ := a.SigningKey(EdDSA)
		oldToken := signToken(t, old)
		rows := listRows(t, st)
		next := ringKeys(rows, EdDSA, storage.KeyNext)[0]

		clock.Set(T.Add(testRotation))
		if err := a.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*Signer{"rotating": a, "other": b} {
			k, err := s.SigningKey(EdDSA)
			if err != nil || k.KID != next {
				t.Errorf("%s instance signs with %v (%v), want the former next key %s", name, k, err, short(next))
			}
			// The retired key still verifies the tokens it signed.
			verifyToken(t, s, oldToken)
		}
		if a.JWKS().ETag != b.JWKS().ETag {
			t.Error("instances publish different JWKS after the rotation")
		}
		rows = listRows(t, st)
		if len(rows) != 3 {
			t.Errorf("keys %v, want retired, active and next", kidsAndStates(rows))
		}
	})
}

// signToken signs a compact JWS with k's private key (Key.Signer).
func signToken(t testing.TB, k *Key) []byte {
	t.Helper()
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.KID); err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Sign([]byte(`{"sub":"1"}`), jws.WithKey(k.Alg, k.Signer(), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// tokenKID is the kid in a compact JWS's protected header.
func tokenKID(t testing.TB, token []byte) string {
	t.Helper()
	msg, err := jws.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

// verify checks token as idp does: the kid's published key.
func verify(s *Signer, token []byte) error {
	msg, err := jws.Parse(token)
	if err != nil {
		return err
	}
	k, err := s.VerificationKey(msg.Signatures()[0].ProtectedHeaders().KeyID())
	if err != nil {
		return err
	}
	_, err = jws.Verify(token, jws.WithKey(k.Alg, k.PublicKey()))
	return err
}

func verifyToken(t testing.TB, s *Signer, token []byte) {
	t.Helper()
	if err := verify(s, token); err != nil {
		t.Errorf("token signed by %s does not verify: %v", short(tokenKID(t, token)), err)
	}
}

// TestRestartInEveryState: a new instance (New, on a new connection) on a
// store in each lifecycle state loads the same active keys, publishes the
// same set, and writes nothing.
func TestRestartInEveryState(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			open := sharedDatabase(t, backend)
			st := open()
			clock := &fixedClock{t: T}
			rings := []string{EdDSA, ES256}
			first, err := New(ctx, signerOptions(st, clock, rings...))
			if err != nil {
				t.Fatal(err)
			}
			l := first.Lifecycle()
			ring := func(state storage.KeyState) string { return ringKeys(listRows(t, st), EdDSA, state)[0] }

			for _, step := range []struct {
				name   string
				change func(t *testing.T)
			}{
				{"fresh", func(*testing.T) {}},
				{"next-published-not-due", func(*testing.T) { clock.Set(T.Add(time.Hour)) }},
				{"second-next-key-generated", func(t *testing.T) {
					if _, err := l.Generate(ctx, EdDSA); err != nil {
						t.Fatal(err)
					}
				}},
				{"after-scheduled-rotation", func(t *testing.T) {
					clock.Set(T.Add(testRotation))
					if err := first.Maintain(ctx); err != nil {
						t.Fatal(err)
					}
				}},
				{"after-manual-rotation", func(t *testing.T) {
					clock.Set(T.Add(testRotation + 3*time.Hour))
					if _, err := l.Rotate(ctx, ES256, false); err != nil {
						t.Fatal(err)
					}
				}},
				{"after-revoking-the-active-key", func(t *testing.T) {
					if _, err := l.Revoke(ctx, ring(storage.KeyActive), "test: compromised"); err != nil {
						t.Fatal(err)
					}
				}},
				{"after-revoking-a-next-key", func(t *testing.T) {
					if _, err := l.Revoke(ctx, ring(storage.KeyNext), "test: leaked backup"); err != nil {
						t.Fatal(err)
					}
				}},
				{"retired-key-expired-and-removed", func(t *testing.T) {
					clock.Set(T.Add(testRotation + 60*time.Hour))
					if err := first.Maintain(ctx); err != nil {
						t.Fatal(err)
					}
				}},
			} {
				t.Run(step.name, func(t *testing.T) {
					step.change(t)
					if err := first.Maintain(ctx); err != nil {
						t.Fatal(err)
					}
					before := listRows(t, st)
					checkRings(t, before, rings...)
					audit := auditCount(t, st)

					restarted, err := New(ctx, signerOptions(open(), clock, rings...))
					if err != nil {
						t.Fatal(err)
					}
					after := listRows(t, st)
					if !reflect.DeepEqual(after, before) {
						t.Errorf("restart changed the key set:\n before %v\n after  %v", kidsAndStates(before), kidsAndStates(after))
					}
					if n := auditCount(t, st); n != audit {
						t.Errorf("restart recorded %d audit events", n-audit)
					}
					for _, alg := range rings {
						want, _ := first.SigningKey(alg)
						got, err := restarted.SigningKey(alg)
						if err != nil || got.KID != want.KID {
							t.Errorf("%s: restarted instance signs with %v (%v), running one with %s", alg, got, err, short(want.KID))
						}
						if got.KID != ringKeys(after, alg, storage.KeyActive)[0] {
							t.Errorf("%s: signs with %s, not the stored active key", alg, short(got.KID))
						}
						signAndVerify(t, restarted, first, alg)
					}
					if restarted.JWKS().ETag != first.JWKS().ETag {
						t.Errorf("restarted instance publishes another JWKS:\n %s\n %s", restarted.JWKS().Body, first.JWKS().Body)
					}
					_, published, err := l.Published(ctx)
					if err != nil || published.ETag != restarted.JWKS().ETag {
						t.Errorf("Published() differs from the restarted instance's JWKS (%v)", err)
					}
				})
			}
		})
	}
}

// jwksKeys decodes a JWKS body into its keys' members.
func jwksKeys(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

func auditCount(t testing.TB, st storage.Audit) int {
	t.Helper()
	evs, err := st.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestRestartAfterDowntime: an instance starting after the due instant
// rotates once, and a second instance starting at once does nothing more.
func TestRestartAfterDowntime(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		ctx := t.Context()
		clock := &fixedClock{t: T}
		if _, err := New(ctx, signerOptions(st, clock, EdDSA)); err != nil {
			t.Fatal(err)
		}
		next := ringKeys(listRows(t, st), EdDSA, storage.KeyNext)[0]
		clock.Set(T.Add(3 * testRotation))
		for i := range 2 {
			s, err := New(ctx, signerOptions(st, clock, EdDSA))
			if err != nil {
				t.Fatal(err)
			}
			if k, _ := s.SigningKey(EdDSA); k.KID != next {
				t.Errorf("instance %d signs with %s, want the former next key %s", i, short(k.KID), short(next))
			}
		}
		rows := listRows(t, st)
		checkRings(t, rows, EdDSA)
		if len(rows) != 3 {
			t.Errorf("keys %v, want one rotation: retired, active, next", kidsAndStates(rows))
		}
	})
}

// TestNewKEKErrors: a wrong or missing KEK is an error naming the kid it
// cannot unseal, never a panic.
func TestNewKEKErrors(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		ctx := t.Context()
		clock := &fixedClock{t: T}
		if _, err := New(ctx, signerOptions(st, clock, EdDSA)); err != nil {
			t.Fatal(err)
		}
		before := listRows(t, st)
		// forged is the key set with every blob's header naming kekB while
		// sealed under kekA (impossible with real KEKs, whose id is a hash).
		forged := func(t *testing.T) storage.SigningKeys {
			id := kekID(kekB)
			rows := make([]storage.SigningKey, 0, len(before))
			for _, r := range before {
				r.PrivateKey = slices.Clone(r.PrivateKey)
				copy(r.PrivateKey[1:], id[:])
				rows = append(rows, r)
			}
			fst := storagetest.SQLite(t)
			insert(t, fst, rows...)
			return fst
		}
		for _, tt := range []struct {
			name     string
			keks     [][]byte
			store    func(t *testing.T) storage.SigningKeys // nil: st
			want     string
			namesKID bool
		}{
			{"wrong-kek", [][]byte{kekB}, nil, "which is not configured (wrong or missing KEK)", true},
			{"no-kek", nil, nil, "at least one key-encryption key is required", false},
			{"empty-kek", [][]byte{{}}, nil, "key-encryption key #1 is 0 bytes", false},
			{"kek-id-matches-but-key-differs", [][]byte{kekB}, forged, "authentication failed", true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				o := signerOptions(st, clock, EdDSA)
				o.KEKs = tt.keks
				if tt.store != nil {
					o.Store = tt.store(t)
				}
				var s *Signer
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("New panicked: %v", p)
						}
					}()
					s, err = New(ctx, o)
				}()
				if err == nil || s != nil {
					t.Fatal("New succeeded")
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want it to contain %q", err, tt.want)
				}
				if tt.namesKID && !strings.Contains(err.Error(), before[0].KID) && !strings.Contains(err.Error(), before[1].KID) {
					t.Errorf("err = %v does not name the kid it cannot unseal", err)
				}
			})
		}
		if after := listRows(t, st); !reflect.DeepEqual(after, before) {
			t.Errorf("failed starts changed the key set: %v", kidsAndStates(after))
		}
	})
}

// TestWrongKEKWritesNothing: an instance or command that cannot unseal
// the stored keys must not change them, even when maintenance is due: a
// key it generated would be sealed under a KEK the other instances lack.
func TestWrongKEKWritesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(ctx context.Context, st storage.Store, clock *fixedClock) error
	}{
		{"start-when-rotation-due", func(ctx context.Context, st storage.Store, clock *fixedClock) error {
			clock.Set(T.Add(testRotation))
			o := signerOptions(st, clock, EdDSA)
			o.KEKs = [][]byte{kekB}
			_, err := New(ctx, o)
			if err == nil {
				return errors.New("New with the wrong KEK succeeded")
			}
			return nil
		}},
		{"keys-generate", func(ctx context.Context, st storage.Store, clock *fixedClock) error {
			l := lifecycle(st, clock, EdDSA)
			l.KEKs = [][]byte{kekB}
			_, _ = l.Generate(ctx, EdDSA)
			return nil
		}},
		{"keys-rotate", func(ctx context.Context, st storage.Store, clock *fixedClock) error {
			clock.Set(T.Add(testPrePublish))
			l := lifecycle(st, clock, EdDSA)
			l.KEKs = [][]byte{kekB}
			_, _ = l.Rotate(ctx, EdDSA, false)
			return nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
				ctx := t.Context()
				clock := &fixedClock{t: T}
				if _, err := New(ctx, signerOptions(st, clock, EdDSA)); err != nil {
					t.Fatal(err)
				}
				before := listRows(t, st)
				if err := tt.run(ctx, st, clock); err != nil {
					t.Fatal(err)
				}
				if after := listRows(t, st); !reflect.DeepEqual(after, before) {
					t.Errorf("with a wrong KEK the key set was changed: %v", kidsAndStates(after))
				}
				if _, goodErr := New(ctx, signerOptions(st, clock, EdDSA)); goodErr != nil {
					t.Fatalf("the correctly configured instance fails: %v", goodErr)
				}
			})
		})
	}
}

func TestES256Ring(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, st storage.Store) {
		ctx := t.Context()
		clock := &fixedClock{t: T}
		s, err := New(ctx, signerOptions(st, clock, ES256))
		if err != nil {
			t.Fatal(err)
		}
		rows := listRows(t, st)
		checkRings(t, rows, ES256)
		k, err := s.SigningKey(ES256)
		if err != nil {
			t.Fatal(err)
		}
		if k.Alg != jwa.ES256 || k.Signer() == nil {
			t.Fatalf("ES256 key %v has alg %s, signer %T", k, k.Alg, k.Signer())
		}
		token := signToken(t, k)
		verifyToken(t, s, token)
		if Deterministic(ES256) {
			t.Error("ES256 reported deterministic")
		}
		if again := signToken(t, k); string(again) == string(token) {
			t.Error("two ES256 signatures are identical: not ECDSA?")
		}
		set := jwksKeys(t, s.JWKS().Body)
		if len(set) != 2 {
			t.Fatalf("JWKS has %d keys, want active and next", len(set))
		}
		for _, jk := range set {
			if jk["kty"] != "EC" || jk["crv"] != "P-256" || jk["alg"] != "ES256" || jk["use"] != "sig" || jk["d"] != nil {
				t.Errorf("JWK %v", jk)
			}
		}
		// The sealed key round-trips: a restart signs with it.
		again, err := New(ctx, signerOptions(st, clock, ES256))
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := again.SigningKey(ES256)
		verifyToken(t, s, signToken(t, k2))
	})
}

// BenchmarkMaintainNoop is the periodic check when nothing is due: one
// list query and a plan, no transaction.
func BenchmarkMaintainNoop(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var st storage.Store
			if backend == "sqlite" {
				st = storagetest.SQLite(b)
			} else {
				st = storagetest.Postgres(b)
			}
			clock := &fixedClock{t: T}
			l := lifecycle(st, clock, RS256, EdDSA)
			counting := &countingKeys{SigningKeys: st}
			l.Store = counting
			ctx := context.Background()
			if _, err := l.Maintain(ctx); err != nil {
				b.Fatal(err)
			}
			clock.Set(T.Add(time.Hour))
			counting.lists, counting.updates = 0, 0
			b.ReportAllocs()
			for b.Loop() {
				events, err := l.Maintain(ctx)
				if err != nil || len(events) > 0 {
					b.Fatal(err, events)
				}
			}
			if counting.updates != 0 {
				b.Fatalf("%d transactions for no-op maintenance", counting.updates)
			}
			b.ReportMetric(float64(counting.lists)/float64(b.N), "lists/op")
		})
	}
}

// BenchmarkPlanNoop is the plan alone on a steady two-ring key set.
func BenchmarkPlanNoop(b *testing.B) {
	p := testPolicy(RS256, EdDSA)
	var fk freshKeys
	ch, _, err := p.plan(nil, T, fk.source(T))
	if err != nil {
		b.Fatal(err)
	}
	rows, _ := applyLikeStore(nil, ch)
	now := T.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		ch, _, err := p.plan(rows, now, fk.source(now))
		if err != nil || !ch.Empty() {
			b.Fatal(err, ch)
		}
	}
}
