// Package backend is sluice's connection to its Kafka cluster: the client
// options (bootstrap, TLS, SASL) every internal client uses, the start-up
// reachability check, and topic creation with sluice's replication rule.
package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-io/sluice/internal/config"
)

// Backend is a reachable Kafka cluster.
type Backend struct {
	opts   []kgo.Opt
	admin  *kadm.Client
	client *kgo.Client
	// Brokers is the broker count seen at start; it fixes the replication
	// factor of the topics sluice creates.
	Brokers int
	// TLS is the client TLS configuration toward the backend (nil without
	// TLS), for the gateway's own upstream connections.
	TLS *tls.Config
	// SASL is the mechanism toward the backend (nil without SASL).
	SASL sasl.Mechanism

	watchMu sync.Mutex
	watchN  int
	watch   map[int]func(topic string) // told of each raw topic this process creates
}

// WatchNewRawTopics has f called (on the creating goroutine; it must not
// block) with each raw topic this process creates (or, creating it, finds
// another process created first), until the returned function is called.
// The pipeline refreshes its metadata then: its regex subscription would
// find the topic only at its next periodic refresh, seconds later, and a
// new collection's first events would wait that long.
func (b *Backend) WatchNewRawTopics(f func(topic string)) (stop func()) {
	b.watchMu.Lock()
	defer b.watchMu.Unlock()
	if b.watch == nil {
		b.watch = map[int]func(string){}
	}
	b.watchN++
	id := b.watchN
	b.watch[id] = f
	return func() {
		b.watchMu.Lock()
		defer b.watchMu.Unlock()
		delete(b.watch, id)
	}
}

func (b *Backend) rawTopicCreated(topic string) {
	b.watchMu.Lock()
	watch := make([]func(string), 0, len(b.watch))
	for _, f := range b.watch {
		watch = append(watch, f)
	}
	b.watchMu.Unlock()
	for _, f := range watch {
		f(topic)
	}
}

// ErrUnreachable is wrapped by Connect when no broker answered in time.
var ErrUnreachable = errors.New("backend Kafka cluster unreachable")

// Connect builds the client options from cfg and checks that the cluster
// answers a metadata request within cfg.ConnectTimeout, so a wrong address
// is a clear error at start instead of a hang.
func Connect(ctx context.Context, cfg config.Backend, brokers []string, logger *slog.Logger) (*Backend, error) {
	b := &Backend{}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.WithLogger(kgoLogger{logger}),
	}
	if cfg.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLSCAFile != "" {
			pem, err := os.ReadFile(cfg.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("reading --kafka-tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("reading --kafka-tls-ca: no PEM certificate in %s", cfg.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		b.TLS = tc
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tc}).DialContext))
	}
	switch cfg.SASLMechanism {
	case "":
	case "PLAIN":
		b.SASL = plain.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsMechanism()
	case "SCRAM-SHA-256":
		b.SASL = scram.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		b.SASL = scram.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("unsupported backend SASL mechanism %q", cfg.SASLMechanism)
	}
	if b.SASL != nil {
		opts = append(opts, kgo.SASL(b.SASL))
	}
	b.opts = opts

	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring backend client: %w", err)
	}
	b.client = client
	b.admin = kadm.NewClient(client)

	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := b.waitReachable(ctx, timeout); err != nil {
		client.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) waitReachable(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		meta, err := b.admin.BrokerMetadata(ctx)
		if err == nil && len(meta.Brokers) > 0 {
			b.Brokers = len(meta.Brokers)
			return nil
		}
		if err == nil {
			err = errors.New("metadata lists no brokers")
		}
		last = err
		// Authentication failures will not heal by waiting.
		var ke *kerr.Error
		if errors.As(err, &ke) && (ke == kerr.SaslAuthenticationFailed || ke == kerr.IllegalSaslState || ke == kerr.UnsupportedSaslMechanism) {
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w within %s: %v", ErrUnreachable, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Opts returns the options for a new client of this backend, followed by extra.
func (b *Backend) Opts(extra ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt{}, b.opts...), extra...)
}

// Client is the shared client for metadata and admin work.
func (b *Backend) Client() *kgo.Client { return b.client }

// Admin is the shared admin client.
func (b *Backend) Admin() *kadm.Client { return b.admin }

// ReplicationFactor is sluice's rule: 3, or fewer when the cluster is smaller.
func (b *Backend) ReplicationFactor() int16 { return int16(min(3, b.Brokers)) }

// EnsureTopic creates topic unless it exists. An existing topic is left as it
// is: its settings were chosen when it was created.
func (b *Backend) EnsureTopic(ctx context.Context, topic string, partitions int32, configs map[string]*string) error {
	resp, err := b.admin.CreateTopic(ctx, partitions, b.ReplicationFactor(), configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating backend topic %s: %w", topic, err)
	}
	return b.waitTopicReady(ctx, topic)
}

// waitTopicReady returns once every partition of topic has a leader: a
// cluster acknowledges creation before all brokers know the topic, and the
// first request after it would otherwise meet UNKNOWN_TOPIC_OR_PARTITION.
func (b *Backend) waitTopicReady(ctx context.Context, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		meta, err := b.admin.Metadata(ctx, topic)
		if err == nil {
			if td, ok := meta.Topics[topic]; ok && td.Err == nil && len(td.Partitions) > 0 {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				// A leader named in metadata may not serve the partition
				// yet; listing its offsets proves it does.
				if ready {
					ends, err := b.admin.ListEndOffsets(ctx, topic)
					if err == nil && ends.Error() == nil {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("backend topic %s has no leader for every partition yet: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close releases the shared client.
func (b *Backend) Close() { b.client.Close() }

type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error("backend client: "+msg, keyvals...)
	case kgo.LogLevelWarn:
		k.l.Warn("backend client: "+msg, keyvals...)
	}
}
