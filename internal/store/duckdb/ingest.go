package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"runtime"
	"sync"

	"github.com/sluice-io/sluice/internal/leaf"
)

// flattenChunk is the smallest share of a batch given to one flattening
// goroutine.
const flattenChunk = 256

// flattenAll flattens events in parallel (flattening is most of an
// Insert's Go-side cost, and it runs before the write lock is taken).
func flattenAll(events []store.Event) ([]flatEvent, error) {
	out := make([]flatEvent, len(events))
	workers := min(runtime.GOMAXPROCS(0), (len(events)+flattenChunk-1)/flattenChunk)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	per := (len(events) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(events))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f leaf.Flattener
			// The events' leaves share one growing slice (each event keeps
			// its own window of it) instead of growing one slice each.
			var leaves []leaf.Field
			sized := false
			for i := lo; i < hi; i++ {
				ev := &events[i]
				if ev.Leaves != nil {
					out[i] = flatEvent{ev: ev, fields: ev.Leaves, index: i}
					continue
				}
				start := len(leaves)
				var err error
				if leaves, err = f.Flatten(ev.JSON, ev.ValidUTF8, leaves); err != nil {
					errs[w] = fmt.Errorf("store: event %s: %w", ev.ID, err)
					return
				}
				out[i] = flatEvent{ev: ev, fields: leaves[start:len(leaves):len(leaves)], index: i}
				if !sized { // size the rest of the chunk on the first event flattened
					sized = true
					leaves = append(make([]leaf.Field, 0, len(leaves)*(hi-i)+16), leaves...)
					out[i].fields = leaves[start:len(leaves):len(leaves)]
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storedJSON returns the stored JSON of those of ids table t holds, by
// keen.id: one scan of its keen.ids (the table has no index), then a read
// of their JSON. It is used only for re-processed events and events the
// partitions' marks cannot tell about (see splitBySource). Called with wmu
// held.
func (s *DuckStore) storedJSON(ctx context.Context, t *table, ids []string) (map[string][]byte, error) {
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = id
	}
	var found []string
	var ptrs []jsonPtr
	err := s.collect(ctx, `SELECT _id, _off, _len FROM `+t.name+` WHERE _id IN (SELECT unnest(?::VARCHAR[]))`, []any{list}, func(r *sql.Rows) error {
		var id string
		var p jsonPtr
		if err := r.Scan(&id, &p.off, &p.n); err != nil {
			return err
		}
		found = append(found, id)
		ptrs = append(ptrs, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: looking up keen.ids: %w", err)
	}
	docs, err := t.log.read(ctx, ptrs)
	if err != nil {
		return nil, fmt.Errorf("store: reading back stored events: %w", err)
	}
	out := make(map[string][]byte, len(found))
	for i, id := range found {
		out[id] = docs[i]
	}
	return out, nil
}
