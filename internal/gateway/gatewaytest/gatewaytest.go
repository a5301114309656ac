// Package gatewaytest starts an in-process sluice gateway over any Kafka
// backend, for the gateway's fast tests (on kfake) and the end-to-end tests
// (on Apache Kafka), and builds record batches of exact sizes.
package gatewaytest

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/gateway"
	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/tlsfiles"
)

// Env is a running gateway with its backend and registry.
type Env struct {
	T        testing.TB
	Backend  *backend.Backend
	Registry *registry.Registry
	Inbound  *gateway.Gateway
	Outbound *gateway.Gateway
	// InAddr and OutAddr are the bootstrap addresses of the two roles.
	InAddr, OutAddr string
	CAFile          string
	TLS             *tls.Config
	Metrics         *prometheus.Registry
}

// Start runs both roles on loopback against the cluster at brokers; opts
// may change each role's configuration (its limits, say).
func Start(t testing.TB, brokers []string, opts ...func(*gateway.Config)) *Env {
	t.Helper()
	return StartLimits(t, brokers, limits.Default(), opts...)
}

// StartLimits is Start with other limits.
func StartLimits(t testing.TB, brokers []string, lim limits.Config, opts ...func(*gateway.Config)) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b := registrytest.Connect(t, brokers)
	reg := registrytest.Open(t, b)
	mat, err := tlsfiles.Load(filepath.Join(t.TempDir(), "tls"), "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := kraw.TLSConfig(mat.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Backend: b, Registry: reg, CAFile: mat.CAFile, TLS: clientTLS, Metrics: prometheus.NewRegistry()}
	m := gateway.NewMetrics(e.Metrics)
	for _, role := range []gateway.Role{gateway.Inbound, gateway.Outbound} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := gateway.Config{Role: role, Listener: ln, AdvertisedHost: "localhost",
			TLS: mat.Config, Registry: reg, Backend: b, Metrics: m, Logger: logger, Limits: lim}
		for _, o := range opts {
			o(&cfg)
		}
		g, err := gateway.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		g.Serve(ctx)
		t.Cleanup(func() {
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			_ = g.Shutdown(sctx)
		})
		if role == gateway.Inbound {
			e.Inbound, e.InAddr = g, ln.Addr().String()
		} else {
			e.Outbound, e.OutAddr = g, ln.Addr().String()
		}
	}
	return e
}

// With returns the environment bound to another (sub)test, so failures and
// cleanups belong to it.
func (e *Env) With(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// Project creates a project in the registry.
func (e *Env) Project(name string) registry.Project {
	e.T.Helper()
	p, err := e.Registry.CreateProject(context.Background(), "org-test", name)
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

// AccessKey creates an access key.
func (e *Env) AccessKey(pid string, k registry.AccessKey) registry.AccessKey {
	e.T.Helper()
	k, err := e.Registry.CreateAccessKey(context.Background(), pid, k)
	if err != nil {
		e.T.Fatal(err)
	}
	return k
}

// Producer is a franz-go client on the Inbound listener.
func (e *Env) Producer(user, pass string, opts ...kgo.Opt) *kgo.Client {
	e.T.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(e.InAddr),
		kgo.DialTLSConfig(e.TLS.Clone()),
		kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(0),
		// A test must fail, not retry forever, when records cannot land.
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}, opts...)...)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(cl.Close)
	return cl
}

// Raw opens an authenticated raw connection to addr.
func (e *Env) Raw(addr, user, pass string) *kraw.Conn {
	e.T.Helper()
	c, err := kraw.DialAuth(addr, e.TLS, user, pass)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { c.Close() })
	return c
}

// LeaderConn opens an authenticated raw connection to the node endpoint
// that leads partition of a client topic, as a producer would.
func (e *Env) LeaderConn(addr, user, pass, topic string, partition int32) *kraw.Conn {
	e.T.Helper()
	c := e.Raw(addr, user, pass)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	r, err := c.Do(meta)
	if err != nil {
		e.T.Fatal(err)
	}
	resp := r.(*kmsg.MetadataResponse)
	leader := int32(-1)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == partition {
				leader = p.Leader
			}
		}
	}
	for _, b := range resp.Brokers {
		if b.NodeID == leader {
			return e.Raw(net.JoinHostPort("127.0.0.1", strconv.Itoa(int(b.Port))), user, pass)
		}
	}
	e.T.Fatalf("no leader known for %s/%d: %+v", topic, partition, resp)
	return nil
}

// TopicExists reports whether the backend has topic.
func (e *Env) TopicExists(topic string) bool {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topics, err := e.Backend.Admin().ListTopics(ctx, topic)
	if err != nil {
		e.T.Fatal(err)
	}
	return topics.Has(topic) && topics[topic].Err == nil
}

// BackendRecords reads every record of a backend topic (empty if the topic
// does not exist).
func (e *Env) BackendRecords(topic string) []*kgo.Record {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if !e.TopicExists(topic) {
		return nil
	}
	cl, err := kgo.NewClient(e.Backend.Opts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		e.T.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	end, err := e.Backend.Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		e.T.Fatal(err)
	}
	total := int64(0)
	end.Each(func(o kadm.ListedOffset) { total += o.Offset })
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.T.Fatalf("reading %s: %d of %d records", topic, len(out), total)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// Batch returns a valid, uncompressed magic-2 record batch of exactly size
// bytes (log overhead included) holding one record, with the given
// attributes (e.g. 0x10 for transactional).
func Batch(size int, attrs int16) []byte {
	for vlen := max(0, size-80); vlen <= size; vlen++ {
		if b := batchWithValue(make([]byte, vlen), attrs); len(b) == size {
			return b
		} else if len(b) > size {
			break
		}
	}
	panic("no batch of that exact size")
}

// JSONBatch returns a batch holding the given record values.
func JSONBatch(values ...[]byte) []byte {
	return batchWithValues(values, 0)
}

func batchWithValue(v []byte, attrs int16) []byte { return batchWithValues([][]byte{v}, attrs) }

func batchWithValues(values [][]byte, attrs int16) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the length varint of 0 is one byte
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs,
		LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(values)), Records: recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// ErrorCodes collects every int16 field named ErrorCode in a response,
// however deeply nested.
func ErrorCodes(resp kmsg.Response) []int16 {
	var out []int16
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
					out = append(out, int16(v.Field(i).Int()))
				} else if f.IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(resp))
	return out
}
