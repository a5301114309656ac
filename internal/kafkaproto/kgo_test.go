package kafkaproto

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func kgoClient(t *testing.T, ts *testServer, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(ts.addr),
		kgo.DialTLSConfig(ts.client),
		kgo.SASL(plain.Auth{User: "p1", Pass: pass}.AsMechanism()),
		kgo.RetryTimeout(2 * time.Second),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A real client negotiates ApiVersions (starting above our max, so it also
// goes through the KIP-511 downgrade), authenticates with SaslHandshake v1 +
// SaslAuthenticate and produces through the handler.
func TestKgoProduce(t *testing.T) {
	ts := startServer(t)
	cl := kgoClient(t, ts, "k1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte(`{"a":1}`)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	keys, conns := ts.handler.seen()
	var produced bool
	for _, k := range keys {
		produced = produced || k == int16(kmsg.Produce)
	}
	if !produced {
		t.Fatalf("handler saw %v, no Produce", keys)
	}
	c := conns[len(conns)-1]
	if name, _ := c.ClientSoftware(); name != "kgo" || c.ClientID() != "kgo" || c.Principal().User() != "p1" {
		t.Errorf("software %q, client id %q, user %q", name, c.ClientID(), c.Principal().User())
	}
}

func TestKgoAcksZero(t *testing.T) {
	ts := startServer(t)
	cl := kgoClient(t, ts, "k1", kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte(`{}`)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	waitFor(t, "three acks=0 produces", func() bool {
		keys, _ := ts.handler.seen()
		n := 0
		for _, k := range keys {
			if k == int16(kmsg.Produce) {
				n++
			}
		}
		return n == 3
	})
	// The connection is still in step: a request after acks=0 produces
	// gets its own answer.
	if _, err := cl.Request(ctx, metadataReq(12, "events")); err != nil {
		t.Fatalf("metadata after acks=0: %v", err)
	}
}

func TestKgoWrongPassword(t *testing.T) {
	ts := startServer(t)
	cl := kgoClient(t, ts, "wrong")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cl.Ping(ctx)
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), badCredentials) {
		t.Fatalf("Ping: %v", err)
	}
}
