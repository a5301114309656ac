// Package embedded runs the single-node Kafka-protocol log that sluice uses
// when no backend cluster is configured (DESIGN decision 1): franz-go's kfake
// with on-disk persistence, reached over the Kafka protocol like any cluster.
package embedded

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Log is a running embedded log.
type Log struct {
	cluster *kfake.Cluster
}

// Start opens (or creates) the log kept in dir. Every batch is fsynced
// before it is acknowledged: sluice acknowledges producers only for what
// survives a crash.
func Start(dir string, logger *slog.Logger) (*Log, error) {
	return start(dir, logger)
}

// start is Start with extra kfake options, for tests.
func start(dir string, logger *slog.Logger, extra ...kfake.Opt) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating embedded log directory: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("sluice-embedded"),
		kfake.DataDir(dir),
		kfake.SyncWrites(),
		kfake.DefaultNumPartitions(9),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "1048588"}),
		kfake.WithLogger(kfakeLogger{logger}),
	}
	c, err := kfake.NewCluster(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded log in %s: %w", dir, err)
	}
	return &Log{cluster: c}, nil
}

// Addrs are the loopback addresses the log listens on.
func (l *Log) Addrs() []string { return l.cluster.ListenAddrs() }

// Close flushes the log to disk and stops it.
func (l *Log) Close() { l.cluster.Close() }

type kfakeLogger struct{ l *slog.Logger }

// Logf passes on only warnings and errors: kfake's info level logs every
// request, which would drown sluice's own log.
func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		k.l.Error("embedded log: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		k.l.Warn("embedded log: " + fmt.Sprintf(msg, args...))
	}
}
