package tokens_test

import (
	"context"
	"testing"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/tokens"
)

var benchAlgs = []string{signer.RS256, signer.EdDSA}

func algOpts(alg string) func(*tokens.Options) {
	return func(o *tokens.Options) { o.AccessAlg, o.RefreshAlg = alg, alg }
}

func BenchmarkSignAccess(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			e := sqliteEnv(b, algOpts(alg))
			now := e.clock.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.SignAccess(e.user, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			e := sqliteEnv(b, algOpts(alg))
			tok, err := e.svc.SignAccess(e.user, e.clock.Now())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.svc.VerifyAccess(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLogin: a new family (one INSERT on SQLite) and two signatures.
func BenchmarkLogin(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			e := sqliteEnv(b, algOpts(alg))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.Login(ctx, e.user, tokens.Client{IP: "192.0.2.1", UserAgent: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefresh follows one family's chain: verify, load the user, one
// conditional UPDATE on SQLite, two signatures.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			e := sqliteEnv(b, algOpts(alg))
			tok := e.login().Refresh
			b.ReportAllocs()
			for b.Loop() {
				p, err := e.refresh(tok)
				if err != nil {
					b.Fatal(err)
				}
				tok = p.Refresh
			}
		})
	}
}
