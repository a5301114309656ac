package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A reopened store knows what is on disk: re-processing after a restart
// stores nothing twice (the id filter is rebuilt from the tables, not
// remembered).
func TestIdempotentAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	evs := genEvents(rand.New(rand.NewPCG(7, 7)), 600, "r")
	s := openTest(t, dir)
	if res, err := s.Insert(ctx, evs[:400]); err != nil || res.Inserted != 400 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	res, err := s.Insert(ctx, evs[300:])
	if err != nil || res != (InsertResult{Inserted: 200, Existing: 100}) {
		t.Fatalf("after reopen: %+v %v", res, err)
	}
	var total int64
	for _, p := range genProjects {
		for _, c := range genColls {
			n, err := s.Count(ctx, Query{ProjectID: p, Collection: c})
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	if total != 600 {
		t.Fatalf("%d events stored, want 600", total)
	}
}

// Batches larger than the id filter's first part and than one id lookup
// (idFetchMax), in several collections, re-inserted whole: every event is
// found, none stored twice.
func TestLargeBatchesAcrossCollections(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 8))
	var all []Event
	for c := 0; c < 3; c++ {
		all = append(all, benchEvents(r, "p1", fmt.Sprintf("coll%d", c), fmt.Sprintf("c%d-", c), 7000)...)
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	first, second := all[:15000], all[15000:]
	if res, err := s.Insert(ctx, first); err != nil || res.Inserted != len(first) {
		t.Fatalf("%+v %v", res, err)
	}
	// The whole set again: the first part is re-processing.
	res, err := s.Insert(ctx, slices.Concat(second, first))
	if err != nil || res != (InsertResult{Inserted: len(second), Existing: len(first)}) {
		t.Fatalf("%+v %v", res, err)
	}
	for c := 0; c < 3; c++ {
		n, err := s.Count(ctx, Query{ProjectID: "p1", Collection: fmt.Sprintf("coll%d", c)})
		if err != nil || n != 7000 {
			t.Fatalf("coll%d: %d events, %v", c, n, err)
		}
	}
}
