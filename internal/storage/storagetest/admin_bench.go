package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// SearchScale is how many users BenchSearchUsers loads (the admin issue's
// figure).
const SearchScale = 100_000

// LoadUsers stores n users user000000@example.com… through the import
// path (batched, one transaction); names are "Person n", a tenth "Staff n".
func LoadUsers(tb testing.TB, s storage.Store, n int) {
	tb.Helper()
	ctx := tb.Context()
	imp, err := s.(storage.UserImports).BeginUserImport(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = imp.Rollback(ctx) }()
	batch := make([]storage.User, 0, 5000)
	for i := range n {
		u := benchUser(fmt.Sprintf("user%06d@example.com", i))
		u.ID = int64(i + 1000)
		u.Name = fmt.Sprintf("Person %d", i)
		if i%10 == 0 {
			u.Name, u.IsStaff = fmt.Sprintf("Staff %d", i), true
		}
		batch = append(batch, u)
		if len(batch) == cap(batch) || i == n-1 {
			if err := imp.Stage(ctx, batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := imp.Apply(ctx, false, false); err != nil {
		tb.Fatal(err)
	}
	if err := imp.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
}

// BenchSearchUsers times one admin users page (50 rows) over SearchScale
// users: the first page, a later page, an email-prefix search with many
// and with one match, a name search, a miss and the costly cases. It
// reports p50 and p99 in ms.
// analyze, if not nil, refreshes the planner's statistics after the load.
func BenchSearchUsers(b *testing.B, s storage.Store, analyze func(context.Context) error) {
	LoadUsers(b, s, SearchScale)
	if analyze != nil {
		if err := analyze(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		q    storage.UserQuery
		want int
	}{
		{"first-page", storage.UserQuery{Limit: 51}, 51},
		{"later-page", storage.UserQuery{After: storage.UserPosition{ID: 80_000}, Limit: 51}, 51},
		{"q-prefix-many", storage.UserQuery{Q: "user05", Limit: 51}, 51},
		{"q-prefix-one", storage.UserQuery{Q: "user099999@", Limit: 51}, 1},
		{"q-name", storage.UserQuery{Q: "staff 99", Limit: 51}, 51},
		{"q-name-common", storage.UserQuery{Q: "person", Limit: 51}, 51},
		{"q-miss", storage.UserQuery{Q: "nobody", Limit: 51}, 0},
		{"q-prefix-staff-filter", storage.UserQuery{Q: "user09", IsStaff: ptr(true), Limit: 51}, 51},
		{"q-prefix-deep-page", storage.UserQuery{Q: "user0", After: storage.UserPosition{EmailKey: "user090000@example.com"}, Limit: 51}, 51},
		// the costly ones: a name common in the table that the filter
		// makes rare, and a rare q too short for a substring index
		{"q-name-filtered-out", storage.UserQuery{Q: "person", IsStaff: ptr(true), Limit: 51}, 0},
		{"q-short-miss", storage.UserQuery{Q: "zq", Limit: 51}, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				us, err := s.SearchUsers(b.Context(), bc.q)
				ds = append(ds, time.Since(start))
				if err != nil || len(us) != bc.want {
					b.Fatalf("SearchUsers: %d users, %v; want %d", len(us), err, bc.want)
				}
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(ds[len(ds)*99/100])/1e6, "p99-ms")
		})
	}
}
