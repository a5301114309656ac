package gateway

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch builds a record batch at base offset with n records of
// producer pid; attrs as in the batch header.
func testBatch(base int64, n int, pid int64, attrs int16) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(`{"i":1}`)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, Attributes: attrs, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: 1700000000000, MaxTimestamp: 1700000000000, ProducerID: pid, NumRecords: int32(n), Records: recs}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[batchLengthOffset:], uint32(len(raw)-batchLogOverhead))
	binary.BigEndian.PutUint32(raw[batchCRCOffset:], crc32.Checksum(raw[batchAttributesOffset:], castagnoli))
	return raw
}

// marker builds a transaction's control batch: commit or abort.
func marker(base int64, pid int64, commit bool) []byte {
	key := []byte{0, 0, 0, 0}
	if commit {
		key[3] = 1
	}
	r := kmsg.Record{Key: key, Value: []byte{0, 0, 0, 0, 0, 0}}
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, Attributes: attrTransactional | attrControl,
		FirstTimestamp: 1700000000000, MaxTimestamp: 1700000000000, ProducerID: pid, NumRecords: 1, Records: r.AppendTo(nil)}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[batchLengthOffset:], uint32(len(raw)-batchLogOverhead))
	binary.BigEndian.PutUint32(raw[batchCRCOffset:], crc32.Checksum(raw[batchAttributesOffset:], castagnoli))
	return raw
}

// summary describes each batch of a partition's records: base offset,
// last offset, records, and whether it is transactional or control.
type batchSummary struct {
	base, last int64
	records    int32
	attrs      int16
	pid        int64
}

func summarize(t *testing.T, b []byte) []batchSummary {
	t.Helper()
	var out []batchSummary
	for len(b) >= batchHeaderLen {
		size := batchLogOverhead + int(binary.BigEndian.Uint32(b[batchLengthOffset:]))
		if size > len(b) {
			break
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			t.Fatal(err)
		}
		if got := crc32.Checksum(b[batchAttributesOffset:size], castagnoli); got != uint32(rb.CRC) {
			t.Fatalf("batch at %d: CRC %x, computed %x", rb.FirstOffset, rb.CRC, got)
		}
		out = append(out, batchSummary{rb.FirstOffset, rb.FirstOffset + int64(rb.LastOffsetDelta), rb.NumRecords, rb.Attributes, rb.ProducerID})
		b = b[size:]
	}
	return out
}

func TestCommittedView(t *testing.T) {
	const txn = attrTransactional
	type aborted = kmsg.FetchResponseTopicPartitionAbortedTransaction
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	empty := func(base, last int64) batchSummary { return batchSummary{base, last, 0, 0, -1} }
	for _, tc := range []struct {
		name    string
		records []byte
		aborted []aborted
		want    []batchSummary
		data    int
	}{
		{
			name:    "plain batches pass untouched",
			records: cat(testBatch(0, 3, -1, 0), testBatch(3, 2, -1, 0)),
			want:    []batchSummary{{0, 2, 3, 0, -1}, {3, 4, 2, 0, -1}},
			data:    5,
		},
		{
			name:    "committed transaction: data kept, marker emptied",
			records: cat(testBatch(0, 3, 7, txn), marker(3, 7, true)),
			want:    []batchSummary{{0, 2, 3, txn, 7}, empty(3, 3)},
			data:    3,
		},
		{
			name:    "aborted transaction: data and marker emptied",
			records: cat(testBatch(0, 3, 7, txn), marker(3, 7, false)),
			aborted: []aborted{{ProducerID: 7, FirstOffset: 0}},
			want:    []batchSummary{empty(0, 2), empty(3, 3)},
		},
		{
			name: "interleaved producers: only the aborted one's batches go",
			records: cat(testBatch(0, 2, 7, txn), testBatch(2, 2, 8, txn), testBatch(4, 1, 7, txn),
				marker(5, 7, false), marker(6, 8, true)),
			aborted: []aborted{{ProducerID: 7, FirstOffset: 0}},
			want:    []batchSummary{empty(0, 1), {2, 3, 2, txn, 8}, empty(4, 4), empty(5, 5), empty(6, 6)},
			data:    2,
		},
		{
			name:    "a producer's next transaction after its abort is kept",
			records: cat(testBatch(0, 2, 7, txn), marker(2, 7, false), testBatch(3, 2, 7, txn), marker(5, 7, true)),
			aborted: []aborted{{ProducerID: 7, FirstOffset: 0}},
			want:    []batchSummary{empty(0, 1), empty(2, 2), {3, 4, 2, txn, 7}, empty(5, 5)},
			data:    2,
		},
		{
			name:    "aborted list out of order",
			records: cat(testBatch(0, 1, 8, txn), marker(1, 8, false), testBatch(2, 1, 7, txn), marker(3, 7, false)),
			aborted: []aborted{{ProducerID: 7, FirstOffset: 2}, {ProducerID: 8, FirstOffset: 0}},
			want:    []batchSummary{empty(0, 0), empty(1, 1), empty(2, 2), empty(3, 3)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, n := committedView(bytes.Clone(tc.records), tc.aborted)
			got := summarize(t, out)
			if len(got) != len(tc.want) {
				t.Fatalf("batches %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("batch %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if n != tc.data {
				t.Errorf("data records %d, want %d", n, tc.data)
			}
		})
	}
}

// A fetch may end with a partial batch; it is passed on as it is, after the
// rewritten ones.
func TestCommittedViewKeepsPartialTail(t *testing.T) {
	full := bytes.Join([][]byte{marker(0, 7, true), testBatch(1, 3, -1, 0)}, nil)
	cut := full[:len(full)-5]
	tail := bytes.Clone(cut[len(marker(0, 7, true)):])
	out, n := committedView(bytes.Clone(cut), nil)
	if !bytes.HasSuffix(out, tail) || len(out) != batchHeaderLen+len(tail) || n != 0 {
		t.Fatalf("out %d bytes (n=%d), want the emptied marker then the %d-byte partial batch", len(out), n, len(tail))
	}
}
