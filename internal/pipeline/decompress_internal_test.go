package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The consumer's decompressor reads every codec franz-go writes (snappy
// also in the xerial framing of Java clients), and stops a batch whose
// output passes its bound with errDecompressTooLarge, not franz-go's fatal
// ErrMaxDecompress.
func TestBoundedDecompressor(t *testing.T) {
	d := newBoundedDecompressor(1 << 20)
	small := bytes.Repeat([]byte(`{"a":"some event"}`), 1000)
	large := bytes.Repeat([]byte("b"), 1<<20+1)
	for _, tc := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kgo.DefaultCompressor(tc.codec)
			if err != nil {
				t.Fatal(err)
			}
			compress := func(b []byte) ([]byte, kgo.CompressionCodecType) {
				out, codec := c.Compress(new(bytes.Buffer), b)
				return bytes.Clone(out), codec
			}
			in, codec := compress(small)
			got, err := d.Decompress(in, codec)
			if err != nil || !bytes.Equal(got, small) {
				t.Fatalf("round trip: %d bytes, %v", len(got), err)
			}
			in, codec = compress(large)
			if _, err := d.Decompress(in, codec); !errors.Is(err, errDecompressTooLarge) || errors.Is(err, kgo.ErrMaxDecompress) {
				t.Fatalf("past the bound: %v", err)
			}
		})
	}
	t.Run("xerial snappy", func(t *testing.T) {
		// The framing Java clients write: a header, then blocks each
		// prefixed by its big-endian length.
		framed := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, 0, 0, 0, 1, 0, 0, 0, 1)
		for _, part := range [][]byte{small[:5000], small[5000:]} {
			block := snappy.Encode(nil, part)
			framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
			framed = append(framed, block...)
		}
		if got, err := d.Decompress(framed, kgo.CodecSnappy); err != nil || !bytes.Equal(got, small) {
			t.Fatalf("round trip: %d bytes, %v", len(got), err)
		}
	})
	if _, err := d.Decompress([]byte("not gzip at all"), kgo.CodecGzip); err == nil || errors.Is(err, errDecompressTooLarge) {
		t.Fatalf("corrupt gzip: %v", err)
	}
}
