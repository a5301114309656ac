package kfake

// SLUICE: this file is sluice's addition to kfake (see SLUICE.md, change 4):
// the per-batch index of a sealed segment is kept in memory only while the
// segment is read, so that a partition's memory is its active segment's
// index plus a constant per sealed segment, however long the retention.

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// warmSealedSegments is how many sealed segments of a partition keep their
// index and read handle once read: two, so that a fetch crossing from one
// sealed segment into the next, or two consumers at different places, do
// not read a segment's index back on every request.
const warmSealedSegments = 2

// finRec is the offset of the batch's last record.
func (m *batchMeta) finRec() int64 { return m.firstOffset + int64(m.lastOffsetDelta) }

// appendMeta adds a batch at the end of the segment's index and summary.
func (si *segmentInfo) appendMeta(m batchMeta) {
	si.index = append(si.index, m)
	if si.n == 0 {
		si.first = m
		si.liveMaxTs, si.liveMinTs = m.maxTimestamp, m.maxTimestamp
	} else {
		si.liveMaxTs = max(si.liveMaxTs, m.maxTimestamp)
		si.liveMinTs = min(si.liveMinTs, m.maxTimestamp)
	}
	si.last = m
	si.n++
	si.liveBytes += int64(m.nbytes)
}

// summarize recomputes the segment's summary from its loaded index.
func (si *segmentInfo) summarize() {
	idx := si.index
	si.index, si.n, si.liveBytes = idx[:0], 0, 0
	si.first, si.last = batchMeta{}, batchMeta{}
	si.liveMaxTs, si.liveMinTs = 0, 0
	for _, m := range idx {
		si.appendMeta(m)
	}
}

// dropBelow removes the index entries of batches entirely below offset o.
func (si *segmentInfo) dropBelow(o int64) {
	k := 0
	for k < len(si.index) && si.index[k].finRec() < o {
		k++
	}
	if k > 0 {
		si.index = si.index[k:]
		si.summarize()
	}
}

// segIndex returns the index of segment si. The active (last) segment's is
// always in memory; a sealed segment's is read back from its files if it
// was evicted, and the segment becomes the most recently used warm one.
func (pd *partData) segIndex(si int) ([]batchMeta, error) {
	seg := &pd.segments[si]
	if si == len(pd.segments)-1 || seg.n == 0 {
		return seg.index, nil
	}
	if seg.index == nil {
		idx, err := pd.c.readSegIndex(pd, seg)
		if err != nil {
			return nil, fmt.Errorf("reading the index of %s-%d segment %d: %w", pd.t, pd.p, seg.base, err)
		}
		if len(idx) != seg.n || idx[0] != withRunning(seg.first, idx[0]) || idx[len(idx)-1] != withRunning(seg.last, idx[len(idx)-1]) {
			// trimLeft reads back the segment the log start offset
			// has just moved into, before trimming its summary;
			// anything else is a bug or a file changed under us.
			if seg.first.finRec() >= pd.logStartOffset {
				pd.c.cfg.logger.Logf(LogLevelError, "partition %s-%d segment %d: index read back has %d batches, %d expected; using the file's",
					pd.t, pd.p, seg.base, len(idx), seg.n)
			}
			seg.index = idx
			seg.summarize()
			pd.rebuildMaxTimestampMeta()
		} else {
			seg.index = idx
			seen, have := pd.runningMaxBefore(si)
			for i := range idx {
				if !have || idx[i].maxTimestamp > seen {
					seen = idx[i].maxTimestamp
				}
				have = true
				idx[i].maxEarlierTimestamp = seen
			}
		}
	}
	pd.touchWarm(seg.base)
	return seg.index, nil
}

// withRunning is m with the running max timestamp of like, the one field of
// an index entry that is not read back from the files as such.
func withRunning(m, like batchMeta) batchMeta {
	m.maxEarlierTimestamp = like.maxEarlierTimestamp
	return m
}

// runningMaxBefore is the max of the batches' max timestamps over every
// segment before si (have == false if they hold no batch).
func (pd *partData) runningMaxBefore(si int) (seen int64, have bool) {
	for j := range si {
		if s := &pd.segments[j]; s.n > 0 {
			if !have || s.liveMaxTs > seen {
				seen = s.liveMaxTs
			}
			have = true
		}
	}
	return seen, have
}

// metaAt is the index entry of batch mi of segment si, without reading the
// segment's index back when it is the segment's first or last batch.
func (pd *partData) metaAt(si, mi int) (*batchMeta, error) {
	seg := &pd.segments[si]
	switch {
	case seg.index != nil:
		return &seg.index[mi], nil
	case mi == 0:
		return &seg.first, nil
	case mi == seg.n-1:
		return &seg.last, nil
	}
	idx, err := pd.segIndex(si)
	if err != nil {
		return nil, err
	}
	return &idx[mi], nil
}

// touchWarm makes the sealed segment at base the most recently used warm
// one, and evicts the least recently used beyond warmSealedSegments.
func (pd *partData) touchWarm(base int64) {
	if i := slices.Index(pd.warm, base); i >= 0 {
		if i == len(pd.warm)-1 {
			return
		}
		pd.warm = slices.Delete(pd.warm, i, i+1)
	}
	pd.warm = append(pd.warm, base)
	for len(pd.warm) > warmSealedSegments {
		pd.cool(pd.warm[0])
		pd.warm = slices.Delete(pd.warm, 0, 1)
	}
}

// cool evicts a sealed segment's index and closes its read handle; its
// summary stays.
func (pd *partData) cool(base int64) {
	if pd.c.cfg.keepSealedIndexes {
		return
	}
	i, ok := slices.BinarySearchFunc(pd.segments, base, func(s segmentInfo, b int64) int { return cmp.Compare(s.base, b) })
	if !ok || i == len(pd.segments)-1 {
		return
	}
	seg := &pd.segments[i]
	seg.index = nil
	if seg.readFile != nil {
		seg.readFile.Close()
		seg.readFile = nil
	}
}

// coolSealed evicts the index of every sealed segment, once a partition is
// loaded or rebuilt; each summary must be up to date.
func (pd *partData) coolSealed() {
	pd.warm = pd.warm[:0]
	for i := range len(pd.segments) - 1 {
		pd.cool(pd.segments[i].base)
	}
}

// evictLoaded evicts the index of segment si, loaded at start and followed
// by another segment file: holding every segment's index until the
// partition is loaded would take the memory eviction saves.
func (pd *partData) evictLoaded(si int) {
	if !pd.c.cfg.keepSealedIndexes {
		pd.segments[si].index = nil
	}
}

// loadActiveIndex reads back the last segment's index if loading evicted
// it: the segment files after it held no batch (a torn tail).
func (pd *partData) loadActiveIndex() error {
	n := len(pd.segments)
	if n == 0 {
		return nil
	}
	seg := &pd.segments[n-1]
	if seg.index != nil || seg.n == 0 {
		return nil
	}
	idx, err := pd.c.readSegIndex(pd, seg)
	if err != nil {
		return fmt.Errorf("reading the index of %s-%d segment %d: %w", pd.t, pd.p, seg.base, err)
	}
	seg.index = idx
	seg.summarize()
	return nil
}

// forgetRemovedWarm drops warm entries of segments no longer in the log.
func (pd *partData) forgetRemovedWarm() {
	pd.warm = slices.DeleteFunc(pd.warm, func(b int64) bool {
		_, ok := slices.BinarySearchFunc(pd.segments, b, func(s segmentInfo, b int64) int { return cmp.Compare(s.base, b) })
		return !ok
	})
}

// readSegIndex reads a sealed segment's index back: each batch's header from
// the segment file (read through, skipping the records) and its epoch and
// transactional flag from the index file. Batches below the log start
// offset are left out, as trimLeft left them out of the live index. The
// files were checked when the log was loaded or written by this process, so
// the records' CRCs are not checked again. The segment keeps the read handle
// for the fetches that follow.
func (c *Cluster) readSegIndex(pd *partData, seg *segmentInfo) ([]batchMeta, error) {
	pdir := partDir(c.storageDir, pd.t, pd.p)
	idxRaw, err := c.fs.ReadFile(filepath.Join(pdir, indexFileName(seg.base)))
	if err != nil {
		return nil, err
	}
	f := seg.readFile
	if f == nil {
		if f, err = c.fs.OpenFile(filepath.Join(pdir, segmentFileName(seg.base)), os.O_RDONLY, 0); err != nil {
			return nil, err
		}
		seg.readFile = f
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 256<<10)
	idx := make([]batchMeta, 0, seg.n)
	var hdr [batchHeaderSize]byte
	var pos int64
	for i := 0; ; i++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("batch header at byte %d: %w", pos, err)
		}
		length := int64(int32(binary.BigEndian.Uint32(hdr[8:12])))
		size := 12 + length
		if size < batchHeaderSize {
			return nil, fmt.Errorf("batch at byte %d: length %d", pos, length)
		}
		off := i * indexEntrySize
		if off+indexEntrySize > len(idxRaw) {
			// A batch without its index entry was never
			// acknowledged (see loadSegmentBatches).
			break
		}
		epoch, _, inTx, ok := decodeIndexEntry(idxRaw[off : off+indexEntrySize])
		if !ok {
			return nil, fmt.Errorf("index entry %d: bad checksum", i)
		}
		m := batchMeta{
			firstOffset:     int64(binary.BigEndian.Uint64(hdr[0:8])),
			segPos:          pos,
			lastOffsetDelta: int32(binary.BigEndian.Uint32(hdr[23:27])),
			firstTimestamp:  int64(binary.BigEndian.Uint64(hdr[27:35])),
			maxTimestamp:    int64(binary.BigEndian.Uint64(hdr[35:43])),
			producerID:      int64(binary.BigEndian.Uint64(hdr[43:51])),
			numRecords:      int32(binary.BigEndian.Uint32(hdr[57:61])),
			nbytes:          int32(size),
			epoch:           epoch,
			inTx:            inTx,
		}
		if m.finRec() >= pd.logStartOffset {
			idx = append(idx, m)
		}
		if _, err := br.Discard(int(size - batchHeaderSize)); err != nil {
			return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		pos += size
	}
	return idx, nil
}
