package crc32c

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 5*Chunk+123)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	var s Sums
	// Read in uneven pieces, as a socket gives them.
	for n := 0; n < len(b); {
		n = min(len(b), n+1+r.IntN(20000))
		s.Advance(b, n)
	}
	if len(s) != 5 {
		t.Fatalf("%d chunk sums, want 5", len(s))
	}
	for _, tc := range []struct {
		name   string
		lo, hi int
	}{
		{"empty", 100, 100},
		{"inside one chunk", 10, Chunk - 10},
		{"exactly one chunk", Chunk, 2 * Chunk},
		{"across a boundary, no whole chunk", Chunk - 5, Chunk + 5},
		{"one whole chunk and ends", Chunk - 7, 2*Chunk + 9},
		{"from the start to a boundary", 0, 3 * Chunk},
		{"whole chunks and ends", 61, 4*Chunk + 17},
		{"to the end, past the last sum", 3, len(b)},
		{"the whole buffer", 0, len(b)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := crc32.Checksum(b[tc.lo:tc.hi], crc32.MakeTable(crc32.Castagnoli))
			if got := s.Range(b, tc.lo, tc.hi); got != want {
				t.Fatalf("Range(%d, %d) = %08x, want %08x", tc.lo, tc.hi, got, want)
			}
		})
	}
	// Every range over random bounds agrees with a direct checksum.
	for range 2000 {
		lo := r.IntN(len(b))
		hi := lo + r.IntN(len(b)-lo+1)
		if got, want := s.Range(b, lo, hi), Checksum(b[lo:hi]); got != want {
			t.Fatalf("Range(%d, %d) = %08x, want %08x", lo, hi, got, want)
		}
	}
}

// TestShift: shifting a CRC over Chunk bytes and adding the next chunk's
// CRC is the CRC of both, for random data, and mulModP/xPow8n agree with
// shifting one zero byte at a time.
func TestShift(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, c := make([]byte, 777), make([]byte, Chunk)
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	for i := range c {
		c[i] = byte(r.Uint32())
	}
	if got, want := shift(Checksum(a))^Checksum(c), Checksum(append(append([]byte(nil), a...), c...)); got != want {
		t.Fatalf("combined %08x, want %08x", got, want)
	}
	// Over zero bytes, CRC(A‖0ⁿ) = shift_n(CRC(A)) ^ CRC(0ⁿ).
	for _, n := range []int{1, 2, 3, 100, 4096} {
		zeros := make([]byte, n)
		want := Checksum(append(append([]byte(nil), a...), zeros...))
		if got := mulModP(xPow8n(n), Checksum(a)) ^ Checksum(zeros); got != want {
			t.Errorf("n=%d: %08x, want %08x", n, got, want)
		}
	}
}
