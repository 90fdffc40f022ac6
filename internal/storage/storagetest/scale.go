package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// BulkFamilies inserts many families at once (COPY, one transaction),
// bypassing CreateFamily. Backends provide one to their own tests only,
// from export_test.go; it is not part of storage.Store.
type BulkFamilies func(ctx context.Context, fs []storage.Family) error

// deadFamilies returns n families of userID, all dead at jCleanup: most
// expired, some idle, some revoked past retention, so that batches span
// the janitor's three criteria.
func deadFamilies(prefix string, userID int64, n int) []storage.Family {
	fs := make([]storage.Family, n)
	for i := range fs {
		f := liveFamily(fmt.Sprintf("%s-%07d", prefix, i), userID, t0)
		f.UserAgent = "Mozilla/5.0"
		switch i % 4 {
		case 0, 1:
			f.ExpiresAt = jNow.Add(-time.Duration(i) * time.Microsecond)
		case 2:
			f.RotatedAt = jIdleCutoff.Add(-time.Duration(i) * time.Microsecond)
		case 3:
			f.RevokedAt, f.RevokeReason = jRevokedCutoff.Add(-time.Duration(i)*time.Microsecond), "logout"
		}
		fs[i] = f
	}
	return fs
}

// Scale sizes JanitorAtScale.
type Scale struct {
	// Families is how many dead families there are to delete.
	Families int
	// Batch is the limit of each DeleteDeadFamilies call.
	Batch int
}

// FullScale is the size the sessions issue requires.
var FullScale = Scale{Families: 100_000, Batch: 5_000}

// JanitorAtScale is the janitor test the sessions issue requires (at
// FullScale): sc.Families dead families, beside live ones, are deleted by
// repeated DeleteDeadFamilies calls of sc.Batch. Every call deletes at most
// the limit, the calls are exactly the full batches and one that deletes
// fewer (the signal that none are left), and the live families are
// untouched. It logs the time per batch.
func JanitorAtScale(t *testing.T, s storage.Store, bulk BulkFamilies, sc Scale) {
	dead, limit := int64(sc.Families), sc.Batch
	ctx := ctxT(t)
	u := mustCreateUser(t, s, "janitor@example.com")
	other := mustCreateUser(t, s, "other@example.com")
	var live []storage.Family
	for i := range 10 {
		owner := u.ID
		if i%2 == 1 {
			owner = other.ID
		}
		f := liveFamily(fmt.Sprintf("live-%d", i), owner, t0.Add(time.Duration(i)*time.Minute))
		switch i {
		case 0: // revoked, within retention
			f.RevokedAt, f.RevokeReason = jRevokedCutoff.Add(time.Microsecond), "logout"
		case 1: // expires just after now
			f.ExpiresAt = jNow.Add(time.Microsecond)
		case 2: // used just after the idle cutoff
			f.RotatedAt = jIdleCutoff.Add(time.Microsecond)
		}
		live = append(live, mustCreateFamily(t, s, f))
	}

	start := time.Now()
	if err := bulk(ctx, deadFamilies("dead", u.ID, int(dead))); err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
	t.Logf("%s: inserted %d dead families in %v", s.Backend(), dead, time.Since(start).Round(time.Millisecond))

	var (
		calls, total int64
		times        []time.Duration
	)
	for {
		calls++
		if calls > dead/int64(limit)+5 {
			t.Fatalf("still deleting after %d calls (%d deleted)", calls-1, total)
		}
		start := time.Now()
		n := mustDeleteDead(t, s, jCleanup, limit)
		times = append(times, time.Since(start))
		if n > int64(limit) {
			t.Fatalf("call %d deleted %d families, more than the limit %d", calls, n, limit)
		}
		total += n
		if n < int64(limit) {
			break
		}
	}
	if wantCalls := dead/int64(limit) + 1; total != dead || calls != wantCalls {
		t.Fatalf("deleted %d families in %d calls; want %d in %d (%d full batches, then a short one)",
			total, calls, dead, wantCalls, wantCalls-1)
	}
	wantFamilies(t, s, live, nil)
	got, err := s.ListLiveFamilies(ctx, u.ID, jLive)
	wantErr(t, "ListLiveFamilies", err, nil)
	wantEqual(t, "live families of the user", familyIDs(got), []string{"live-8", "live-6", "live-4", "live-2"})

	full := slices.Clone(times[:len(times)-1])
	slices.Sort(full)
	var sum time.Duration
	for _, d := range full {
		sum += d
	}
	t.Logf("%s: %d batches of %d: mean %v, median %v, max %v; final empty call %v", s.Backend(), len(full), limit,
		(sum / time.Duration(len(full))).Round(time.Microsecond), full[len(full)/2].Round(time.Microsecond),
		full[len(full)-1].Round(time.Microsecond), times[len(times)-1].Round(time.Microsecond))
}

// BenchDeleteDeadFamilies measures one DeleteDeadFamilies batch of 5,000
// over a table that also holds 50,000 live families; each iteration first
// inserts (untimed) the batch it deletes. Reports ns per family too.
func BenchDeleteDeadFamilies(b *testing.B, s storage.Store, bulk BulkFamilies) {
	const batch, liveRows = 5_000, 50_000
	ctx := context.Background()
	u, err := s.CreateUser(ctx, benchUser("janitor@example.com"))
	if err != nil {
		b.Fatal(err)
	}
	live := make([]storage.Family, liveRows)
	for i := range live {
		live[i] = liveFamily(fmt.Sprintf("live-%07d", i), u.ID, t0)
	}
	if err := bulk(ctx, live); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := bulk(ctx, deadFamilies(fmt.Sprintf("dead-%d", i), u.ID, batch)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := s.DeleteDeadFamilies(ctx, jCleanup, batch)
		if err != nil || n != batch {
			b.Fatalf("DeleteDeadFamilies = %d, %v; want %d", n, err, batch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/family")
}
