package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// flattenChunk is the smallest share of a batch given to one flattening
// goroutine.
const flattenChunk = 256

// flattenAll flattens events in parallel (flattening is most of an
// Insert's Go-side cost, and it runs before the write lock is taken).
func flattenAll(events []Event) ([]flatEvent, error) {
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
			var f flattener
			for i := lo; i < hi; i++ {
				ev := &events[i]
				fields, err := f.flatten(ev.JSON, nil)
				if err != nil {
					errs[w] = fmt.Errorf("store: event %s: %w", ev.ID, err)
					return
				}
				out[i] = flatEvent{ev, fields}
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

// storedIDs returns which of evs' keen.ids table t holds. Most ids are
// new, and t's id filter says so without a query; the others (re-processed
// events and the filter's false positives) are looked up through the
// primary key. Called with wmu held.
func (s *DuckStore) storedIDs(ctx context.Context, t *table, evs []flatEvent) (map[string]bool, error) {
	if t.ids == nil {
		if err := s.loadIDs(ctx, t); err != nil {
			return nil, err
		}
	}
	var maybe []string
	for _, fe := range evs {
		if t.ids.mayContain(fe.ev.ID) {
			maybe = append(maybe, fe.ev.ID)
		}
	}
	existing := map[string]bool{}
	for len(maybe) > 0 {
		chunk := maybe[:min(len(maybe), idFetchMax)]
		maybe = maybe[len(chunk):]
		// Literals, not parameters: DuckDB then plans an index lookup.
		q := `SELECT _id FROM ` + t.name + ` WHERE _id IN (` + sqlStrings(chunk) + `)`
		if err := s.collect(ctx, q, nil, func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			existing[id] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: looking up keen.ids: %w", err)
		}
	}
	return existing, nil
}

// loadIDs builds t's id filter from the keen.ids the table holds.
func (s *DuckStore) loadIDs(ctx context.Context, t *table) error {
	var n int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
		return fmt.Errorf("store: reading the keen.ids of %s: %w", t.name, err)
	}
	f := newIDFilter(n)
	if err := s.collect(ctx, `SELECT _id FROM `+t.name, nil, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		f.add(id)
		return nil
	}); err != nil {
		return fmt.Errorf("store: reading the keen.ids of %s: %w", t.name, err)
	}
	t.ids = f
	return nil
}

// sqlStrings returns ss as a comma-separated list of SQL string literals.
func sqlStrings(ss []string) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + strings.ReplaceAll(s, "'", "''") + "'")
	}
	return b.String()
}
