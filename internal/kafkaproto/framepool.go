package kafkaproto

import (
	"math/bits"
	"sync"
)

// framePool recycles request frame buffers: a fresh zeroed buffer for
// every request frame cost the Inbound listener about 8% of its CPU at
// 400 MB/s (bench/RESULTS.md). Buffers come in power-of-two classes so a
// small request never pins a large buffer and a large one finds a buffer
// that fits; a frame above the largest class is allocated on its own.
type framePool struct {
	classes [frameClasses]sync.Pool
}

const (
	minFrameClass = 12 // 4 KiB: the smallest buffer pooled
	frameClasses  = 15 // up to 64 MiB
)

// frameBuf is a request frame and where it goes back to.
type frameBuf struct {
	b     []byte
	class int // -1: not pooled
}

// get returns a buffer of exactly size bytes, not zeroed: the caller fills
// it all (io.ReadFull) before reading it.
func (p *framePool) get(size int) *frameBuf {
	class := frameClass(size)
	if class < 0 {
		return &frameBuf{b: make([]byte, size), class: -1}
	}
	if fb, ok := p.classes[class].Get().(*frameBuf); ok {
		fb.b = fb.b[:size]
		return fb
	}
	return &frameBuf{b: make([]byte, size, 1<<(class+minFrameClass)), class: class}
}

// put returns fb for reuse. Nothing may refer to its bytes any more: not
// the decoded request (kmsg keeps byte fields such as record batches as
// slices of the frame), not a Handler.
func (p *framePool) put(fb *frameBuf) {
	if fb == nil || fb.class < 0 {
		return
	}
	fb.b = fb.b[:0]
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
