package storagetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Bench runs the hot-path benchmarks on a fresh store from open:
// CreateUser, GetUser, GetUserByEmail (sequential), RotateFamily
// (parallel, each goroutine rotating its own family) and AddFailure
// (parallel, on distinct keys and on one key).
func Bench(b *testing.B, open func(b *testing.B) storage.Store) {
	ctx := context.Background()
	b.Run("CreateUser", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.CreateUser(ctx, benchUser(fmt.Sprintf("bench%d@example.com", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetUser", func(b *testing.B) {
		s := open(b)
		u, err := s.CreateUser(ctx, benchUser("get@example.com"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetUser(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetUserByEmail", func(b *testing.B) {
		s := open(b)
		if _, err := s.CreateUser(ctx, benchUser("Get@Example.com")); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetUserByEmail(ctx, "get@example.COM"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RotateFamily", func(b *testing.B) { BenchRotateFamily(b, open(b)) })
	b.Run("AddFailure", func(b *testing.B) {
		s := open(b)
		now := time.Now()
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprintf("i:192.0.2.%d", next.Add(1))
			for pb.Next() {
				if _, err := s.AddFailure(ctx, key, now, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("AddFailureOneKey", func(b *testing.B) {
		s := open(b)
		now := time.Now()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.AddFailure(ctx, "i:192.0.2.1", now, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchRotateFamily measures refreshes: parallel RotateFamily calls, each
// goroutine rotating its own family. Every rotation moves rotated_at
// forward, as real refreshes do (which matters: see migration 00004 of the
// postgres backend).
func BenchRotateFamily(b *testing.B, s storage.Store) {
	ctx := context.Background()
	u, err := s.CreateUser(ctx, benchUser(fmt.Sprintf("rotate-%d@example.com", b.N)))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("fam-%d-%d", b.N, next.Add(1))
		f := storage.Family{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			CurrentJTI: id + "-0", CurrentKID: "k", RotatedAt: now}
		if err := s.CreateFamily(ctx, f); err != nil {
			b.Error(err)
			return
		}
		old := f.CurrentJTI
		for gen := 1; pb.Next(); gen++ {
			jti := fmt.Sprintf("%s-%d", id, gen)
			at := now.Add(time.Duration(gen) * time.Millisecond)
			if _, err := s.RotateFamily(ctx, storage.Rotation{FamilyID: id, OldJTI: old, NewJTI: jti, NewKID: "k", At: at}); err != nil {
				b.Error(err)
				return
			}
			old = jti
		}
	})
}

func benchUser(email string) storage.User {
	now := time.Now()
	return storage.User{Email: email, Name: "Bench", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		IsActive: true, DateJoined: now, PasswordChangedAt: now}
}
