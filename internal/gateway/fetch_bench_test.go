package gateway

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// BenchmarkForwardFetch is the gateway's work on one Fetch answer once the
// backend's response is read: the old way, decode→rewrite→encode
// (reencode: kmsg's decoder, kafkaproto.RewriteFetch with the committed
// view edited in place, kmsg's encoder into a reused buffer, one write),
// or the new one (splice: kafkaproto.Splicer.Fetch and one writev), to a
// loopback TCP connection read by another goroutine (tcp) or to a
// connection that drops the bytes (discard). Each partition holds
// transactions as the pipeline writes them: a batch of 1 KiB JSON-like
// records, then its commit marker (which both ways empty). Each iteration
// first copies the backend's response into the buffer it is read into, as
// reading it from the socket does. MB/s is of the backend's response
// bytes; cpu-µs/MB is the process's CPU time per MB.
//
// The A/B method: go test -run '^$' -bench ForwardFetch -benchmem -count 6 ./internal/gateway
// runs both ways one after the other in each round.
func BenchmarkForwardFetch(b *testing.B) {
	for _, shape := range []struct {
		name                  string
		partitions, txns, per int // per partition: txns transactions of one batch of about per bytes
	}{
		{"1x1MiB", 1, 16, 64 << 10},
		{"4x256KiB", 4, 4, 64 << 10},
		{"8x16KiB", 8, 1, 16 << 10},
	} {
		body := benchFetchResponse(b, shape.partitions, shape.txns, shape.per)
		for _, sink := range []string{"tcp", "discard"} {
			for _, way := range []string{"reencode", "splice"} {
				name := fmt.Sprintf("%s/%s/%s", shape.name, sink, way)
				b.Run(name, func(b *testing.B) { benchFetch(b, body, sink, way) })
			}
		}
	}
}

func benchFetch(b *testing.B, body []byte, sink, way string) {
	nc := benchSink(b, sink)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 16
	rw := &kafkaproto.FetchRewrite{IDs: map[[16]byte]bool{{1}: true}, Records: committedEdits,
		Broker: func(int32) (string, int32, bool) { return "gw", 9092, true }}
	var sp kafkaproto.Splicer
	var out []byte
	read := make([]byte, len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		copy(read, body)
		if way == "splice" {
			segs, _, err := sp.Fetch(read, 42, req.Version, rw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := segs.WriteTo(nc); err != nil {
				b.Fatal(err)
			}
			continue
		}
		up, err := kafkaproto.DecodeResponse(read, req, 7)
		if err != nil {
			b.Fatal(err)
		}
		resp, _ := kafkaproto.RewriteFetch(up.(*kmsg.FetchResponse), rw)
		out = append(out[:0], 0, 0, 0, 0)
		out = kbin.AppendInt32(out, 42)
		out = append(out, 0) // header tags
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := nc.Write(out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/(float64(b.N)*float64(len(body))/1e6), "cpu-µs/MB")
}

// benchFetchResponse is a backend's Fetch v16 response (after the size
// prefix): one topic by id, each partition txns transactions of a batch of
// about per bytes and a commit marker.
func benchFetchResponse(b *testing.B, partitions, txns, per int) []byte {
	value := []byte(`{"user":{"id":"u-1234","country":"paris"},"amount":512,"text":"` + strings.Repeat("checkout pricing ", 56) + `"}`)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 16
	t := kmsg.NewFetchResponseTopic()
	t.TopicID = [16]byte{1}
	for p := range partitions {
		var records []byte
		offset := int64(0)
		for range txns {
			n := max(1, per/len(value))
			records = append(records, benchTxnBatch(offset, n, 77, value)...)
			offset += int64(n)
			records = append(records, marker(offset, 77, true)...)
			offset++
		}
		tp := kmsg.NewFetchResponseTopicPartition()
		tp.Partition, tp.HighWatermark, tp.LastStableOffset, tp.LogStartOffset = int32(p), offset, offset, 0
		tp.AbortedTransactions = nil
		tp.RecordBatches = records
		t.Partitions = append(t.Partitions, tp)
	}
	resp.Topics = append(resp.Topics, t)
	body := kbin.AppendInt32(nil, 7)
	body = append(body, 0)
	return resp.AppendTo(body)
}

// benchTxnBatch is a transactional batch of n records of value.
func benchTxnBatch(base int64, n int, pid int64, value []byte) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: value}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	batch := kmsg.RecordBatch{FirstOffset: base, Magic: 2, Attributes: attrTransactional, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: 1700000000000, MaxTimestamp: 1700000000000, ProducerID: pid, NumRecords: int32(n), Records: recs}
	raw := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[batchLengthOffset:], uint32(len(raw)-batchLogOverhead))
	binary.BigEndian.PutUint32(raw[batchCRCOffset:], crc32.Checksum(raw[batchAttributesOffset:], castagnoli))
	return raw
}
