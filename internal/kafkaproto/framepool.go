package kafkaproto

import (
	"math/bits"
	"sync"
)

// BufferPool recycles frame buffers (the server's request frames, a
// gateway's backend responses): a fresh zeroed buffer for every request
// frame cost the Inbound listener about 8% of its CPU at 400 MB/s
// (bench/RESULTS.md). Buffers come in power-of-two classes so a small frame
// never pins a large buffer and a large one finds a buffer that fits; a
// frame above the largest class is allocated on its own. The zero value is
// ready to use.
type BufferPool struct {
	classes [frameClasses]sync.Pool
}

const (
	minFrameClass = 12 // 4 KiB: the smallest buffer pooled
	frameClasses  = 15 // up to 64 MiB
)

// Buffer is a frame's bytes and where they go back to.
type Buffer struct {
	B     []byte
	class int // -1: not pooled
}

// Get returns a buffer of exactly size bytes, not zeroed: the caller fills
// it all (io.ReadFull) before reading it.
func (p *BufferPool) Get(size int) *Buffer {
	class := frameClass(size)
	if class < 0 {
		return &Buffer{B: make([]byte, size), class: -1}
	}
	if fb, ok := p.classes[class].Get().(*Buffer); ok {
		fb.B = fb.B[:size]
		return fb
	}
	return &Buffer{B: make([]byte, size, 1<<(class+minFrameClass)), class: class}
}

// Put returns fb (nil: nothing) for reuse. Nothing may refer to its bytes
// any more: not what was decoded from it (kmsg keeps byte fields such as
// record batches as slices of the frame), not a Handler.
func (p *BufferPool) Put(fb *Buffer) {
	if fb == nil || fb.class < 0 {
		return
	}
	fb.B = fb.B[:0]
	p.classes[fb.class].Put(fb)
}

// frameClass is the index of the smallest class holding size bytes, or -1
// above the largest.
func frameClass(size int) int {
	if size <= 1<<minFrameClass {
		return 0
	}
	c := bits.Len(uint(size-1)) - minFrameClass
	if c >= frameClasses {
		return -1
	}
	return c
}
