package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/kafkatest"
	"github.com/sluice-io/sluice/internal/kraw"
)

// collectionCap is the collection limit TestPoisonInbound starts sluice
// with: small, so that reaching it costs a few topics, not 1,000.
const collectionCap = 6

// TestPoisonInbound: corrupt and oversized batches sent to the real sluice
// binary are refused with Kafka's codes and a message, and cost nobody
// else anything: afterwards the same project's next valid event and another
// project's events are countable within 10 s. Then the collection limit.
func TestPoisonInbound(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { poisonInbound(t, nil) })
	t.Run("kafka", func(t *testing.T) { poisonInbound(t, kafkaCluster(t, 1, false)) })
}

func poisonInbound(t *testing.T, c *kafkatest.Cluster) {
	const orgID, orgKey = "0123456789abcdef0123abcd", "poison-inbound-org-key-0123456789"
	dir := t.TempDir()
	args := append([]string{"serve", "--org-id", orgID, "--org-key", orgKey,
		"--max-collections-per-project", strconv.Itoa(collectionCap)}, localArgs(t)...)
	if c != nil {
		args = append(args, "--kafka-brokers", strings.Join(c.Bootstrap, ","))
	}
	p := startSluice(t, dir, args...)
	victim := createProject(t, p.HTTP, orgID, orgKey, "victim")
	neighbour := createProject(t, p.HTTP, orgID, orgKey, "neighbour")
	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	inbound := addrAfter(t, p, "Kafka Inbound:")
	producer := func(proj httpProject) *kgo.Client {
		// A record whose context ends fails even if it may have been
		// sent: a test waits a bounded time, then says what the client
		// saw.
		cl, err := kgo.NewClient(kgo.SeedBrokers(inbound), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: proj.ID, Pass: proj.APIKeys["write"]}.AsMechanism()),
			kgo.AllowIdempotentProduceCancellation(), clientLog(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	produce := func(cl *kgo.Client, topic string, n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}).FirstErr(); err != nil {
				t.Fatalf("producing to %s: %v", topic, err)
			}
		}
	}
	// Both collections exist before the poison.
	victimProducer, neighbourProducer := producer(victim), producer(neighbour)
	produce(victimProducer, "orders", 1)
	produce(neighbourProducer, "visits", 1)

	conn := leaderConn(t, inbound, tlsCfg, victim, "orders")
	for _, tc := range gatewaytest.PoisonBatches() {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: tc.Batch}}}}
		r, err := conn.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		pp := r.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		msg := ""
		if pp.ErrorMessage != nil {
			msg = *pp.ErrorMessage
		}
		if pp.ErrorCode != tc.Code || !strings.Contains(msg, tc.Msg) {
			t.Errorf("%s (%d bytes): got %v %q, want %v mentioning %q", tc.Name, len(tc.Batch), kerr.ErrorForCode(pp.ErrorCode), msg, kerr.ErrorForCode(tc.Code), tc.Msg)
		}
	}

	collectionLimit(t, p, victim, victimProducer, produce)

	// Nothing was stored of the poison; the next valid events are, for
	// the same project and for another one, within 10 s.
	produce(victimProducer, "orders", 2)
	produce(neighbourProducer, "visits", 2)
	start := time.Now()
	waitCountWithin(t, p.HTTP, victim, "orders", 3, 10*time.Second)
	waitCountWithin(t, p.HTTP, neighbour, "visits", 3, 10*time.Second-time.Since(start))
	t.Logf("countable %v after their acknowledgement", time.Since(start))
}

// collectionLimit: the project (sluice started with
// --max-collections-per-project collectionCap) has "orders" and makes its
// other collections through Kafka Inbound; then a new one is refused over
// Kafka and HTTP, and an existing one still takes events.
func collectionLimit(t *testing.T, p *proc, proj httpProject, cl *kgo.Client, produce func(*kgo.Client, string, int)) {
	for i := 1; i < collectionCap; i++ {
		produce(cl, "filler"+strconv.Itoa(i), 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "one-too-many", Value: []byte(`{"a":1}`)}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("producing to a collection past the limit: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+proj.ID+"/events/one-too-many", proj.APIKeys["write"], `{"a":1}`)
	want := fmt.Sprintf("has %d collections, its limit (%d)", collectionCap, collectionCap)
	if st != 403 || !strings.Contains(body, "TooManyCollectionsError") || !strings.Contains(body, want) {
		t.Errorf("HTTP event to a collection past the limit: %d %s", st, body)
	}
	produce(cl, "filler1", 1)
}

// leaderConn is a raw authenticated connection to the node leading
// partition 0 of topic.
func leaderConn(t *testing.T, inbound string, tlsCfg *tls.Config, proj httpProject, topic string) *kraw.Conn {
	t.Helper()
	c, err := kraw.DialAuth(inbound, tlsCfg, proj.ID, proj.APIKeys["write"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	r, err := c.Do(meta)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.MetadataResponse)
	leader := int32(-1)
	for _, mt := range resp.Topics {
		for _, mp := range mt.Partitions {
			if mp.Partition == 0 {
				leader = mp.Leader
			}
		}
	}
	for _, b := range resp.Brokers {
		if b.NodeID == leader {
			lc, err := kraw.DialAuth(net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), tlsCfg, proj.ID, proj.APIKeys["write"])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lc.Close() })
			return lc
		}
	}
	t.Fatalf("no leader for %s/0 in %+v", topic, resp)
	return nil
}

// waitCountWithin waits up to d for collection to count n events.
func waitCountWithin(t *testing.T, base string, proj httpProject, collection string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	url := base + "/3.0/projects/" + proj.ID + "/queries/count"
	params := fmt.Sprintf(`{"event_collection":%q}`, collection)
	for {
		st, body := httpDo(t, "POST", url, proj.APIKeys["read"], params)
		var r struct{ Result int }
		if st == 200 && json.Unmarshal([]byte(body), &r) == nil && r.Result == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: count %d %s, want %d within %v", collection, st, body, n, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
