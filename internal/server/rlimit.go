package server

import (
	"fmt"
	"log/slog"
	"syscall"

	"github.com/sluice-io/sluice/internal/limits"
)

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit (Go's runtime
// does so too on Linux; doing it here makes the figure the caps are fitted
// to certain, and logged) and returns the limit in effect.
func raiseNoFile() (before, after uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	before = rl.Cur
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return before, before, fmt.Errorf("raising RLIMIT_NOFILE from %d to %d: %w", before, rl.Max, err)
		}
	}
	return before, rl.Cur, nil
}

// connectionLimits raises the descriptor limit and fits the connection caps
// under it, so that connections are refused cleanly before the process runs
// out of descriptors (docs/operations.md, "Connections and file
// descriptors").
func connectionLimits(lim limits.Connections, embedded bool, logger *slog.Logger) limits.Connections {
	before, nofile, err := raiseNoFile()
	if err != nil {
		logger.Warn("could not raise the file descriptor limit; fitting connection caps to the current one", "err", err)
	}
	if nofile == 0 {
		return lim
	}
	fitted, lowered := lim.FitDescriptors(nofile, embedded)
	args := []any{"soft_before", before, "limit", nofile,
		"max_http_connections", fitted.MaxHTTPConnections,
		"max_kafka_connections", fitted.MaxKafkaConnections,
		"max_kafka_connections_per_project", fitted.MaxKafkaConnectionsPerProject,
		"max_kafka_pending_per_address", fitted.MaxKafkaPendingPerAddress,
		"max_http_connections_per_address", fitted.MaxHTTPConnectionsPerAddress}
	if lowered {
		logger.Warn("file descriptor limit too low for the configured connection caps; caps lowered (raise the hard RLIMIT_NOFILE to keep them)", args...)
	} else {
		logger.Info("file descriptor limit", args...)
	}
	return fitted
}
