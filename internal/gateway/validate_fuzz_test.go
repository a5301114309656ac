package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/limits"
)

// FuzzValidateBatches: the validator never panics, never allocates much
// past the decompression cap, and agrees with franz-go's own decoder
// (kmsg for the batch and records, kgo's default decompressor): what it
// accepts franz-go reads whole, and what franz-go reads whole, byte for
// byte canonical and within the size limits, it accepts.
//
// go test -run '^$' -fuzz FuzzValidateBatches -fuzztime 2m ./internal/gateway/
func FuzzValidateBatches(f *testing.F) {
	values := [][]byte{[]byte(`{"a":1}`), nil, bytes.Repeat([]byte(`{"b":"x"}`), 300), {}}
	for _, codec := range allCodecs {
		f.Add(validBatch(f, codec, values...))
		f.Add(validBatch(f, codec, values[0]))
	}
	one := encodeRecords([]byte(`{"a":1}`))
	two := encodeRecords([]byte("a"), []byte("b"))
	f.Add(makeBatch(codecGzip, bytes.Repeat([]byte{0x1f, 0x8b, 8, 0, 0xff}, 40), 1, 0))
	f.Add(makeBatch(codecNone, one, 3, 2))
	f.Add(makeBatch(codecGzip, compress(f, codecGzip, one), 3, 2))
	f.Add(makeBatch(codecNone, two, 1, 0))
	f.Add(makeBatch(codecZstd, compress(f, codecZstd, two), 1, 0))
	f.Add(makeBatch(5, one, 1, 0))
	f.Add(makeBatch(codecNone, one[:len(one)-1], 1, 0))
	f.Add(makeBatch(codecLZ4, compress(f, codecLZ4, one)[:10], 1, 0))
	f.Add(makeBatch(codecSnappy, []byte{0xff, 0xff, 0xff, 0x7f, 0}, 1, 0))
	f.Add(makeBatch(codecZstd, compress(f, codecZstd, bytes.Repeat([]byte{'z'}, 1<<20)), 1, 0))
	f.Add(append(validBatch(f, codecNone, []byte("x")), makeBatch(codecNone, one, 3, 2)...))

	v := defaultValidator()
	dec := kgo.DefaultDecompressor()
	var before, after runtime.MemStats
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := inspectBatches(b); err != nil {
			return
		}
		for len(b) > 0 {
			size := batchLogOverhead + int(int32(binary.BigEndian.Uint32(b[batchLengthOffset:])))
			batch := b[:size]
			b = b[size:]

			runtime.ReadMemStats(&before)
			err := v.validate(batch)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limits.MaxDecompressedBatchBytes+limits.MaxMessageBytes {
				t.Fatalf("validating a %d-byte batch allocated %d bytes", len(batch), alloc)
			}
			if err != nil && !errors.Is(err, errCorruptBatch) && !errors.Is(err, errTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}

			codec := kgo.CompressionCodecType(binary.BigEndian.Uint16(batch[batchAttributesOffset:]) & attrCodecMask)
			// franz-go's decompressor takes anything up to 2 GiB: only give
			// it a zstd payload too small to be a large bomb.
			if err != nil && codec == kgo.CodecZstd && len(batch) > 300 {
				continue
			}
			canonical, readable := franzRead(dec, batch)
			switch {
			case err == nil && !readable:
				t.Fatalf("accepted a batch franz-go cannot read: %x", batch)
			case err != nil && canonical:
				t.Fatalf("refused a batch franz-go reads: %v: %x", err, batch)
			}
		}
	})
}

// franzRead reads one batch the way franz-go's consumer does. readable: the
// CRC holds, the payload decompresses, and exactly the claimed records are
// there and decode. canonical: moreover each record re-encodes to its very
// bytes, the offset delta and count agree, and the sizes are within
// sluice's limits, so Apache Kafka would take the batch too.
func franzRead(dec kgo.Decompressor, batch []byte) (canonical, readable bool) {
	var rb kmsg.RecordBatch
	if rb.ReadFrom(batch) != nil || rb.Magic != 2 {
		return false, false
	}
	if crc32.Checksum(batch[batchAttributesOffset:], castagnoli) != uint32(rb.CRC) {
		return false, false
	}
	codec := rb.Attributes & attrCodecMask
	if codec > codecZstd {
		return false, false
	}
	data, err := dec.Decompress(rb.Records, kgo.CompressionCodecType(codec))
	if err != nil {
		return false, false
	}
	canonical = rb.NumRecords > 0 && rb.LastOffsetDelta == rb.NumRecords-1 &&
		(codec == codecNone || len(data) <= limits.MaxDecompressedBatchBytes)
	for i := int32(0); i < rb.NumRecords; i++ {
		length, used := kbin.Varint(data)
		total := used + int(length)
		if used == 0 || length < 0 || len(data) < total {
			return false, false
		}
		var r kmsg.Record
		if r.ReadFrom(data[:total]) != nil {
			return false, false
		}
		canonical = canonical && int(length) <= limits.MaxMessageBytes && bytes.Equal(r.AppendTo(nil), data[:total])
		data = data[total:]
	}
	if len(data) != 0 {
		return false, false
	}
	return canonical, true
}
