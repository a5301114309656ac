package duckdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// jsonDir is where the tables' JSON logs live, inside the store's
// directory.
const jsonDir = "json"

// jsonLog holds the stored JSON of one table: an append-only file of the
// events' JSON, one per line (JSON Lines), each row of the table pointing
// at its bytes (_off, _len). The JSON is most of an event's bytes and is
// only ever read back whole, by extraction: kept in DuckDB it was written
// to the WAL, then compressed and rewritten by every checkpoint, which cost
// more than everything else an Insert does.
//
// Crash safety: an Insert writes its JSON at the end of the file and syncs
// it before DuckDB commits the rows that point at it. Bytes past the end
// the committed rows point at (an Insert that failed or was cut short by a
// crash) are cut off when the store opens, so the file holds exactly the
// stored events.
type jsonLog struct {
	f    *os.File
	path string
	// end is where the next Insert writes; guarded by the store's wmu.
	// Readers never need it: they only follow committed pointers.
	end int64
	// Reads: a gap of up to readGap bytes between two wanted events is
	// read through rather than skipped with a second read, up to readMax
	// bytes per read.
	readGap, readMax int64
}

// openJSONLog opens (creating if needed) the log at path and cuts it to
// end, the end of what the table's committed rows point at.
func openJSONLog(path string, end int64) (*jsonLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	if st.Size() < end {
		f.Close()
		return nil, fmt.Errorf("store: %s holds %d bytes but the table points at %d: the file was truncated or replaced", path, st.Size(), end)
	}
	if st.Size() > end {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: cutting %s back to its committed end: %w", path, err)
		}
	}
	return &jsonLog{f: f, path: path, end: end, readGap: 8 << 10, readMax: 4 << 20}, nil
}

// appendBatch writes buf at the end.
// Called with the store's wmu held.
func (l *jsonLog) appendBatch(buf []byte) error {
	if _, err := l.f.WriteAt(buf, l.end); err != nil {
		return fmt.Errorf("store: writing to %s: %w", l.path, err)
	}
	l.end += int64(len(buf))
	return nil
}

// rewind forgets what was written after end (an Insert that failed).
func (l *jsonLog) rewind(end int64) error {
	l.end = end
	if err := l.f.Truncate(end); err != nil {
		return fmt.Errorf("store: cutting %s back after a failed insert: %w", l.path, err)
	}
	return nil
}

func (l *jsonLog) sync() error {
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("store: syncing %s: %w", l.path, err)
	}
	return nil
}

func (l *jsonLog) close() error { return l.f.Close() }

// jsonPtr locates one event's JSON in a log.
type jsonPtr struct {
	off int64
	n   int32
}

// read returns the JSON at each pointer, in the pointers' order. Pointers
// are read in file order, neighbours with one read.
func (l *jsonLog) read(ctx context.Context, ptrs []jsonPtr) ([][]byte, error) {
	out := make([][]byte, len(ptrs))
	order := make([]int, len(ptrs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ptrs[a].off, ptrs[b].off) })
	for start := 0; start < len(order); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// One read covers order[start:stop].
		lo := ptrs[order[start]].off
		hi := lo + int64(ptrs[order[start]].n)
		stop := start + 1
		for ; stop < len(order); stop++ {
			p := ptrs[order[stop]]
			if p.off-hi > l.readGap || p.off+int64(p.n)-lo > l.readMax {
				break
			}
			hi = max(hi, p.off+int64(p.n))
		}
		buf := make([]byte, hi-lo)
		if _, err := l.f.ReadAt(buf, lo); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
			var size int64
			if fi, serr := l.f.Stat(); serr == nil {
				size = fi.Size()
			}
			return nil, fmt.Errorf("store: reading bytes %d to %d of %s (%d bytes): %w", lo, hi, l.path, size, err)
		}
		for _, i := range order[start:stop] {
			p := ptrs[i]
			out[i] = buf[p.off-lo : p.off-lo+int64(p.n) : p.off-lo+int64(p.n)]
		}
		start = stop
	}
	return out, nil
}

// blankChunk bounds one write of blank.
const blankChunk = 1 << 20

// blank overwrites the JSON at ptrs with spaces and syncs: events no row
// points at any more (deleted, or rewritten elsewhere). Neighbouring events
// are blanked with one write, the newlines between them included.
func (l *jsonLog) blank(ptrs []jsonPtr) error {
	sorted := slices.Clone(ptrs)
	slices.SortFunc(sorted, func(a, b jsonPtr) int { return cmp.Compare(a.off, b.off) })
	spaces := make([]byte, blankChunk)
	for i := range spaces {
		spaces[i] = ' '
	}
	write := func(lo, hi int64) error {
		for lo < hi {
			n := min(hi-lo, blankChunk)
			if _, err := l.f.WriteAt(spaces[:n], lo); err != nil {
				return fmt.Errorf("store: blanking deleted events in %s: %w", l.path, err)
			}
			lo += n
		}
		return nil
	}
	lo, hi := sorted[0].off, sorted[0].off+int64(sorted[0].n)
	for _, p := range sorted[1:] {
		if p.off <= hi+1 {
			hi = max(hi, p.off+int64(p.n))
			continue
		}
		if err := write(lo, hi); err != nil {
			return err
		}
		lo, hi = p.off, p.off+int64(p.n)
	}
	if err := write(lo, hi); err != nil {
		return err
	}
	return l.sync()
}
