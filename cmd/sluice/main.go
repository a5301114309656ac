// Command sluice is a self-hostable, Keen-compatible event platform with a
// Kafka Inbound and a Kafka Outbound listener. main only parses and wires.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/server"
)

// Exit codes, documented in the README.
const (
	exitError       = 1
	exitUsage       = 2
	exitUnreachable = 3
)

const usage = `sluice — Keen-compatible events with Kafka Inbound and Outbound listeners

usage:
  sluice serve [flags]                 run everything (sluice serve -h lists the flags)
  sluice project create --name NAME    create a project on a running server and print its keys
`

var lookupEnv = os.LookupEnv

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "project":
		return project(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.ParseServe(args, config.OSEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	tuneGC(lookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := server.Run(ctx, cfg, stdout, logger); err != nil {
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		if errors.Is(err, server.ErrBackendUnreachable) {
			return exitUnreachable
		}
		return exitError
	}
	return 0
}

// defaultGCPercent is Go's GOGC for sluice serve, unless the environment
// sets GOGC. The pipeline allocates every poll's records and events anew
// while the previous poll's are still live, so at Go's default (100) the
// collector ran about once per batch. At 300 the pipeline drains about 15%
// more events per CPU-second, more than the collector's own 5% of the
// profile (its write barriers and assists slow everything else while it
// runs), for about 250 MB more resident memory (docs/operations.md).
const defaultGCPercent = 300

// tuneGC sets defaultGCPercent when GOGC is not set: an operator's GOGC
// (or GOMEMLIMIT beside it) is left to the Go runtime.
func tuneGC(lookup func(string) (string, bool)) {
	if _, ok := lookup("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
}

func levelOf(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}
