package gateway

// Transactions on the Outbound listener.
//
// The pipeline publishes outbound records in Kafka transactions, and the
// Outbound listener reads at read_committed whatever the client asked, so no
// client ever sees records past the last stable offset. That is not enough
// on its own: the broker still returns the batches of aborted transactions
// (and every transaction's control marker) below that offset and leaves the
// filtering to the client, from the AbortedTransactions list (KIP-98). A
// client configured read_uncommitted (the Java default) would deliver the
// aborted records, and some clients (kafka-python before 2.0.6) deliver
// control records as data.
//
// So the gateway does the filtering itself: every aborted data batch and
// every control batch is replaced by an empty batch covering the same
// offsets (no records, no producer, not transactional, valid CRC), and the
// AbortedTransactions list is cleared. Clients skip empty batches and move
// their position past them (Kafka leaves such batches behind after
// compaction too), so nothing is re-fetched forever.

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// More record batch header offsets (see batches.go).
const (
	batchCRCOffset        = 17
	batchLastDeltaOffset  = 23
	batchProducerIDOffset = 43
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// committedView rewrites a partition's records, in place, into what a
// read_committed client should see (committedEdits) and counts the data
// records left. The result is records[:n] (an emptied batch is shorter
// than the original, so the rest moves down): the caller must own records.
func committedView(records []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) (out []byte, dataRecords int) {
	var edits kafkaproto.RecordEdits
	n := committedEdits(records, aborted, &edits)
	return edits.Apply(records), n
}

// committedEdits says what a read_committed client should see of a
// partition's records: aborted and control batches emptied, as edits of
// records, which it leaves as they are. It returns the data records left.
// Records that do not parse (a truncated last batch, as fetch responses
// may end with) are kept as they are.
func committedEdits(records []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, edits *kafkaproto.RecordEdits) (dataRecords int) {
	var pending []kmsg.FetchResponseTopicPartitionAbortedTransaction
	if len(aborted) > 0 {
		pending = slices.Clone(aborted)
		slices.SortFunc(pending, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
			return cmp.Compare(a.FirstOffset, b.FirstOffset)
		})
	}
	var abortedProducers map[int64]bool
	r := 0
	for len(records)-r >= batchHeaderLen {
		b := records[r:]
		size := batchLogOverhead + int(int32(binary.BigEndian.Uint32(b[batchLengthOffset:])))
		if size < batchHeaderLen || size > len(b) || b[batchMagicOffset] != 2 {
			break // a partial last batch, or something only the client can judge
		}
		batch := b[:size]
		attrs := binary.BigEndian.Uint16(batch[batchAttributesOffset:])
		base := int64(binary.BigEndian.Uint64(batch))
		last := base + int64(int32(binary.BigEndian.Uint32(batch[batchLastDeltaOffset:])))
		producer := int64(binary.BigEndian.Uint64(batch[batchProducerIDOffset:]))
		for len(pending) > 0 && pending[0].FirstOffset <= last {
			if abortedProducers == nil {
				abortedProducers = map[int64]bool{}
			}
			abortedProducers[pending[0].ProducerID] = true
			pending = pending[1:]
		}
		empty := false
		switch {
		case attrs&attrControl != 0:
			if isAbortMarker(batch) {
				delete(abortedProducers, producer)
			}
			empty = true
		case attrs&attrTransactional != 0 && abortedProducers[producer]:
			empty = true
		default:
			dataRecords += int(int32(binary.BigEndian.Uint32(batch[batchNumRecordsOffset:])))
		}
		if empty {
			emptyBatchHeader(edits.ReplaceBy(r, r+size, batchHeaderLen), batch)
		}
		r += size
	}
	return dataRecords
}

// isAbortMarker reads the control record of a control batch: its key is
// (version int16, type int16), type 0 = ABORT, 1 = COMMIT. Control batches
// are never compressed.
func isAbortMarker(batch []byte) bool {
	r := batch[batchHeaderLen:]
	varint := func() (int64, bool) {
		v, n := binary.Varint(r)
		if n <= 0 {
			return 0, false
		}
		r = r[n:]
		return v, true
	}
	if _, ok := varint(); !ok || len(r) < 1 { // record length, attributes
		return false
	}
	r = r[1:]
	_, ok1 := varint() // timestamp delta
	_, ok2 := varint() // offset delta
	keyLen, ok3 := varint()
	if !ok1 || !ok2 || !ok3 || keyLen < 4 || int(keyLen) > len(r) {
		return false
	}
	return binary.BigEndian.Uint16(r[2:]) == 0
}

// emptyBatchHeader writes into h (batchHeaderLen bytes) a batch with no
// records covering the same offsets, epoch and timestamps as batch.
func emptyBatchHeader(h, batch []byte) {
	copy(h, batch[:batchHeaderLen])
	binary.BigEndian.PutUint32(h[batchLengthOffset:], batchHeaderLen-batchLogOverhead)
	attrs := binary.BigEndian.Uint16(h[batchAttributesOffset:])
	binary.BigEndian.PutUint16(h[batchAttributesOffset:], attrs&0x08) // keep only the timestamp type
	binary.BigEndian.PutUint64(h[batchProducerIDOffset:], ^uint64(0)) // producer id -1
	binary.BigEndian.PutUint16(h[batchProducerIDOffset+8:], 0xffff)   // producer epoch -1
	binary.BigEndian.PutUint32(h[batchProducerIDOffset+10:], ^uint32(0))
	binary.BigEndian.PutUint32(h[batchNumRecordsOffset:], 0)
	binary.BigEndian.PutUint32(h[batchCRCOffset:], crc32.Checksum(h[batchAttributesOffset:], castagnoli))
}
