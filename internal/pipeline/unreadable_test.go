package pipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// writeBatch appends a record batch, as given, to a partition of a topic
// on the backend (what the Inbound listener now refuses, written before
// it did), and returns its base offset.
func writeBatch(t *testing.T, b *backend.Backend, topic string, partition int32, batch []byte) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	meta, err := b.Admin().Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := meta.Topics[topic].Partitions[partition].Leader
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID, rt.Partitions = topic, meta.Topics[topic].ID, []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	resp, err := b.Client().Broker(int(leader)).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	pp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
		t.Fatalf("writing the batch: %v", err)
	}
	return pp.BaseOffset
}

// A raw batch the pipeline cannot read (corrupt, or decompressing past its
// bound) is read a bounded number of times, then skipped with a dead letter
// naming it, counted, and logged once; the partition goes on, and the same
// and another project's events are stored and streamed within 10 s. The
// skip is committed with its dead letter: a restart does not skip or
// dead-letter it again.
func TestAnUnreadableRawBatchIsSkippedWithADeadLetter(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		batch        []byte
		// first: the batch is its partition's first, before any offset
		// of it was committed.
		first bool
	}{
		{"gzip of random bytes", "does_not_decompress", gatewaytest.CorruptGzipBatch(), false},
		{"zstd bomb", "decompresses_too_large", gatewaytest.ZstdBomb(), false},
		{"first of its partition", "does_not_decompress", gatewaytest.CorruptGzipBatch(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := newPoisonEnv(t)
			raw := tenancy.RawTopic(pe.projA.ID, "", "orders")
			if err := pe.b.EnsureTopic(context.Background(), raw, 9, nil); err != nil {
				t.Fatal(err)
			}
			if !tc.first {
				writeBatch(t, pe.b, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"before":"the poison"}`)))
				pe.waitStreamed(pe.projA.ID, "orders", `"before":"the poison"`, time.Now().Add(20*time.Second))
			}

			bad := writeBatch(t, pe.b, raw, 0, tc.batch)
			next := writeBatch(t, pe.b, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"same":"partition"}`)))
			deadline := time.Now().Add(20 * time.Second)
			pe.waitStreamed(pe.projA.ID, "orders", `"same":"partition"`, deadline)
			pe.checkFlow("orders")

			dl := pe.readUnreadable(pe.projA.ID, "orders", 1)[0]
			if !strings.HasPrefix(dl.Error, pipeline.ErrUnreadableBatch+": raw partition 0, offsets ") || dl.Event != "" {
				t.Errorf("dead letter %+v", dl)
			}
			if dl.Batch.Partition != 0 || dl.Batch.FirstOffset != bad || dl.Batch.LastOffset != next-1 || dl.Batch.Bytes != len(tc.batch) {
				t.Errorf("dead letter names %+v, want partition 0, offsets %d to %d, %d bytes", dl.Batch, bad, next-1, len(tc.batch))
			}
			// The backend sets the base offset and leader epoch; the rest is
			// the batch as written.
			if got, _ := base64.StdEncoding.DecodeString(dl.Batch.Base64); len(got) != len(tc.batch) || string(got[16:]) != string(tc.batch[16:]) {
				t.Errorf("dead letter's copy of the batch differs from it (%d bytes, want %d)", len(got), len(tc.batch))
			}
			labels := map[string]string{"project": pe.projA.ID, "reason": tc.reason}
			pe.waitMetric("sluice_pipeline_unreadable_batches_total", labels, 1)
			if n := pe.logs.count("skipped a raw batch the pipeline cannot read"); n != 1 {
				t.Errorf("%d log lines for the skipped batch, want 1", n)
			}

			// Restarted: the skip was committed, nothing is skipped or
			// dead-lettered again, the partition reads on.
			pe.stop()
			pe.start(func(c *pipeline.Config) { c.Store, c.Logger = pe.st, slog.New(pe.logs) })
			pe.produce(raw, `{"after":"the restart"}`)
			pe.waitStreamed(pe.projA.ID, "orders", `"after":"the restart"`, time.Now().Add(20*time.Second))
			if got := pe.readUnreadable(pe.projA.ID, "orders", 1); len(got) != 1 {
				t.Errorf("%d dead letters after the restart", len(got))
			}
			if n := pe.logs.count("skipped a raw batch the pipeline cannot read"); n != 1 {
				t.Errorf("%d log lines for the skipped batch after the restart, want 1", n)
			}
		})
	}
}

// unreadableDL is the dead letter of an unreadable batch.
type unreadableDL struct {
	Event string `json:"event"`
	Error string `json:"error"`
	Batch struct {
		Partition   int32  `json:"partition"`
		FirstOffset int64  `json:"first_offset"`
		LastOffset  int64  `json:"last_offset"`
		Records     int32  `json:"records"`
		Bytes       int    `json:"bytes"`
		Base64      string `json:"base64"`
	} `json:"batch"`
}

// readUnreadable reads a collection's DLQ until it holds n records, and
// any more that show within a moment; it returns those that name a batch.
func (pe *poisonEnv) readUnreadable(pid, collection string, n int) []unreadableDL {
	pe.t.Helper()
	values := pe.readN(tenancy.BackendOutboundTopic(pid, collection+"-dlq"), n)
	var out []unreadableDL
	for _, v := range values {
		var dl unreadableDL
		if err := json.Unmarshal([]byte(v), &dl); err != nil {
			pe.t.Fatalf("DLQ value %.200s: %v", v, err)
		}
		if dl.Batch.Bytes > 0 {
			out = append(out, dl)
		}
	}
	if len(values) != n {
		pe.t.Fatalf("%d DLQ records, want %d: %s", len(values), n, fmt.Sprint(values))
	}
	return out
}

// A batch that claims more records than it holds (3, holding 1) is no
// unreadable batch: its record is stored and streamed, and the partition
// goes on past it.
func TestABatchHoldingFewerRecordsThanItClaimsDoesNotStopItsPartition(t *testing.T) {
	pe := newPoisonEnv(t)
	raw := tenancy.RawTopic(pe.projA.ID, "", "orders")
	if err := pe.b.EnsureTopic(context.Background(), raw, 9, nil); err != nil {
		t.Fatal(err)
	}
	writeBatch(t, pe.b, raw, 0, gatewaytest.ShortBatch())
	writeBatch(t, pe.b, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"same":"partition"}`)))
	deadline := time.Now().Add(10 * time.Second)
	pe.waitStreamed(pe.projA.ID, "orders", `"short":true`, deadline)
	pe.waitStreamed(pe.projA.ID, "orders", `"same":"partition"`, deadline)
	pe.checkFlow("orders")
}

// With the project's Kafka Outbound disabled, an unreadable batch is
// skipped all the same, counted, and no dead letter is written (counted
// as skipped, like an invalid event's).
func TestAnUnreadableRawBatchIsSkippedWithOutboundDisabled(t *testing.T) {
	pe := newPoisonEnv(t)
	pe.enable(pe.projA.ID, false)
	raw := tenancy.RawTopic(pe.projA.ID, "", "orders")
	if err := pe.b.EnsureTopic(context.Background(), raw, 9, nil); err != nil {
		t.Fatal(err)
	}
	writeBatch(t, pe.b, raw, 0, gatewaytest.CorruptGzipBatch())
	writeBatch(t, pe.b, raw, 0, gatewaytest.CompressedBatch(gatewaytest.CodecGzip, []byte(`{"same":"partition"}`)))
	deadline := time.Now().Add(10 * time.Second)
	for !pe.storedWith(pe.projA.ID, "orders", `"same":"partition"`) {
		if time.Now().After(deadline) {
			t.Fatal("the event after the unreadable batch was not stored in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pe.waitMetric("sluice_pipeline_unreadable_batches_total", map[string]string{"project": pe.projA.ID, "reason": "does_not_decompress"}, 1)
	pe.waitMetric("sluice_pipeline_dlq_records_total", map[string]string{"project": pe.projA.ID, "result": "skipped"}, 1)
	if n := pe.metric("sluice_pipeline_dlq_records_total", map[string]string{"project": pe.projA.ID, "result": "written"}); n != 0 {
		t.Errorf("%v dead letters written with outbound disabled", n)
	}
}
