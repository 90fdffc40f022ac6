package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// jsonFlag defines --json on cmd: print one JSON document instead of text.
func jsonFlag(cmd *cobra.Command, asJSON *bool) {
	cmd.Flags().BoolVar(asJSON, "json", false, "print JSON instead of text (for scripts)")
}

// printJSON writes v as indented JSON ending with a newline.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// refuseUnknownSubcommands makes every command that only groups others
// (idp keys, idp users, …) fail on an unknown subcommand with cobra's
// "did you mean" suggestions, instead of printing help and exiting 0.
// Alone, such a command prints its help. It runs over the whole tree, so
// groups added later are covered too.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() || !cmd.HasParent() {
		return // the root: cobra itself refuses unknown commands there
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		cmd.SuggestionsMinimumDistance = 2
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return fmt.Errorf("%s\n\nRun '%s --help' for usage.", msg, cmd.CommandPath())
	}
}

// strictHelp makes `idp help TOPIC` fail on an unknown topic (cobra's
// prints the usage and exits 0).
func strictHelp(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			continue
		}
		show := c.Run
		c.Run = nil
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if target, rest, err := root.Find(args); len(args) > 0 && (err != nil || target == root || len(rest) > 0) {
				return fmt.Errorf("unknown help topic %q\n\nRun 'idp --help' for the commands.", strings.Join(args, " "))
			}
			show(cmd, args)
			return nil
		}
	}
}

// Stamped at build time by the Makefile and the Dockerfile:
// -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// build describes this binary.
type build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	Go        string `json:"go"`
	Platform  string `json:"platform"`
}

// buildInfo is what the linker stamped, completed from the module's
// build information (go build records the VCS revision and time).
func buildInfo() build {
	b := build{Version: version, Commit: commit, BuildDate: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" && len(s.Value) >= 12 {
					b.Commit = s.Value[:12]
				}
			case "vcs.time":
				if b.BuildDate == "" {
					b.BuildDate = s.Value + " (commit time)"
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.BuildDate == "" {
		b.BuildDate = "unknown"
	}
	return b
}

// Line is the one-line form (idp --version).
func (b build) Line() string {
	return fmt.Sprintf("idp %s (commit %s, built %s, %s %s)", b.Version, b.Commit, b.BuildDate, b.Go, b.Platform)
}

func (a *app) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := buildInfo()
			if asJSON {
				return a.printJSON(b)
			}
			fmt.Fprintf(a.stdout, "idp %s\ncommit:   %s\nbuilt:    %s\ngo:       %s %s\n", b.Version, b.Commit, b.BuildDate, b.Go, b.Platform)
			return nil
		},
	}
	jsonFlag(cmd, &asJSON)
	return cmd
}
