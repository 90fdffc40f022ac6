// Command loadbench is `make bench-load`: idp's load benchmark. It starts
// idp (the binary given by --idp) on a throw-away store, seeds users and
// refresh families, drives the hot paths over HTTP on 127.0.0.1 and prints
// one table with this machine's limits measured in the same run. See
// docs/performance.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/idp/idp/internal/loadbench"
)

func main() {
	if ok, err := loadbench.RunChild(os.Args[1:]); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
			os.Exit(1)
		}
		return
	}
	var (
		o     loadbench.Options
		paths string
		env   string
	)
	flag.StringVar(&o.IDP, "idp", "bin/idp", "the idp binary to benchmark")
	flag.StringVar(&o.DatabaseURL, "postgres", "", "PostgreSQL database URL (a throw-away schema is created in it and dropped); empty: SQLite in a temporary directory")
	flag.IntVar(&o.Users, "users", 10000, "users to seed")
	flag.IntVar(&o.Families, "families", 10000, "live refresh families to seed (besides those the run creates)")
	flag.IntVar(&o.Clients, "c", 16, "concurrent clients per path (login64 uses 64, mixed 32+4+4)")
	flag.DurationVar(&o.Duration, "d", 10*time.Second, "duration of each path")
	flag.StringVar(&paths, "paths", strings.Join(loadbench.Paths, ","), "paths to drive, comma-separated")
	flag.StringVar(&o.AccessAlgorithm, "access-alg", "", "keys.access_algorithm for the run (e.g. ES256); empty: the default")
	flag.StringVar(&env, "env", "", "extra IDP_KEY=value settings for idp, comma-separated (printed)")
	flag.StringVar(&o.ProfileDir, "profile", "", "directory for a CPU profile of idp per path (through a debug.addr listener)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (idp's log, the SQLite file) and the PostgreSQL schema")
	flag.Parse()
	if o.Users < 1100 {
		fmt.Fprintln(os.Stderr, "loadbench: -users must be at least 1100 (login64 uses users 1001–1064)")
		os.Exit(2)
	}
	o.Paths = strings.Split(paths, ",")
	if env != "" {
		o.Env = strings.Split(env, ",")
	}
	o.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := loadbench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}
