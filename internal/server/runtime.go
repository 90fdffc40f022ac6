package server

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/users"
)

// startProcs is GOMAXPROCS when the process started (the CPU count, a
// container's CPU limit, or the operator's GOMAXPROCS).
var startProcs = runtime.GOMAXPROCS(0)

// memoryBaselineMiB is what idp needs besides the hashing workers' argon2
// memory: heap, goroutine stacks and runtime metadata under load, with
// room for garbage (a 72 MiB limit with two workers, 34 MiB besides their
// 38, cost no measurable CPU in the 64-client and mixed floods).
const memoryBaselineMiB = 48

// RuntimeTuning is what TuneRuntime set; zero fields were left alone.
type RuntimeTuning struct {
	GOMAXPROCS     int
	MemoryLimitMiB int
}

// TuneRuntime sets, for idp serve, two process-wide settings of the Go
// runtime from the hashing workers (users.Service.HashWorkers), each only
// if the operator did not set its environment variable:
//   - GOMAXPROCS: the CPUs at start plus one per hashing worker, when the
//     workers' threads run at a lower priority (users.LowPriorityHashing):
//     request goroutines then always find a P while every worker hashes,
//     and the kernel gives them the cores first;
//   - the soft memory limit (GOMEMLIMIT): passwords.memory_limit_mib, or
//     by default 48 MiB plus one argon2id memory per worker (each keeps
//     and reuses its own), so that the collector does not let garbage
//     grow to the size of the workers' memory (GOGC=100 would double it).
//
// It is called once, before serving (process-wide state: never from a
// request or a library).
func TuneRuntime(cfg config.Config, workers int, log *slog.Logger) RuntimeTuning {
	t := runtimeTuning(os.Getenv, startProcs, workers, users.LowPriorityHashing, cfg.Passwords)
	if t.GOMAXPROCS > 0 {
		runtime.GOMAXPROCS(t.GOMAXPROCS)
	}
	if t.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(t.MemoryLimitMiB) << 20)
	}
	log.Info("runtime", "hash_workers", workers, "low_priority_hashing", users.LowPriorityHashing,
		"gomaxprocs", runtime.GOMAXPROCS(0), "memory_limit_mib", debug.SetMemoryLimit(-1)>>20)
	return t
}

// runtimeTuning is TuneRuntime's decision.
func runtimeTuning(getenv func(string) string, procs, workers int, lowPriority bool, p config.Passwords) RuntimeTuning {
	var t RuntimeTuning
	if lowPriority && getenv("GOMAXPROCS") == "" {
		t.GOMAXPROCS = procs + workers
	}
	if getenv("GOMEMLIMIT") == "" {
		t.MemoryLimitMiB = p.MemoryLimitMiB
		if t.MemoryLimitMiB == 0 {
			argon2MiB := (int(p.Argon2.MemoryKiB) + 1023) / 1024
			t.MemoryLimitMiB = memoryBaselineMiB + workers*argon2MiB
		}
	}
	return t
}
