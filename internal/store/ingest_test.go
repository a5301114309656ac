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

// Tables created before _raw became a BLOB hold it as VARCHAR: they take
// new events and return old and new alike.
func TestLegacyVarcharRaw(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, dir)
	// The table as the store created it before (the catalog is read on
	// Open).
	for _, q := range []string{
		`CREATE TABLE t1 (_id VARCHAR PRIMARY KEY, _ts TIMESTAMP, _created TIMESTAMP, _raw VARCHAR)`,
		`INSERT INTO _collections VALUES ('p1', 'legacy', 't1')`,
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	evs := benchEvents(rand.New(rand.NewPCG(9, 9)), "p1", "legacy", "l-", 20)
	if res, err := s.Insert(ctx, evs[:10]); err != nil || res.Inserted != 10 {
		t.Fatalf("%+v %v", res, err)
	}
	if res, err := s.Insert(ctx, evs); err != nil || res != (InsertResult{Inserted: 10, Existing: 10}) {
		t.Fatalf("%+v %v", res, err)
	}
	var typ string
	if err := s.conn.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns WHERE table_name = 't1' AND column_name = '_raw'`).Scan(&typ); err != nil || typ != "VARCHAR" {
		t.Fatalf("_raw is %q (%v), want the legacy VARCHAR", typ, err)
	}
	got, err := s.Extract(ctx, Query{ProjectID: "p1", Collection: "legacy"})
	if err != nil || len(got) != 20 {
		t.Fatalf("%d events, %v", len(got), err)
	}
	want := map[string]bool{}
	for _, ev := range evs {
		want[string(ev.JSON)] = true
	}
	for _, g := range got {
		if !want[string(g)] {
			t.Fatalf("extracted %.100s…, not an inserted event", g)
		}
	}
}
