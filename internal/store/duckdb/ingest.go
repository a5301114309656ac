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

// storedIDs returns which of ids table t holds: one scan of its keen.ids
// (the table has no index), so it is used only where the partitions'
// marks cannot tell (see splitBySource). Called with wmu held.
func (s *DuckStore) storedIDs(ctx context.Context, t *table, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = id
	}
	err := s.collect(ctx, `SELECT _id FROM `+t.name+` WHERE _id IN (SELECT unnest(?::VARCHAR[]))`, []any{list}, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		found[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: looking up keen.ids: %w", err)
	}
	return found, nil
}
