package duckdb

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-io/sluice/internal/store"
)

// Extractions running beside Inserts only ever follow pointers to JSON
// that is in the log: every event they see reads back whole, from the
// first Insert of a collection (which creates its table) on. Each round
// is a new collection, so table creation races the readers too.
func TestExtractionsBesideInsertsReadWholeEvents(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const rounds, inserts, readers = 20, 15, 3
	for r := 0; r < rounds; r++ {
		coll := fmt.Sprintf("c%d", r)
		var done atomic.Bool
		var wg sync.WaitGroup
		errs := make(chan error, readers+1)
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !done.Load() {
					res, err := s.Run(ctx, store.Query{Analysis: store.Extraction, ProjectID: "p", Collection: coll})
					if err != nil {
						errs <- err
						return
					}
					for _, ev := range res.Events {
						if len(ev) == 0 || ev[0] != '{' || ev[len(ev)-1] != '}' {
							errs <- fmt.Errorf("extracted %q", ev)
							return
						}
					}
				}
			}()
		}
		for i := range inserts {
			ev := store.Event{ProjectID: "p", Collection: coll, ID: fmt.Sprintf("%d-%d", r, i),
				JSON: []byte(fmt.Sprintf(`{"round":%d,"insert":%d,"pad":"%0*d"}`, r, i, 100+i*7, 0))}
			if _, err := s.Insert(ctx, []store.Event{ev}); err != nil {
				errs <- err
				break
			}
		}
		done.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}
