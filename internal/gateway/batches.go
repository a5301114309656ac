package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Record batch (magic 2) header offsets, from Kafka's DefaultRecordBatch.
const (
	batchLengthOffset     = 8
	batchMagicOffset      = 16
	batchAttributesOffset = 21
	batchNumRecordsOffset = 57
	batchHeaderLen        = 61
	batchLogOverhead      = 12 // base offset + batch length, not counted in batchLength

	attrTransactional = 0x10
	attrControl       = 0x20
)

// batchInfo is what the gateway needs to know about a partition's records
// without decoding (or decompressing) them: batches pass byte for byte.
type batchInfo struct {
	records       int
	bytes         int // all batches
	largest       int // bytes of the largest batch, log overhead included
	transactional bool
}

var (
	errCorruptBatch = errors.New("corrupt record batch")
	// errOldFormat is a batch in a message format Kafka 4 no longer takes.
	errOldFormat = errors.New("old message format")
)

// inspectBatches walks the record batches of one partition.
func inspectBatches(b []byte) (batchInfo, error) {
	info := batchInfo{bytes: len(b)}
	if len(b) == 0 {
		return info, fmt.Errorf("%w: no records", errCorruptBatch)
	}
	for len(b) > 0 {
		if len(b) < batchHeaderLen {
			return info, fmt.Errorf("%w: %d bytes left, shorter than a batch header", errCorruptBatch, len(b))
		}
		size := batchLogOverhead + int(int32(binary.BigEndian.Uint32(b[batchLengthOffset:])))
		if size < batchHeaderLen || size > len(b) {
			return info, fmt.Errorf("%w: batch length %d does not fit the %d bytes sent", errCorruptBatch, size, len(b))
		}
		if b[batchMagicOffset] != 2 {
			return info, fmt.Errorf("%w: produce requests may only contain record batches with magic version 2, not %d", errOldFormat, b[batchMagicOffset])
		}
		attrs := binary.BigEndian.Uint16(b[batchAttributesOffset:])
		info.transactional = info.transactional || attrs&(attrTransactional|attrControl) != 0
		info.records += int(int32(binary.BigEndian.Uint32(b[batchNumRecordsOffset:])))
		info.largest = max(info.largest, size)
		b = b[size:]
	}
	return info, nil
}
