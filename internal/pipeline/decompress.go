package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/limits"
)

// maxDecompressedBatch is the consumer's bound on one batch decompressed:
// a batch the Inbound listener accepts, plus one record of slack.
const maxDecompressedBatch = limits.MaxDecompressedBatchBytes + limits.MaxMessageBytes

// errDecompressTooLarge is a batch decompressing past maxDecompressedBatch.
var errDecompressTooLarge = fmt.Errorf("the batch decompresses to more than %d bytes", maxDecompressedBatch)

// rawDecompressor decompresses the raw batches the pipeline consumes, and
// those it reads again to find an unreadable one (unreadable.go).
var rawDecompressor = newBoundedDecompressor(maxDecompressedBatch)

// boundedDecompressor is the pipeline consumer's kgo.Decompressor: it
// stops as soon as a batch's output passes max, like franz-go's own with
// MaxDecompressBatchBytes, but fails with errDecompressTooLarge instead of
// kgo.ErrMaxDecompress. franz-go stops a partition for good on the latter
// and reports it once, and a report can be dropped before the loop sees it
// (freshen discards what was fetched); an ordinary decompression error is
// fetched and reported again, so the loop counts it and skips the batch
// like any other it cannot read. Decoders are pooled. Safe for concurrent
// use.
type boundedDecompressor struct {
	max   int
	gzip  sync.Pool // *gzipDecoder
	lz4   sync.Pool // *lz4.Reader
	zstd  sync.Pool // *zstd.Decoder
	bufs  sync.Pool // *bytes.Buffer
	xpfx  []byte
	xhead int
}

type gzipDecoder struct {
	r   gzip.Reader
	src bytes.Reader
}

func newBoundedDecompressor(max int) *boundedDecompressor {
	d := &boundedDecompressor{max: max, xpfx: []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, xhead: 16}
	d.gzip.New = func() any { return &gzipDecoder{} }
	d.lz4.New = func() any { return lz4.NewReader(nil) }
	d.zstd.New = func() any {
		dec, _ := zstd.NewReader(nil, zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(max))) // fails only on invalid options
		return dec
	}
	d.bufs.New = func() any { return new(bytes.Buffer) }
	return d
}

// Decompress implements kgo.Decompressor.
func (d *boundedDecompressor) Decompress(src []byte, codec kgo.CompressionCodecType) ([]byte, error) {
	var r io.Reader
	switch codec {
	case kgo.CodecNone:
		return src, nil
	case kgo.CodecGzip:
		g := d.gzip.Get().(*gzipDecoder)
		defer d.gzip.Put(g)
		g.src.Reset(src)
		if err := g.r.Reset(&g.src); err != nil {
			return nil, err
		}
		r = &g.r
	case kgo.CodecLz4:
		l := d.lz4.Get().(*lz4.Reader)
		defer d.lz4.Put(l)
		l.Reset(bytes.NewReader(src))
		r = l
	case kgo.CodecZstd:
		z := d.zstd.Get().(*zstd.Decoder)
		defer d.zstd.Put(z)
		out, err := z.DecodeAll(src, nil)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || len(out) > d.max {
			return nil, errDecompressTooLarge
		}
		return out, err
	case kgo.CodecSnappy:
		return d.snappy(src)
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	buf := d.bufs.Get().(*bytes.Buffer)
	defer d.bufs.Put(buf)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r, int64(d.max)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(d.max) {
		return nil, errDecompressTooLarge
	}
	return slices.Clone(buf.Bytes()), nil
}

// snappy decodes a raw snappy block, or the xerial framing Java clients
// write (a header, then blocks each prefixed by its length).
func (d *boundedDecompressor) snappy(src []byte) ([]byte, error) {
	if len(src) <= d.xhead || !bytes.HasPrefix(src, d.xpfx) {
		return d.snappyBlock(nil, src)
	}
	src = src[d.xhead:]
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errors.New("truncated xerial snappy chunk")
		}
		n := int(uint32(src[0])<<24 | uint32(src[1])<<16 | uint32(src[2])<<8 | uint32(src[3]))
		src = src[4:]
		if n > len(src) {
			return nil, errors.New("truncated xerial snappy chunk")
		}
		var err error
		if out, err = d.snappyBlock(out, src[:n]); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}

func (d *boundedDecompressor) snappyBlock(out, block []byte) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if len(out)+n > d.max {
		return nil, errDecompressTooLarge
	}
	dec, err := s2.Decode(nil, block)
	if err != nil {
		return nil, err
	}
	return append(out, dec...), nil
}
