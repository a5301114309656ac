package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestOutboundPipelineExactlyOnceAcrossSIGKILL: Kafka Outbound enabled over
// HTTP; 8,000 events (half with a record key) and some invalid ones through
// the Inbound listener; sluice is killed with SIGKILL while the pipeline is
// working and started again. A read_committed consumer of the backend's
// outbound topic (what the Outbound listener serves) sees every event
// exactly once, as stored, keyed ones on Kafka's key partition in order;
// the DLQ holds each invalid event exactly once.
func TestOutboundPipelineExactlyOnceAcrossSIGKILL(t *testing.T) {
	c := kafkaCluster(t, 1, false)
	dir := t.TempDir()
	const orgID, orgKey = "0123456789abcdef01234567", "outbound-org-key-0123456789"
	args := append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)
	p := startSluice(t, dir, args...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "outbound")
	if st, body := httpDo(t, "PUT", p.HTTP+"/3.0/projects/"+proj.ID+"/streams/kafka/outbound", proj.APIKeys["master"], `{"enabled":true}`); st != 200 {
		t.Fatalf("enabling Kafka Outbound: %d %s", st, body)
	}
	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	const total, invalidEvery = 8000, 500
	// 2 KB events: a poll's records take long enough to produce that the
	// kill below is likely to fall inside a transaction.
	note := strings.Repeat("x", 2000)
	produce := func(addr string, from, to int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: proj.ID, Pass: proj.APIKeys["write"]}.AsMechanism()), kgo.RecordDeliveryTimeout(60*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			r := &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"n":%d,"item":"book-%d","note":%q}`, i, i, note))}
			if i%2 == 0 {
				r.Key = []byte(fmt.Sprintf("customer-%d", i/2%14))
			}
			recs = append(recs, r)
			if i%invalidEvery == 0 {
				recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"n":%d,"broken":`, i))})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("producing %d..%d: %v", from, to, err)
		}
	}
	count := func(base string) int {
		st, body := httpDo(t, "POST", base+"/3.0/projects/"+proj.ID+"/queries/count", proj.APIKeys["read"], `{"event_collection":"orders"}`)
		if st != 200 {
			return -1
		}
		var r struct{ Result int }
		_ = json.Unmarshal([]byte(body), &r)
		return r.Result
	}

	// Kill the moment the first outbound records reach the log, before a
	// read_committed reader may see them: most likely while the pipeline's
	// transaction is open.
	out := tenancy.BackendOutboundTopic(proj.ID, "orders")
	firstRecords := make(chan struct{})
	go func() {
		// The topic does not exist yet: look for it often.
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.ConsumeTopics(out),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
			kgo.MetadataMinAge(20*time.Millisecond), kgo.MetadataMaxAge(100*time.Millisecond), kgo.FetchMaxWait(10*time.Millisecond))
		if err != nil {
			return
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for ctx.Err() == nil {
			if len(cl.PollFetches(ctx).Records()) > 0 {
				close(firstRecords)
				return
			}
		}
	}()
	produce(addrAfter(t, p, "Kafka Inbound:"), 0, total/2)
	select {
	case <-firstRecords:
	case <-time.After(2 * time.Minute):
		t.Fatal("no outbound record within 2 minutes")
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited

	p = startSluice(t, dir, args...)
	produce(addrAfter(t, p, "Kafka Inbound:"), total/2, total)

	recs := readCommitted(t, c.Bootstrap, out, total)
	if len(recs) != total {
		t.Fatalf("read_committed consumer got %d outbound records, want %d", len(recs), total)
	}
	// An outbound record is committed after its event is stored.
	if n := count(p.HTTP); n != total {
		t.Fatalf("the store holds %d events, want %d", n, total)
	}
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic(out)
	seenID, seenN := map[string]bool{}, map[int]bool{}
	lastN := map[string]int{}
	byN := map[int][]byte{}
	for _, r := range recs {
		var ev struct {
			N    int `json:"n"`
			Keen struct {
				ID, Timestamp, CreatedAt string
			} `json:"keen"`
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil || ev.Keen.ID == "" {
			t.Fatalf("outbound value %s is no enriched event (%v)", r.Value, err)
		}
		h := map[string]string{}
		for _, hd := range r.Headers {
			h[hd.Key] = string(hd.Value)
		}
		if h["keen.id"] != ev.Keen.ID || h["keen.collection"] != "orders" {
			t.Fatalf("record of event %d: headers %v", ev.N, h)
		}
		if seenID[ev.Keen.ID] || seenN[ev.N] {
			t.Fatalf("event %d (keen.id %s) published twice", ev.N, ev.Keen.ID)
		}
		seenID[ev.Keen.ID], seenN[ev.N] = true, true
		byN[ev.N] = r.Value
		if r.Key == nil {
			continue
		}
		if want := kafka.Partition(r, 9); int(r.Partition) != want {
			t.Errorf("key %s on partition %d, Kafka's default partitioner says %d", r.Key, r.Partition, want)
		}
		if last, ok := lastN[string(r.Key)]; ok && ev.N < last {
			t.Errorf("key %s: event %d after event %d", r.Key, ev.N, last)
		}
		lastN[string(r.Key)] = ev.N
	}
	if len(lastN) != 14 {
		t.Errorf("%d keys seen, want 14", len(lastN))
	}

	// Published exactly as stored: extraction returns the stored JSON.
	for _, n := range []int{0, total/2 - 1, total / 2, total - 1} {
		q := fmt.Sprintf(`{"event_collection":"orders","filters":[{"property_name":"n","operator":"eq","property_value":%d}]}`, n)
		st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+proj.ID+"/queries/extraction", proj.APIKeys["read"], q)
		var r struct{ Result []json.RawMessage }
		if err := json.Unmarshal([]byte(body), &r); st != 200 || err != nil || len(r.Result) != 1 {
			t.Fatalf("extraction of %d: %d %s", n, st, body)
		}
		var a, b bytes.Buffer
		_ = json.Compact(&a, r.Result[0])
		_ = json.Compact(&b, byN[n])
		if a.String() != b.String() {
			t.Errorf("event %d: stored %s, published %s", n, a.String(), b.String())
		}
	}

	// How the kill fell: records of the killed process's open transaction
	// stay in the log, aborted, and only a read_uncommitted reader sees them.
	if all := readUncommittedCount(t, c.Bootstrap, out); all > total {
		t.Logf("the kill left %d aborted records in the outbound topic", all-total)
	} else {
		t.Logf("the kill left no aborted records in the outbound topic (it fell between transactions)")
	}

	wantDLQ := total / invalidEvery
	dlq := readCommitted(t, c.Bootstrap, out+"-dlq", wantDLQ)
	seenDLQ := map[string]bool{}
	for _, r := range dlq {
		var v struct{ Event, Error string }
		if err := json.Unmarshal(r.Value, &v); err != nil || !strings.Contains(v.Event, `"broken":`) || v.Error == "" {
			t.Fatalf("DLQ record %s (%v)", r.Value, err)
		}
		var id string
		for _, hd := range r.Headers {
			if hd.Key == "keen.id" {
				id = string(hd.Value)
			}
		}
		if id == "" || seenDLQ[id] {
			t.Fatalf("DLQ record %s: keen.id %q missing or seen twice", r.Value, id)
		}
		seenDLQ[id] = true
	}
	if len(dlq) != wantDLQ {
		t.Fatalf("%d DLQ records, want %d", len(dlq), wantDLQ)
	}
}

// readCommitted reads a backend topic from the start as the Outbound
// listener does (read_committed) until it holds want records, then a little
// longer so that extra records would show.
func readCommitted(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d records within 3 minutes, want %d", topic, len(out), want)
		}
		out = append(out, fs.Records()...)
	}
	grace, cancelGrace := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelGrace()
	for grace.Err() == nil {
		out = append(out, cl.PollFetches(grace).Records()...)
	}
	return out
}

// readUncommittedCount counts the records of a topic, aborted ones included,
// that a read_uncommitted consumer gets within 5 seconds (for the log only).
func readUncommittedCount(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		n += len(cl.PollFetches(ctx).Records())
	}
	return n
}
