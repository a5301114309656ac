package gatewaytest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Consumer is a franz-go client of the Outbound listener.
func (e *Env) Consumer(user, pass string, opts ...kgo.Opt) *kgo.Client {
	e.T.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(e.OutAddr),
		kgo.DialTLSConfig(e.TLS.Clone()),
		kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(200 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(cl.Close)
	return cl
}

// OutboundAdmin is a kadm client of the Outbound listener, as tooling such
// as kafka-consumer-groups would use it.
func (e *Env) OutboundAdmin(user, pass string) *kadm.Client {
	return kadm.NewClient(e.Consumer(user, pass))
}

// OutboundTopic creates a project's outbound topic in the backend, as the
// pipeline does, and returns its backend name.
func (e *Env) OutboundTopic(pid, topic string) string {
	e.T.Helper()
	name := tenancy.BackendOutboundTopic(pid, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Backend.EnsureTopic(ctx, name, 9, nil); err != nil {
		e.T.Fatal(err)
	}
	return name
}

// Publish writes values to a backend topic, spread over its partitions
// round robin, with the backend's own client (as the pipeline would).
func (e *Env) Publish(backendTopic string, values ...string) {
	e.T.Helper()
	cl, err := kgo.NewClient(e.Backend.Opts(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
	if err != nil {
		e.T.Fatal(err)
	}
	defer cl.Close()
	e.produceAll(cl, backendTopic, values)
}

// Transaction writes values in one backend transaction and commits or
// aborts it.
func (e *Env) Transaction(backendTopic string, values []string, commit bool) {
	e.T.Helper()
	end := e.OpenTransaction(backendTopic, values)
	end(commit)
}

// OpenTransaction writes values in a backend transaction left open; the
// returned function ends it.
func (e *Env) OpenTransaction(backendTopic string, values []string) func(commit bool) {
	e.T.Helper()
	cl, err := kgo.NewClient(e.Backend.Opts(
		kgo.TransactionalID(fmt.Sprintf("test-%d", time.Now().UnixNano())),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
	)...)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		e.T.Fatal(err)
	}
	e.produceAll(cl, backendTopic, values)
	return func(commit bool) {
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			e.T.Fatal(err)
		}
	}
}

func (e *Env) produceAll(cl *kgo.Client, topic string, values []string) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.T.Fatal(err)
	}
}

// Consume polls cl until it has n records or the deadline passes.
func Consume(t testing.TB, cl *kgo.Client, n int, within time.Duration) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	if len(out) < n {
		t.Fatalf("consumed %d records within %s, want %d", len(out), within, n)
	}
	return out
}

// ConsumeQuiet polls cl for d and returns whatever arrives (to show that
// nothing more does).
func ConsumeQuiet(cl *kgo.Client, d time.Duration) []*kgo.Record {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	return out
}

// CoordinatorConn is a raw connection to the Outbound endpoint of group's
// coordinator.
func (e *Env) CoordinatorConn(user, pass, group string) *kraw.Conn {
	e.T.Helper()
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, group
	r, err := e.Raw(e.OutAddr, user, pass).Do(fc)
	if err != nil {
		e.T.Fatal(err)
	}
	resp := r.(*kmsg.FindCoordinatorResponse)
	if resp.ErrorCode != 0 || resp.Host != "localhost" {
		e.T.Fatalf("FindCoordinator %q: %+v", group, resp)
	}
	return e.Raw(net.JoinHostPort("127.0.0.1", strconv.Itoa(int(resp.Port))), user, pass)
}
