package store

import (
	"hash/maphash"
	"math/bits"
)

// idFilter answers "may this keen.id be stored already?" for one table
// without reading it: a scalable Bloom filter over every keen.id the table
// holds, built from the table itself when the store first writes to it
// (so it covers what is on disk, not only what this process wrote) and
// kept up to date by Insert. "No" is certain; "maybe" (re-processing, or
// a false positive about 1% of the time) is checked against the table's
// primary key. It replaces a lookup of a whole batch's ids, whose cost grew
// with the table.
type idFilter struct {
	seed  maphash.Seed
	parts []*bloom // each new part twice the size of the previous one
}

// bloom is a fixed-size Bloom filter: idBloomHashes bits per id in a
// bit set of idBloomBits bits per id of its capacity.
type bloom struct {
	bits     []uint64
	mask     uint64 // len(bits)*64 - 1 (a power of two)
	capacity int
	n        int
}

const (
	idBloomBits     = 10 // bits per id: ~1% false positives with 7 hashes
	idBloomHashes   = 7
	idFilterMinSize = 1 << 14
)

func newIDFilter(expected int) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	f.grow(max(expected*2, idFilterMinSize))
	return f
}

func (f *idFilter) grow(capacity int) {
	nbits := uint64(1) << bits.Len64(uint64(capacity*idBloomBits-1)) // rounded up to a power of two
	f.parts = append(f.parts, &bloom{bits: make([]uint64, max(nbits/64, 1)), mask: max(nbits, 64) - 1, capacity: capacity})
}

// positions derives the filter's bit positions from one 64-bit hash
// (double hashing, Kirsch–Mitzenmacher).
func positions(h uint64, fn func(uint64) bool) bool {
	h1, h2 := h, (h>>32)|(h<<32)|1
	for i := uint64(0); i < idBloomHashes; i++ {
		if !fn(h1 + i*h2) {
			return false
		}
	}
	return true
}

func (b *bloom) has(h uint64) bool {
	return positions(h, func(p uint64) bool {
		p &= b.mask
		return b.bits[p/64]&(1<<(p%64)) != 0
	})
}

func (b *bloom) add(h uint64) {
	positions(h, func(p uint64) bool {
		p &= b.mask
		b.bits[p/64] |= 1 << (p % 64)
		return true
	})
	b.n++
}

// add records id.
func (f *idFilter) add(id string) {
	last := f.parts[len(f.parts)-1]
	if last.n >= last.capacity {
		f.grow(last.capacity * 2)
		last = f.parts[len(f.parts)-1]
	}
	last.add(maphash.String(f.seed, id))
}

// mayContain reports whether id may have been added; false is certain.
func (f *idFilter) mayContain(id string) bool {
	h := maphash.String(f.seed, id)
	for _, b := range f.parts {
		if b.has(h) {
			return true
		}
	}
	return false
}
