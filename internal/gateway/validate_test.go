package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/limits"
)

// codecXerial is snappy in Java's xerial framing (attribute codec 2).
const codecXerial = 100

var allCodecs = []int{codecNone, codecGzip, codecSnappy, codecXerial, codecLZ4, codecZstd}

func codecName(c int) string {
	if c == codecXerial {
		return "snappy-xerial"
	}
	return codecNames[c]
}

// encodeRecords encodes records holding values, offset deltas 0, 1, ….
func encodeRecords(values ...[]byte) []byte {
	var out []byte
	for i, v := range values {
		out = encodeRecord(out, int32(i), v)
	}
	return out
}

func encodeRecord(dst []byte, offsetDelta int32, value []byte) []byte {
	r := kmsg.Record{OffsetDelta: offsetDelta, Value: value}
	body := r.AppendTo(nil)[1:] // AppendTo writes Length (0, one byte) first
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func compress(t testing.TB, codec int, b []byte) []byte {
	var buf bytes.Buffer
	switch codec {
	case codecNone:
		return b
	case codecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case codecSnappy:
		return snappy.Encode(nil, b)
	case codecXerial:
		buf.Write(xerialHeader)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(b) > 0 {
			n := min(len(b), 32<<10)
			block := snappy.Encode(nil, b[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			buf.Write(block)
			b = b[n:]
		}
	case codecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case codecZstd:
		w, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		return w.EncodeAll(b, nil)
	}
	return buf.Bytes()
}

// makeBatch builds a batch around already compressed records, with the
// CRC it should have.
func makeBatch(codec int, payload []byte, count, lastDelta int32) []byte {
	attrs := int16(codec)
	if codec == codecXerial {
		attrs = codecSnappy
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs, LastOffsetDelta: lastDelta,
		FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: count, Records: payload}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[batchLengthOffset:], uint32(len(out)-batchLogOverhead))
	binary.BigEndian.PutUint32(out[batchCRCOffset:], crc32.Checksum(out[batchAttributesOffset:], castagnoli))
	return out
}

func validBatch(t testing.TB, codec int, values ...[]byte) []byte {
	return makeBatch(codec, compress(t, codec, encodeRecords(values...)), int32(len(values)), int32(len(values)-1))
}

func defaultValidator() *batchValidator {
	return newBatchValidator(limits.MaxDecompressedBatchBytes, limits.MaxMessageBytes)
}

// want checks err against the class (nil, errCorruptBatch, errTooLarge)
// and a fragment of its message.
func want(t *testing.T, err, class error, fragment string) {
	t.Helper()
	switch {
	case class == nil && err != nil:
		t.Fatalf("refused: %v", err)
	case class != nil && !errors.Is(err, class):
		t.Fatalf("got %v, want %v", err, class)
	case class != nil && !strings.Contains(err.Error(), fragment):
		t.Fatalf("%q does not mention %q", err, fragment)
	}
}

func TestValidateEveryCodec(t *testing.T) {
	v := defaultValidator()
	for _, codec := range allCodecs {
		t.Run(codecName(codec), func(t *testing.T) {
			values := [][]byte{[]byte(`{"a":1}`), nil, bytes.Repeat([]byte(`{"b":"x"}`), 5000), {}}
			want(t, v.validateBatches(validBatch(t, codec, values...)), nil, "")
			// Two batches in one partition's records.
			two := append(validBatch(t, codec, values[0]), validBatch(t, codec, values...)...)
			want(t, v.validateBatches(two), nil, "")
		})
	}
}

func TestValidateHeadersAndKeys(t *testing.T) {
	r := kmsg.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "h", Value: nil}, {Key: "", Value: []byte("x")}}}
	body := r.AppendTo(nil)[1:]
	recs := append(binary.AppendVarint(nil, int64(len(body))), body...)
	want(t, defaultValidator().validateBatches(makeBatch(codecNone, recs, 1, 0)), nil, "")
}

// record returns one record's bytes with the given body.
func record(body []byte) []byte { return append(binary.AppendVarint(nil, int64(len(body))), body...) }

func TestValidateCorruption(t *testing.T) {
	v := defaultValidator()
	one := encodeRecords([]byte(`{"a":1}`))
	// body: attributes, timestamp delta, offset delta, key length, value, headers
	varints := func(vals ...int64) []byte {
		b := []byte{0}
		for _, x := range vals {
			b = binary.AppendVarint(b, x)
		}
		return b
	}
	// Seeded: the same bytes every run. The first byte is also a snappy
	// block's claimed length (a uvarint): 32, so that the block is corrupt
	// rather than claiming more than the cap (a refusal too, but another).
	rnd := rand.New(rand.NewPCG(15, 2))
	random := make([]byte, 500)
	for i := range random {
		random[i] = byte(rnd.IntN(256))
	}
	random[0] = 32
	badCRC := validBatch(t, codecNone, []byte("x"))
	badCRC[len(badCRC)-1] ^= 1
	twoRecords := encodeRecords([]byte("a"), []byte("b"))
	cases := []struct {
		name     string
		batch    []byte
		fragment string
	}{
		{"bad CRC", badCRC, "CRC-32C"},
		{"unknown codec 5", makeBatch(5, one, 1, 0), "unknown compression codec 5"},
		{"unknown codec 7", makeBatch(7, one, 1, 0), "unknown compression codec 7"},
		{"gzip of random bytes", makeBatch(codecGzip, random, 1, 0), "gzip payload does not decompress"},
		{"snappy of random bytes", makeBatch(codecSnappy, random, 1, 0), "snappy payload does not decompress"},
		{"snappy block claiming 10 MB", makeBatch(codecSnappy, binary.AppendUvarint(nil, 10<<20), 1, 0), "cannot decode to the 10485760 it claims"},
		{"xerial of random bytes", makeBatch(codecSnappy, append(append(slicesClone(xerialHeader), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0), random...), 1, 0), "snappy payload"},
		{"lz4 of random bytes", makeBatch(codecLZ4, random, 1, 0), "lz4 payload does not decompress"},
		{"zstd of random bytes", makeBatch(codecZstd, random, 1, 0), "zstd payload does not decompress"},
		{"truncated gzip", makeBatch(codecGzip, compress(t, codecGzip, one)[:20], 1, 0), "gzip payload does not decompress"},
		{"claims 3 records, holds 1", makeBatch(codecNone, one, 3, 2), "claims 3 records but holds 1"},
		{"claims 3 records, holds 1, gzip", makeBatch(codecGzip, compress(t, codecGzip, one), 3, 2), "claims 3 records but holds 1"},
		{"claims 1 record, holds 2", makeBatch(codecNone, twoRecords, 1, 0), "more than the 1 records it claims"},
		{"claims 1 record, holds 2, zstd", makeBatch(codecZstd, compress(t, codecZstd, twoRecords), 1, 0), "more than the 1 records"},
		{"last offset delta disagrees", makeBatch(codecNone, one, 3, 0), "last offset delta is 0"},
		{"no records", makeBatch(codecNone, nil, 0, -1), "claims 0 records"},
		{"negative count", makeBatch(codecNone, nil, -1, -2), "claims -1 records"},
		{"record runs past the batch", makeBatch(codecNone, one[:len(one)-1], 1, 0), "runs past the end"},
		{"record length too small", makeBatch(codecNone, record([]byte{0, 0}), 1, 0), "length of 2 bytes"},
		{"record length negative", makeBatch(codecNone, binary.AppendVarint(nil, -7), 1, 0), "length of -7"},
		{"record length varint too long", makeBatch(codecNone, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1, 0), "unreadable length"},
		{"key length below -1", makeBatch(codecNone, record(varints(0, 0, -2, -1, 0)), 1, 0), "bad key length"},
		{"key longer than the record", makeBatch(codecNone, record(varints(0, 0, 50, -1, 0)), 1, 0), "bad key length"},
		{"value longer than the record", makeBatch(codecNone, record(varints(0, 0, -1, 9, 0)), 1, 0), "bad value length"},
		{"negative header count", makeBatch(codecNone, record(varints(0, 0, -1, -1, -1)), 1, 0), "bad header count"},
		{"header with null key", makeBatch(codecNone, record(varints(0, 0, -1, -1, 1, -1, -1)), 1, 0), "header 0: bad key length"},
		{"bytes after the last field", makeBatch(codecNone, record(append(varints(0, 0, -1, -1, 0), 7)), 1, 0), "1 bytes after its last field"},
		{"offset delta past int32", makeBatch(codecNone, record(varints(0, 1<<40, -1, -1, 0)), 1, 0), "offset delta"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, v.validateBatches(tc.batch), errCorruptBatch, tc.fragment)
		})
	}
	t.Run("second batch corrupt", func(t *testing.T) {
		b := append(validBatch(t, codecNone, []byte("ok")), makeBatch(codecNone, one, 3, 2)...)
		want(t, v.validateBatches(b), errCorruptBatch, "batch 2: corrupt record batch: the batch claims 3 records")
	})
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// recordLen is len(encodeRecord(nil, offsetDelta, make([]byte, vlen))).
func recordLen(offsetDelta int32, vlen int) int {
	vi := func(x int64) int { return len(binary.AppendVarint(nil, x)) }
	body := 1 + 1 + vi(int64(offsetDelta)) + 1 + vi(int64(vlen)) + vlen + 1
	return vi(int64(body)) + body
}

// recordsOfExactly returns records totalling exactly n bytes, none longer
// than maxRecord (length varint included).
func recordsOfExactly(t testing.TB, n, maxRecord int) []byte {
	var out []byte
	for i := int32(0); len(out) < n; i++ {
		left := n - len(out)
		target := min(left, maxRecord)
		if left-target > 0 && left-target < 16 {
			target = left - 16 // leave room for a last small record
		}
		vlen := -1
		for _, goal := range []int{target, target - 1} {
			for l := max(0, goal-24); l <= goal && vlen < 0; l++ {
				if recordLen(i, l) == goal {
					vlen = l
				}
			}
		}
		if vlen < 0 {
			t.Fatalf("no record of %d bytes", target)
		}
		out = encodeRecord(out, i, bytes.Repeat([]byte{'x'}, vlen))
	}
	if len(out) != n {
		t.Fatalf("records of %d bytes, want %d", len(out), n)
	}
	return out
}

func countRecords(t testing.TB, b []byte) int32 {
	n := int32(0)
	src := &sliceSource{b: b}
	for src.off < len(b) {
		l, err := readVarint(src)
		if err != nil {
			t.Fatal(err)
		}
		src.off += int(l)
		n++
	}
	return n
}

// TestValidateDecompressedCap: a compressed batch of exactly the cap is
// taken, one byte more is refused, with every codec; and at the real cap.
func TestValidateDecompressedCap(t *testing.T) {
	const limit = 100_000
	recs := recordsOfExactly(t, limit, 4000)
	over := recordsOfExactly(t, limit+1, 4000)
	for _, codec := range allCodecs[1:] {
		t.Run(codecName(codec), func(t *testing.T) {
			v := newBatchValidator(limit, limits.MaxMessageBytes)
			n := countRecords(t, recs)
			want(t, v.validateBatches(makeBatch(codec, compress(t, codec, recs), n, n-1)), nil, "")
			n = countRecords(t, over)
			want(t, v.validateBatches(makeBatch(codec, compress(t, codec, over), n, n-1)), errTooLarge, "more than 100000")
		})
	}
	t.Run("MaxDecompressedBatchBytes", func(t *testing.T) {
		v := defaultValidator()
		for _, tc := range []struct {
			size  int
			class error
		}{{limits.MaxDecompressedBatchBytes, nil}, {limits.MaxDecompressedBatchBytes + 1, errTooLarge}} {
			recs := recordsOfExactly(t, tc.size, limits.MaxMessageBytes)
			n := countRecords(t, recs)
			want(t, v.validateBatches(makeBatch(codecLZ4, compress(t, codecLZ4, recs), n, n-1)), tc.class, "more than 16777216 bytes")
		}
	})
}

// allocated returns the bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestValidateBombs: the batches are refused, having allocated far
// less than what they decompress to (and less than the cap).
func TestValidateBombs(t *testing.T) {
	v := defaultValidator()
	v.validateBatches(validBatch(t, codecZstd, []byte("warm the pool")))
	big := []byte(`{"blob":"` + strings.Repeat("a", 5_000_000) + `"}`)
	event := []byte(`{"blob":"` + strings.Repeat("b", 899_000) + `"}`)
	events := make([][]byte, 200)
	for i := range events {
		events[i] = event
	}
	// 30 of them (27 MB) are past the cap too, and quicker to compress.
	fewer := events[:30]
	cases := []struct {
		name     string
		batch    []byte
		fragment string
	}{
		{"gzip record of 5,000,029 bytes", validBatch(t, codecGzip, big), "more than message.max.bytes"},
		{"zstd batch of 200 events of 899 KB", validBatch(t, codecZstd, events...), "more than 16777216 bytes"},
		{"lz4 batch of 30 events of 899 KB", validBatch(t, codecLZ4, fewer...), "more than 16777216 bytes"},
		{"gzip batch of 30 events of 899 KB", validBatch(t, codecGzip, fewer...), "more than 16777216 bytes"},
		{"snappy block of 27 MB", validBatch(t, codecSnappy, fewer...), "more than 16777216"},
		{"xerial batch of 30 events of 899 KB", validBatch(t, codecXerial, fewer...), "more than 16777216 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("%d bytes compressed", len(tc.batch))
			var err error
			alloc := allocated(func() { err = v.validateBatches(tc.batch) })
			want(t, err, errTooLarge, tc.fragment)
			t.Logf("allocated %d bytes", alloc)
			if alloc > limits.MaxDecompressedBatchBytes {
				t.Fatalf("allocated %d bytes, more than the cap", alloc)
			}
		})
	}
}

// TestValidateRecordTooLarge: uncompressed, a batch cannot hold a record
// over message.max.bytes; compressed, such a record is refused by name.
func TestValidateRecordTooLarge(t *testing.T) {
	v := defaultValidator()
	for _, codec := range allCodecs[1:] {
		t.Run(codecName(codec), func(t *testing.T) {
			at := recordsOfExactly(t, limits.MaxMessageBytes+3, limits.MaxMessageBytes+3) // one record: varint of 3 bytes
			if n := countRecords(t, at); n != 1 {
				t.Fatalf("%d records", n)
			}
			want(t, v.validateBatches(makeBatch(codec, compress(t, codec, at), 1, 0)), nil, "")
			over := encodeRecord(nil, 0, make([]byte, limits.MaxMessageBytes))
			want(t, v.validateBatches(makeBatch(codec, compress(t, codec, over), 1, 0)), errTooLarge,
				fmt.Sprintf("more than message.max.bytes = %d", limits.MaxMessageBytes))
		})
	}
}

// BenchmarkValidate: the CPU cost of the check on a 1 MiB batch of 1 KB
// records, uncompressed and lz4.
func BenchmarkValidate(b *testing.B) {
	value := []byte(`{"item":"golden widget","price":25.5,"note":"` + strings.Repeat("n", 950) + `"}`)
	var values [][]byte
	for len(values)*len(value) < 1<<20-len(value) {
		values = append(values, value)
	}
	for _, codec := range []int{codecNone, codecLZ4, codecGzip, codecZstd} {
		batch := validBatch(b, codec, values...)
		v := defaultValidator()
		b.Run(codecName(codec), func(b *testing.B) {
			b.SetBytes(int64(len(encodeRecords(values...))))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.validateBatches(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
