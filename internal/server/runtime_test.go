package server

import (
	"testing"

	"github.com/idp/idp/internal/config"
)

func TestRuntimeTuning(t *testing.T) {
	p := config.Default().Passwords // 19456 KiB: 19 MiB per hash
	withLimit := p
	withLimit.MemoryLimitMiB = 200
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name        string
		getenv      func(string) string
		lowPriority bool
		p           config.Passwords
		want        RuntimeTuning
	}{
		{"defaults", env(), true, p, RuntimeTuning{GOMAXPROCS: 4, MemoryLimitMiB: 48 + 2*19}},
		{"configured-limit", env(), true, withLimit, RuntimeTuning{GOMAXPROCS: 4, MemoryLimitMiB: 200}},
		{"operator-gomaxprocs", env("GOMAXPROCS", "2"), true, p, RuntimeTuning{MemoryLimitMiB: 48 + 2*19}},
		{"operator-gomemlimit", env("GOMEMLIMIT", "off"), true, withLimit, RuntimeTuning{GOMAXPROCS: 4}},
		{"no-low-priority-threads", env(), false, p, RuntimeTuning{MemoryLimitMiB: 48 + 2*19}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runtimeTuning(tc.getenv, 2, 2, tc.lowPriority, tc.p); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
