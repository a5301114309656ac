package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestPoisonUnreadableRawBatch: a batch in a raw topic that the pipeline
// cannot read, written straight to the backend (the Inbound listener
// refuses it: it got there before that check, or by a corruption on the
// backend), between two valid batches of one partition. It is skipped
// with a dead letter naming its partition and offsets, counted; the
// partition goes on, and the same and another project's events are
// countable and streamed within 10 s. On the embedded log a gzip batch of
// random bytes and a zstd bomb; on Apache Kafka, which refuses a batch
// that does not decompress, the zstd bomb (22 MB decompressed, over the
// pipeline's 17 MB bound).
func TestPoisonUnreadableRawBatch(t *testing.T) {
	bomb := func() []byte {
		event := []byte(`{"blob":"` + strings.Repeat("b", 899_000) + `"}`)
		events := make([][]byte, 25)
		for i := range events {
			events[i] = event
		}
		return gatewaytest.CompressedBatch(gatewaytest.CodecZstd, events...)
	}
	for _, tc := range []struct {
		backend, name string
		batch         []byte
	}{
		{"embedded", "gzip of random bytes", gatewaytest.CorruptGzipBatch()},
		{"embedded", "zstd bomb", bomb()},
		{"kafka", "zstd bomb", bomb()},
	} {
		t.Run(tc.backend+"/"+tc.name, func(t *testing.T) {
			e := startPoisonEnv(t, tc.backend)
			backendCl := e.backendClient()
			producer := e.client(addrAfter(t, e.p, "Kafka Inbound:"), e.a, "write")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// The collections exist (raw topics made by sluice, tables in
			// the store: making them is not what is timed).
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(`{"n":1}`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if st, body := httpDo(t, "POST", e.p.HTTP+"/3.0/projects/"+e.b.ID+"/events/other", e.b.APIKeys["write"], `{"from":"b","n":0}`); st != 201 {
				t.Fatalf("the bystander's first event: %d %s", st, body)
			}
			waitCountWithin(t, e.p.HTTP, e.a, "orders", 1, 30*time.Second)
			waitCountWithin(t, e.p.HTTP, e.b, "other", 1, 30*time.Second)
			raw := tenancy.RawTopic(e.a.ID, "", "orders")
			writeRawBatch(t, backendCl, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"n":2}`)))
			bad := writeRawBatch(t, backendCl, raw, 0, tc.batch)
			next := writeRawBatch(t, backendCl, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"n":3}`)))
			start := time.Now()
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(`{"n":4}`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if st, body := httpDo(t, "POST", e.p.HTTP+"/3.0/projects/"+e.b.ID+"/events/other", e.b.APIKeys["write"], `{"from":"b","n":1}`); st != 201 {
				t.Fatalf("the bystander's event: %d %s", st, body)
			}
			waitCountWithin(t, e.p.HTTP, e.a, "orders", 4, 10*time.Second)
			waitCountWithin(t, e.p.HTTP, e.b, "other", 2, 10*time.Second-time.Since(start))

			outbound := addrAfter(t, e.p, "Kafka Outbound:")
			consume := func(proj httpProject, topics ...string) *kgo.Client {
				return e.client(outbound, proj, "read", kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
			}
			ca, cb := consume(e.a, "orders", "orders-dlq"), consume(e.b, "other")
			deadline, stop := context.WithTimeout(context.Background(), 10*time.Second-time.Since(start))
			defer stop()
			streamed := map[string]bool{}
			var dead []string
			for !(streamed[`"n":4`] && streamed[`"n":3`] && streamed[`"from":"b","n":1`] && len(dead) == 1) {
				if deadline.Err() != nil {
					t.Fatalf("within 10 s: streamed %v, %d of 1 dead letters", streamed, len(dead))
				}
				for _, cl := range []*kgo.Client{ca, cb} {
					poll, cancel := context.WithTimeout(deadline, 200*time.Millisecond)
					cl.PollFetches(poll).EachRecord(func(r *kgo.Record) {
						if r.Topic == "orders-dlq" {
							dead = append(dead, string(r.Value))
							return
						}
						for _, s := range []string{`"n":4`, `"n":3`, `"from":"b","n":1`} {
							streamed[s] = streamed[s] || bytes.Contains(r.Value, []byte(s))
						}
					})
					cancel()
				}
			}
			t.Logf("countable and streamed %v after the events were acknowledged", time.Since(start).Round(time.Millisecond))

			var dl struct {
				Event, Error string
				Batch        struct {
					Partition int32
					First     int64 `json:"first_offset"`
					Last      int64 `json:"last_offset"`
					Bytes     int
				}
			}
			if err := json.Unmarshal([]byte(dead[0]), &dl); err != nil {
				t.Fatal(err)
			}
			wantErr := fmt.Sprintf("UnreadableBatchError: raw partition 0, offsets %d to %d: the pipeline cannot read this batch: ", bad, next-1)
			if !strings.HasPrefix(dl.Error, wantErr) || dl.Batch.Partition != 0 || dl.Batch.First != bad || dl.Batch.Last != next-1 || dl.Batch.Bytes != len(tc.batch) {
				t.Errorf("dead letter %.300s, want it to name partition 0, offsets %d to %d, %d bytes", dead[0], bad, next-1, len(tc.batch))
			}
			series := fmt.Sprintf(`sluice_pipeline_unreadable_batches_total{project=%q,reason=`, e.a.ID)
			if st, body := httpDo(t, "GET", e.p.HTTP+"/metrics", "", ""); st != 200 || !strings.Contains(body, series) {
				t.Errorf("/metrics: %d, no %s", st, series)
			}
		})
	}
}

// backendClient is a client of sluice's backend itself: the Apache Kafka
// cluster, or the embedded log with the credentials sluice keeps in its
// data dir.
func (e *poisonEnv) backendClient() *kgo.Client {
	t := e.t
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(e.bootstrap...)}
	if e.bootstrap == nil {
		line, ok := e.p.stdout.wait("backend:", time.Second)
		if !ok {
			t.Fatal("start-up printed no backend line")
		}
		_, addr, _ := strings.Cut(line, "listening on ")
		addr, _, _ = strings.Cut(addr, " ")
		raw, err := os.ReadFile(filepath.Join(e.dir, "data", "kafka", "credentials"))
		if err != nil {
			t.Fatal(err)
		}
		var creds struct{ Username, Password string }
		if err := json.Unmarshal(raw, &creds); err != nil {
			t.Fatal(err)
		}
		opts = []kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: creds.Username, Pass: creds.Password}.AsSha256Mechanism())}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// writeRawBatch appends a record batch, byte for byte, to a partition of a
// backend topic with a Produce request of its own, and returns its base
// offset.
func writeRawBatch(t *testing.T, cl *kgo.Client, topic string, partition int32, batch []byte) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	td := meta.Topics[topic]
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID, rt.Partitions = topic, td.ID, []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	resp, err := cl.Broker(int(td.Partitions[partition].Leader)).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	pp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
		t.Fatalf("writing a batch of %d bytes to %s/%d: %v", len(batch), topic, partition, err)
	}
	return pp.BaseOffset
}
