package gateway

// The deep check of a record batch, before it is forwarded: what Apache
// Kafka's broker checks when it appends a batch (LogValidator), so the
// embedded log never stores what Apache Kafka refuses, and no later reader
// (the pipeline) meets a batch it cannot read.
//
//   - CRC-32C over the bytes after the CRC field;
//   - a known compression codec, and a compressed payload that decompresses,
//     read through a reader that stops as soon as the output passes
//     limits.MaxDecompressedBatchBytes: a compression bomb costs that much
//     decompression work, and memory for the decompressor's window (at
//     most the limit) and one record, never the whole output;
//   - exactly the record count of the header (and its last offset delta),
//     each record's length and varints consistent and inside the batch,
//     nothing after the last record;
//   - no record larger than message.max.bytes once decompressed: it could
//     not have been sent uncompressed either.
//
// Outcomes: errCorruptBatch (CORRUPT_MESSAGE) for anything malformed,
// errTooLarge (MESSAGE_TOO_LARGE, Kafka's code for every size refusal; a
// Java producer splits such a batch and retries the halves) for the sizes.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const (
	attrCodecMask = 0x07

	// A record's smallest body: attributes, timestamp delta, offset delta,
	// key length, value length, header count, one byte each.
	minRecordBody = 6
)

// Compression codecs (attribute bits 0–2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

var codecNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

// errTooLarge is a batch or record over a size limit.
var errTooLarge = errors.New("too large")

// xerialHeader starts snappy payloads in the framing Java clients write
// (snappy-java's SnappyOutputStream): the magic, then version and
// compatible version (int32 each), then chunks of [int32 length][block].
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// batchValidator checks batches; it keeps decompressors for reuse and is
// safe for concurrent use.
type batchValidator struct {
	maxDecompressed int // a compressed batch's records, decompressed
	maxRecord       int // one record (length varint excluded)
	states          sync.Pool
}

func newBatchValidator(maxDecompressed, maxRecord int) *batchValidator {
	return &batchValidator{maxDecompressed: maxDecompressed, maxRecord: maxRecord}
}

// decodeState is what decompressing one batch needs; pooled.
type decodeState struct {
	br      *bufio.Reader
	buf     []byte // the current record of a compressed batch
	gz      *gzip.Reader
	zs      *zstd.Decoder
	lz      *lz4.Reader
	xerial  xerialReader
	snappy  []byte // a raw snappy block, decoded
	bounded boundedReader
}

// validateBatches checks every batch of one partition's records, which
// inspectBatches has already walked.
func (v *batchValidator) validateBatches(b []byte) error {
	for i := 1; len(b) > 0; i++ {
		size := batchLogOverhead + int(int32(binary.BigEndian.Uint32(b[batchLengthOffset:])))
		if err := v.validate(b[:size]); err != nil {
			if i > 1 || size < len(b) {
				return fmt.Errorf("batch %d: %w", i, err)
			}
			return err
		}
		b = b[size:]
	}
	return nil
}

// validate checks one batch: b is exactly the batch, log overhead
// included, its length and magic already checked by inspectBatches.
func (v *batchValidator) validate(b []byte) error {
	if want, got := binary.BigEndian.Uint32(b[batchCRCOffset:]), crc32.Checksum(b[batchAttributesOffset:], castagnoli); want != got {
		return fmt.Errorf("%w: the CRC-32C of the batch is %08x, its header says %08x", errCorruptBatch, got, want)
	}
	attrs := binary.BigEndian.Uint16(b[batchAttributesOffset:])
	count := int32(binary.BigEndian.Uint32(b[batchNumRecordsOffset:]))
	lastDelta := int32(binary.BigEndian.Uint32(b[batchLastDeltaOffset:]))
	if count <= 0 {
		return fmt.Errorf("%w: the batch claims %d records", errCorruptBatch, count)
	}
	if int64(lastDelta) != int64(count)-1 {
		return fmt.Errorf("%w: the batch claims %d records but its last offset delta is %d", errCorruptBatch, count, lastDelta)
	}
	records := b[batchHeaderLen:]
	codec := int(attrs & attrCodecMask)
	if codec == codecNone {
		return v.readRecords(&sliceSource{b: records}, int(count))
	}
	if codec >= len(codecNames) {
		return fmt.Errorf("%w: unknown compression codec %d in the batch's attributes", errCorruptBatch, codec)
	}
	st, _ := v.states.Get().(*decodeState)
	if st == nil {
		st = &decodeState{}
	}
	defer func() {
		st.release()
		v.states.Put(st)
	}()
	if codec == codecSnappy && !bytes.HasPrefix(records, xerialHeader) {
		out, err := decodeSnappyBlock(&st.snappy, records, v.maxDecompressed)
		if err != nil {
			return decompressError(codec, err, v.maxDecompressed)
		}
		return v.readRecords(&sliceSource{b: out}, int(count))
	}
	r, err := st.decompressor(codec, records, v.maxDecompressed)
	if err != nil {
		return decompressError(codec, err, v.maxDecompressed)
	}
	st.bounded = boundedReader{r: r, left: v.maxDecompressed, limit: v.maxDecompressed}
	if st.br == nil {
		st.br = bufio.NewReaderSize(&st.bounded, 32<<10)
	} else {
		st.br.Reset(&st.bounded)
	}
	err = v.readRecords(&streamSource{r: st.br, buf: &st.buf, max: v.maxRecord}, int(count))
	if err != nil && !errors.Is(err, errCorruptBatch) && !errors.Is(err, errTooLarge) {
		return decompressError(codec, err, v.maxDecompressed)
	}
	return err
}

// decompressError words a decompressor's failure.
func decompressError(codec int, err error, limit int) error {
	if errors.Is(err, errTooLarge) {
		return err
	}
	var df decompressFailure
	if errors.As(err, &df) {
		err = df.err
	}
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return fmt.Errorf("%w: the %s batch decompresses to more than %d bytes (its frame header says so)", errTooLarge, codecNames[codec], limit)
	}
	return fmt.Errorf("%w: the %s payload does not decompress: %v", errCorruptBatch, codecNames[codec], err)
}

// decompressor returns a reader of src's decompressed bytes.
func (st *decodeState) decompressor(codec int, src []byte, limit int) (io.Reader, error) {
	switch codec {
	case codecGzip:
		if st.gz == nil {
			gz, err := gzip.NewReader(bytes.NewReader(src))
			if err != nil {
				return nil, err
			}
			st.gz = gz
		} else if err := st.gz.Reset(bytes.NewReader(src)); err != nil {
			return nil, err
		}
		return st.gz, nil
	case codecSnappy:
		st.xerial.reset(src)
		return &st.xerial, nil
	case codecLZ4:
		if st.lz == nil {
			st.lz = lz4.NewReader(bytes.NewReader(src))
		} else {
			st.lz.Reset(bytes.NewReader(src))
		}
		return st.lz, nil
	case codecZstd:
		if st.zs == nil {
			// A frame encoded whole (franz-go) has a window of its
			// decompressed size, so the window may be as large as the
			// limit. Streamed encoders use 2 MiB (zstd-jni, librdkafka)
			// to 8 MiB (klauspost's).
			window := uint64(max(limit, zstd.MinWindowSize))
			zs, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(window), zstd.WithDecoderMaxMemory(max(window, uint64(limit)+1)))
			if err != nil {
				return nil, err
			}
			st.zs = zs
		}
		if err := st.zs.Reset(bytes.NewReader(src)); err != nil {
			return nil, err
		}
		return st.zs, nil
	}
	return nil, fmt.Errorf("codec %d", codec)
}

// release drops every reference to the request's bytes before pooling.
func (st *decodeState) release() {
	if st.br != nil {
		st.br.Reset(nil)
	}
	st.bounded = boundedReader{}
	st.xerial.reset(nil)
	if st.lz != nil {
		st.lz.Reset(nil)
	}
	if st.zs != nil {
		_ = st.zs.Reset(nil)
	}
	// gzip keeps its source until the next Reset; the request is short-lived.
}

// boundedReader passes at most limit bytes; asked for more when there is
// more, it fails with errTooLarge, having read one byte past the limit.
type boundedReader struct {
	r     io.Reader
	left  int
	limit int
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		var one [1]byte
		for {
			n, err := b.r.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: the batch decompresses to more than %d bytes", errTooLarge, b.limit)
			}
			if err == io.EOF {
				return 0, err
			}
			if err != nil {
				return 0, decompressFailure{err}
			}
		}
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	if err != nil && err != io.EOF && !errors.Is(err, errTooLarge) {
		// Kept apart from the io.ErrUnexpectedEOF of a record that runs
		// past the decompressed data.
		err = decompressFailure{err}
	}
	return n, err
}

// decompressFailure is a decompressor's error (deliberately not unwrapping
// to it).
type decompressFailure struct{ err error }

func (d decompressFailure) Error() string { return d.err.Error() }

// decodeSnappyBlock decodes one raw snappy block (as franz-go and
// librdkafka write a batch) into buf. The block states its decoded length
// first, so nothing is decoded past limit.
func decodeSnappyBlock(buf *[]byte, block []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: a snappy block of the batch decompresses to %d bytes, more than %d", errTooLarge, n, limit)
	}
	if n > snappyMaxRatio*len(block)+64 {
		// Refused before allocating what a few bytes claim.
		return nil, fmt.Errorf("a snappy block of %d bytes cannot decode to the %d it claims", len(block), n)
	}
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return snappy.Decode((*buf)[:n], block)
}

// snappyMaxRatio bounds what a snappy block can decode to: its densest
// element, a copy of 64 bytes, takes 3.
const snappyMaxRatio = 22

// xerialMaxChunk bounds one xerial chunk, decoded: snappy-java writes
// 32 KiB chunks, and a chunk is held whole while its records are read.
const xerialMaxChunk = 4 << 20

// xerialReader reads xerial-framed snappy (as Java clients write it).
type xerialReader struct {
	src []byte
	out []byte // decoded chunk, not yet read
	buf []byte
}

func (s *xerialReader) reset(src []byte) {
	s.src, s.out = src, nil
	if len(src) >= xerialHeaderLen {
		s.src = src[xerialHeaderLen:]
	}
}

func (s *xerialReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		switch {
		case len(s.src) == 0:
			return 0, io.EOF
		case len(s.src) < 4:
			return 0, errors.New("truncated xerial snappy chunk length")
		}
		n := binary.BigEndian.Uint32(s.src)
		if uint64(n) > uint64(len(s.src)-4) {
			return 0, fmt.Errorf("xerial snappy chunk of %d bytes runs past the payload", n)
		}
		var err error
		if s.out, err = decodeSnappyBlock(&s.buf, s.src[4:4+n], xerialMaxChunk); err != nil {
			return 0, err
		}
		s.src = s.src[4+n:]
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// recordSource yields a batch's records bytes.
type recordSource interface {
	io.ByteReader
	// take returns the next n bytes, valid until the next call; io.EOF or
	// io.ErrUnexpectedEOF when fewer are left.
	take(n int) ([]byte, error)
}

type sliceSource struct {
	b   []byte
	off int
}

func (s *sliceSource) ReadByte() (byte, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	s.off++
	return s.b[s.off-1], nil
}

func (s *sliceSource) take(n int) ([]byte, error) {
	if n > len(s.b)-s.off {
		return nil, io.ErrUnexpectedEOF
	}
	s.off += n
	return s.b[s.off-n : s.off], nil
}

type streamSource struct {
	r   *bufio.Reader
	buf *[]byte
	max int
}

func (s *streamSource) ReadByte() (byte, error) { return s.r.ReadByte() }

func (s *streamSource) take(n int) ([]byte, error) {
	if n > s.max {
		return nil, fmt.Errorf("record of %d bytes", n) // readRecords refuses earlier
	}
	if cap(*s.buf) < n {
		*s.buf = make([]byte, n)
	}
	b := (*s.buf)[:n]
	if _, err := io.ReadFull(s.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// readRecords reads exactly count records from src and then its end.
func (v *batchValidator) readRecords(src recordSource, count int) error {
	for i := 0; i < count; i++ {
		n, err := readVarint(src)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: the batch claims %d records but holds %d", errCorruptBatch, count, i)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errVarint) {
				return fmt.Errorf("%w: record %d of %d: unreadable length", errCorruptBatch, i, count)
			}
			return err
		}
		switch {
		case n < minRecordBody:
			return fmt.Errorf("%w: record %d of %d has a length of %d bytes", errCorruptBatch, i, count, n)
		case n > int64(v.maxRecord):
			return fmt.Errorf("%w: record %d of %d is %d bytes once decompressed, more than message.max.bytes = %d",
				errTooLarge, i, count, n, v.maxRecord)
		}
		body, err := src.take(int(n))
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: record %d of %d (%d bytes) runs past the end of the batch", errCorruptBatch, i, count, n)
			}
			return err
		}
		if err := checkRecord(body); err != nil {
			return fmt.Errorf("%w: record %d of %d: %v", errCorruptBatch, i, count, err)
		}
	}
	switch _, err := src.ReadByte(); {
	case err == nil:
		return fmt.Errorf("%w: the batch holds more than the %d records it claims", errCorruptBatch, count)
	case !errors.Is(err, io.EOF):
		return err
	}
	return nil
}

var errVarint = errors.New("varint longer than 5 bytes")

// readVarint reads a record length: a zigzag varint of at most 5 bytes
// (Kafka's int32 varint). io.EOF only when nothing at all is left.
func readVarint(r io.ByteReader) (int64, error) {
	var u uint64
	for i := 0; i < 5; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errVarint
}

// checkRecord parses one record's body (DefaultRecord): every length and
// varint consistent, ending exactly at the end of the body.
func checkRecord(b []byte) error {
	r := recordReader{b: b[1:]} // attributes: unused, any value
	if _, ok := r.varint(math.MinInt64, math.MaxInt64); !ok {
		return errors.New("unreadable timestamp delta")
	}
	if _, ok := r.varint(math.MinInt32, math.MaxInt32); !ok {
		return errors.New("unreadable offset delta")
	}
	if !r.bytes(-1) {
		return errors.New("bad key length")
	}
	if !r.bytes(-1) {
		return errors.New("bad value length")
	}
	headers, ok := r.varint(0, math.MaxInt32)
	if !ok {
		return errors.New("bad header count")
	}
	for h := int64(0); h < headers; h++ {
		if !r.bytes(0) {
			return fmt.Errorf("header %d: bad key length", h)
		}
		if !r.bytes(-1) {
			return fmt.Errorf("header %d: bad value length", h)
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes after its last field", len(r.b))
	}
	return nil
}

type recordReader struct{ b []byte }

// varint reads a zigzag varint within [lo, hi].
func (r *recordReader) varint(lo, hi int64) (int64, bool) {
	v, n := binary.Varint(r.b)
	if n <= 0 || v < lo || v > hi {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}

// bytes skips a length-prefixed field whose length is at least min (-1:
// null allowed) and fits in what is left.
func (r *recordReader) bytes(min int64) bool {
	n, ok := r.varint(min, math.MaxInt32)
	if !ok || n > int64(len(r.b)) {
		return false
	}
	if n > 0 {
		r.b = r.b[n:]
	}
	return true
}
