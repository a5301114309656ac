package duckdb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// reopenBatch is n events of collection c numbered from first, from one
// raw partition, so that the store's marks tell a batch processed again.
func reopenBatch(r *rand.Rand, c string, first, n int) []store.Event {
	evs := wordEvents(r, "p1", c, fmt.Sprintf("%s-%d-", c, first), n)
	for i := range evs {
		evs[i].Source = store.Source{Topic: "raw." + c, Partition: 0, Offset: int64(first + i)}
	}
	return evs
}

// The store reopens its database after reopenEvery events, between
// queries that keep running: nothing written is lost, no query fails,
// and a batch processed again after a reopen is known as processed.
func TestReopenBetweenQueries(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	s.reopenEvery = 1000
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 7))

	var stop atomic.Bool
	var queries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	q := store.Query{ProjectID: "p1", Collection: "c"}
	for _, query := range []func() error{
		func() error { _, err := s.Count(ctx, q); return err },
		func() error { rq := q; rq.Analysis = store.Count; _, err := s.Run(ctx, rq); return err },
		func() error { _, err := s.Extract(ctx, q); return err },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := query(); err != nil {
					errs <- err
					return
				}
				queries.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	const batch, batches = 250, 24
	var last []store.Event
	for i := range batches {
		last = reopenBatch(r, "c", i*batch, batch)
		res, err := s.Insert(ctx, last)
		if err != nil {
			t.Fatalf("Insert %d: %v", i, err)
		}
		if !sameResult(res, tally{Inserted: batch}) {
			t.Fatalf("Insert %d: %+v", i, tallyOf(res))
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a query during the reopens: %v", err)
	}
	s.wmu.Lock()
	reopens := s.reopens
	s.wmu.Unlock()
	// One per 1,000 events, or up to 500 later when queries kept running.
	if reopens < 6000/1500 {
		t.Errorf("%d reopens over %d events with reopenEvery 1000 (%d queries ran)", reopens, batch*batches, queries.Load())
	}
	if n, err := s.Count(ctx, q); err != nil || n != batch*batches {
		t.Errorf("count after %d reopens: %d, %v; want %d", reopens, n, err, batch*batches)
	}
	if evs, err := s.Extract(ctx, q); err != nil || len(evs) != batch*batches {
		t.Errorf("extraction after %d reopens: %d events, %v; want %d", reopens, len(evs), err, batch*batches)
	}
	res, err := s.Insert(ctx, last)
	if err != nil || !sameResult(res, tally{Existing: batch}) {
		t.Errorf("the last batch again after the reopens: %+v, %v; want all existing", tallyOf(res), err)
	}
	t.Logf("%d reopens, %d queries", reopens, queries.Load())
}

// A reopen that fails leaves the store without a database: queries say so,
// and the next Insert opens it again and goes on.
func TestReopenFailedThenRecovered(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 8))
	q := store.Query{ProjectID: "p1", Collection: "c"}
	if _, err := s.Insert(ctx, reopenBatch(r, "c", 0, 100)); err != nil {
		t.Fatal(err)
	}
	// A cancelled context fails the reopen once the old database is
	// closed: getting the new one's connections.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s.wmu.Lock()
	s.delMu.Lock()
	err := s.reopenLocked(cancelled)
	s.delMu.Unlock()
	s.wmu.Unlock()
	if err == nil {
		t.Fatal("a reopen with a cancelled context succeeded")
	}
	if _, err := s.Count(ctx, q); !errors.Is(err, errNoDatabase) {
		t.Errorf("count without a database: %v, want %v", err, errNoDatabase)
	}
	if _, err := s.MemoryBytes(ctx); !errors.Is(err, errNoDatabase) {
		t.Errorf("memory without a database: %v, want %v", err, errNoDatabase)
	}
	res, err := s.Insert(ctx, reopenBatch(r, "c", 100, 100))
	if err != nil || !sameResult(res, tally{Inserted: 100}) {
		t.Fatalf("the Insert after a failed reopen: %+v, %v", tallyOf(res), err)
	}
	if n, err := s.Count(ctx, q); err != nil || n != 200 {
		t.Errorf("count: %d, %v; want 200", n, err)
	}
	if err := s.ck.now(ctx); err != nil {
		t.Errorf("a checkpoint after the store opened its database again: %v", err)
	}
}

// The memory gauge does not wait for a Delete or a reopen holding the
// database: it answers an error (the gauge's -1) at once.
func TestMemoryBytesDoesNotWaitForTheDatabase(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	s.delMu.Lock()
	done := make(chan error, 1)
	go func() { _, err := s.MemoryBytes(context.Background()); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("MemoryBytes read the database while a reopen held it")
		}
	case <-time.After(5 * time.Second):
		t.Error("MemoryBytes waited for the database's holder")
	}
	s.delMu.Unlock()
	if n, err := s.MemoryBytes(context.Background()); err != nil || n < 0 {
		t.Errorf("MemoryBytes once free: %d, %v", n, err)
	}
}
