package kafkaproto

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-io/sluice/internal/crc32c"
)

// pieces reads from r at most a random 1..max bytes at a time, as a socket
// gives a frame.
type pieces struct {
	r   io.Reader
	rnd *rand.Rand
	max int
}

func (p *pieces) Read(b []byte) (int, error) {
	return p.r.Read(b[:min(len(b), 1+p.rnd.IntN(p.max))])
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestReadSummed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := randomBytes(r, 3*crc32c.Chunk+500)
	wantSums := func(n int) crc32c.Sums {
		var s crc32c.Sums
		for k := 0; (k+1)*crc32c.Chunk <= n; k++ {
			s = append(s, crc32c.Checksum(src[k*crc32c.Chunk:(k+1)*crc32c.Chunk]))
		}
		return s
	}
	for _, max := range []int{1000, 20000, 1 << 20} {
		fb := &Buffer{B: make([]byte, len(src))}
		// The first 10,000 bytes were read before (a frame's first
		// buffer), then the rest.
		copy(fb.B, src[:10000])
		if err := readSummed(&pieces{bytes.NewReader(src[10000:]), r, max}, fb, 10000); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fb.B, src) {
			t.Fatalf("reads of up to %d: the bytes differ", max)
		}
		if got, want := fb.sums, wantSums(len(src)); !slices.Equal(got, want) {
			t.Fatalf("reads of up to %d: sums %x, want %x", max, got, want)
		}
	}
	// io.ReadFull's errors: nothing read is io.EOF, part of it
	// io.ErrUnexpectedEOF.
	fb := &Buffer{B: make([]byte, 100)}
	if err := readSummed(bytes.NewReader(nil), fb, 0); err != io.EOF {
		t.Fatalf("empty source: %v, want io.EOF", err)
	}
	if err := readSummed(bytes.NewReader(src[:40]), fb, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short source: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestFrameChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fb := &Buffer{B: randomBytes(r, 5*crc32c.Chunk)}
	fb.sums.Advance(fb.B, len(fb.B))
	c := &Conn{frame: fb}
	outside := randomBytes(r, 3*crc32c.Chunk)
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"a batch in the frame, across chunks", fb.B[100 : 4*crc32c.Chunk+7]},
		{"the whole frame", fb.B},
		{"inside one chunk", fb.B[10:20]},
		{"empty", fb.B[5:5]},
		{"bytes elsewhere", outside},
	} {
		if got, want := c.FrameChecksum(tc.p), crc32c.Checksum(tc.p); got != want {
			t.Errorf("%s: %08x, want %08x", tc.name, got, want)
		}
	}
	// The frame's sums are what it uses: a sum that no longer matches its
	// chunk changes the checksum of a range over that chunk, and of no
	// other.
	fb.sums[2] ^= 1
	if c.FrameChecksum(fb.B[100:4*crc32c.Chunk]) == crc32c.Checksum(fb.B[100:4*crc32c.Chunk]) {
		t.Error("a range over chunk 2 was summed again instead of taken from the frame's sums")
	}
	if got, want := c.FrameChecksum(fb.B[100:2*crc32c.Chunk]), crc32c.Checksum(fb.B[100:2*crc32c.Chunk]); got != want {
		t.Errorf("a range before chunk 2: %08x, want %08x", got, want)
	}
	c.frame = nil
	if got, want := c.FrameChecksum(fb.B[100:4*crc32c.Chunk]), crc32c.Checksum(fb.B[100:4*crc32c.Chunk]); got != want {
		t.Errorf("no frame being handled: %08x, want %08x", got, want)
	}
}

func TestOffsetIn(t *testing.T) {
	b := make([]byte, 100, 200)
	other := make([]byte, 10)
	for _, tc := range []struct {
		name string
		p    []byte
		off  int
		ok   bool
	}{
		{"the start", b[:10], 0, true},
		{"the middle", b[40:60], 40, true},
		{"the end", b[90:], 90, true},
		{"the whole", b, 0, true},
		{"past the length, within the capacity", b[90:110], 0, false},
		{"after the length", b[150:160], 0, false},
		{"another slice", other, 0, false},
		{"empty", b[3:3], 0, false},
	} {
		off, ok := offsetIn(b, tc.p)
		if off != tc.off || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, off, ok, tc.off, tc.ok)
		}
	}
}
