// Package embedded runs the single-node Kafka-protocol log that sluice uses
// when no backend cluster is configured (docs/decisions.md §1): franz-go's kfake
// with on-disk persistence, reached over the Kafka protocol like any cluster.
package embedded

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-io/sluice/internal/limits"
)

// Log is a running embedded log.
type Log struct {
	cluster *kfake.Cluster
	creds   *Credentials
}

// StartAuthenticated opens (or creates) the log kept in dir as sluice serves
// it: a client must authenticate (SASL) with the Credentials kept in dir,
// generated on the first start, before any other request; the log listens on
// loopback, and without this any local process could read and write every
// tenant's topics. Every batch is fsynced before it is acknowledged: sluice
// acknowledges producers only for what survives a crash.
func StartAuthenticated(dir string, logger *slog.Logger) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating embedded log directory: %w", err)
	}
	creds, err := loadOrCreateCredentials(dir, logger)
	if err != nil {
		return nil, err
	}
	l, err := start(dir, logger, kfake.EnableSASL(), kfake.Superuser(creds.Mechanism, creds.Username, creds.Password))
	if err != nil {
		return nil, err
	}
	l.creds = &creds
	return l, nil
}

// Start is StartAuthenticated without authentication, for tests that reach
// the log directly; sluice itself never serves a log started this way.
func Start(dir string, logger *slog.Logger) (*Log, error) {
	return start(dir, logger)
}

// start opens the log with extra kfake options.
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
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes": strconv.Itoa(limits.MaxMessageBytes),
			"log.segment.bytes": strconv.Itoa(segmentBytes),
		}),
		kfake.WithLogger(kfakeLogger{logger}),
	}
	c, err := kfake.NewCluster(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded log in %s: %w", dir, err)
	}
	return &Log{cluster: c}, nil
}

// segmentBytes is the size at which a partition's active segment is sealed
// and a new one started (log.segment.bytes; kfake's default is 100 MiB). Only
// the active segment keeps an index entry per batch in memory, so this bounds
// a busy partition's index (docs/embedded.md, "Memory"); it is also the
// granularity at which trimmed and expired records leave the disk.
const segmentBytes = 8 << 20

// Credentials are what a client must authenticate with; ok is false for a
// log started without authentication.
func (l *Log) Credentials() (c Credentials, ok bool) {
	if l.creds == nil {
		return Credentials{}, false
	}
	return *l.creds, true
}

// Addrs are the loopback addresses the log listens on.
func (l *Log) Addrs() []string { return l.cluster.ListenAddrs() }

// Close flushes the log to disk and stops it.
func (l *Log) Close() { l.cluster.Close() }

type kfakeLogger struct{ l *slog.Logger }

// Logf passes on only warnings and errors: kfake's info level logs every
// request, which would drown sluice's own log. kfake's "EndTxn slow"
// warning is the exception: it fires on every commit that takes over 5 ms,
// which with an fsync per batch is nearly every one (26,118 lines in a
// 30-minute soak), so it goes to debug.
func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch {
	case level == kfake.LogLevelError:
		k.l.Error("embedded log: " + fmt.Sprintf(msg, args...))
	case level == kfake.LogLevelWarn && strings.HasPrefix(msg, endTxnSlow):
		k.l.Debug("embedded log: " + fmt.Sprintf(msg, args...))
	case level == kfake.LogLevelWarn:
		k.l.Warn("embedded log: " + fmt.Sprintf(msg, args...))
	}
}

// endTxnSlow starts kfake's warning about a slow transaction commit.
const endTxnSlow = "txn: EndTxn slow"
