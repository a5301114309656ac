package kafkaproto

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func TestFrameClass(t *testing.T) {
	for _, tc := range []struct{ size, class int }{
		{0, 0}, {1, 0}, {4096, 0}, {4097, 1}, {8192, 1}, {8193, 2},
		{1 << 20, 8}, {1<<26 - 1, 14}, {1 << 26, 14}, {1<<26 + 1, -1}, {100 << 20, -1},
	} {
		if got := frameClass(tc.size); got != tc.class {
			t.Errorf("frameClass(%d) = %d, want %d", tc.size, got, tc.class)
		}
	}
}

// A buffer is exactly the size asked for, whatever it held before, and an
// oversize frame is not pooled.
func TestFramePool(t *testing.T) {
	var p BufferPool
	for _, size := range []int{0, 10, 4096, 5000, 70000, 5000, 10, 1<<26 + 1} {
		fb := p.Get(size)
		if len(fb.B) != size {
			t.Fatalf("get(%d): %d bytes", size, len(fb.B))
		}
		if c := frameClass(size); c >= 0 && cap(fb.B) != 1<<(c+minFrameClass) {
			t.Fatalf("get(%d): capacity %d, class %d", size, cap(fb.B), c)
		}
		if size > 1<<26 && fb.class != -1 {
			t.Fatalf("get(%d): pooled class %d", size, fb.class)
		}
		p.Put(fb)
	}
	p.Put(nil)
}

// BenchmarkReadFrame is reading one request frame: into a new zeroed
// buffer each time (alloc, the old way) or into a pooled one (pool).
// go test -run '^$' -bench ReadFrame -benchmem -count 6 ./internal/kafkaproto
func BenchmarkReadFrame(b *testing.B) {
	for _, size := range []int{16 << 10, 256 << 10, 1 << 20} {
		src := make([]byte, size)
		for _, way := range []string{"alloc", "pool"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, way), func(b *testing.B) {
				var p BufferPool
				r := bytes.NewReader(src)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					r.Reset(src)
					if way == "alloc" {
						frame := make([]byte, size)
						if _, err := io.ReadFull(r, frame); err != nil {
							b.Fatal(err)
						}
						continue
					}
					fb := p.Get(size)
					if _, err := io.ReadFull(r, fb.B); err != nil {
						b.Fatal(err)
					}
					p.Put(fb)
				}
			})
		}
	}
}
