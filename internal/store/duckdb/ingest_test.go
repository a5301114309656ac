package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/sluice-io/sluice/internal/leaf"
)

// A reopened store knows what is on disk: re-processing after a restart
// stores nothing twice (events without a Source: looked up by keen.id).
func TestIdempotentAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	evs := genEvents(rand.New(rand.NewPCG(7, 7)), 600, "r")
	s := openTest(t, dir)
	if res, err := s.Insert(ctx, evs[:400]); err != nil || res.Count(store.Stored) != 400 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	res, err := s.Insert(ctx, evs[300:])
	if err != nil || !sameResult(res, tally{Inserted: 200, Existing: 100}) {
		t.Fatalf("after reopen: %+v %v", res, err)
	}
	var total int64
	for _, p := range genProjects {
		for _, c := range genColls {
			n, err := s.Count(ctx, store.Query{ProjectID: p, Collection: c})
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

// Large batches in several collections, re-inserted whole: every event is
// found, none stored twice.
func TestLargeBatchesAcrossCollections(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 8))
	var all []store.Event
	for c := 0; c < 3; c++ {
		all = append(all, benchEvents(r, "p1", fmt.Sprintf("coll%d", c), fmt.Sprintf("c%d-", c), 7000)...)
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	first, second := all[:15000], all[15000:]
	if res, err := s.Insert(ctx, first); err != nil || res.Count(store.Stored) != len(first) {
		t.Fatalf("%+v %v", res, err)
	}
	// The whole set again: the first part is re-processing.
	res, err := s.Insert(ctx, slices.Concat(second, first))
	if err != nil || !sameResult(res, tally{Inserted: len(second), Existing: len(first)}) {
		t.Fatalf("%+v %v", res, err)
	}
	for c := 0; c < 3; c++ {
		n, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: fmt.Sprintf("coll%d", c)})
		if err != nil || n != 7000 {
			t.Fatalf("coll%d: %d events, %v", c, n, err)
		}
	}
}

// A table written by an earlier version (JSON in a _raw column, keen.id
// a primary key) is rewritten on open: its JSON moves to the table's log,
// and it keeps answering and taking new events.
func TestLegacyTableMovesItsJSONToALog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	evs := benchEvents(rand.New(rand.NewPCG(9, 9)), "p1", "legacy", "l-", 20)
	s := openTest(t, dir)
	// The table as earlier versions created and filled it (the catalog is
	// read on Open).
	for _, q := range []string{
		`CREATE TABLE t1 (_id VARCHAR PRIMARY KEY, _ts TIMESTAMP, _created TIMESTAMP, _raw VARCHAR, c1 VARCHAR)`,
		`INSERT INTO _collections VALUES ('p1', 'legacy', 't1')`,
		`INSERT INTO _columns VALUES ('t1', '` + leaf.Key("country", leaf.String) + `', 'c1')`,
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	wantFrance := 0
	for _, ev := range evs[:10] {
		var doc struct{ Country string }
		if err := json.Unmarshal(ev.JSON, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Country == "France" {
			wantFrance++
		}
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO t1 VALUES (?, ?, ?, ?, ?)`, ev.ID, ev.Timestamp, ev.CreatedAt, string(ev.JSON), doc.Country); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s = openTest(t, dir)
	for _, c := range []struct {
		col  string
		want bool
	}{{"_raw", false}, {"_off", true}, {"_len", true}, {"c1", true}} {
		if has, err := s.hasColumn(ctx, "t1", c.col); err != nil || has != c.want {
			t.Fatalf("after the move, t1 has %s: %v (%v), want %v", c.col, has, err, c.want)
		}
	}
	var keys int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_constraints() WHERE table_name = 't1'`).Scan(&keys); err != nil || keys != 0 {
		t.Fatalf("t1 has %d constraints (%v), want none", keys, err)
	}
	if n, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: "legacy", Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}); err != nil || n != int64(wantFrance) {
		t.Fatalf("count country = France: %d (%v), want %d", n, err, wantFrance)
	}
	// The first 10 again (without a Source: looked up by keen.id) and 10
	// new ones.
	if res, err := s.Insert(ctx, evs); err != nil || !sameResult(res, tally{Inserted: 10, Existing: 10}) {
		t.Fatalf("%+v %v", res, err)
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	extractsExactly(t, s, "p1", "legacy", evs)
	lines, err := os.ReadFile(s.logPath("t1"))
	if err != nil || bytes.Count(lines, []byte("\n")) != 20 {
		t.Fatalf("the log holds %d lines (%v), want 20", bytes.Count(lines, []byte("\n")), err)
	}
}

// extractsExactly checks that extraction returns each of evs exactly once,
// byte for byte, and nothing else.
func extractsExactly(t *testing.T, s *DuckStore, project, collection string, evs []store.Event) {
	t.Helper()
	got, err := s.Extract(context.Background(), store.Query{ProjectID: project, Collection: collection})
	if err != nil || len(got) != len(evs) {
		t.Fatalf("extracted %d events (%v), want %d", len(got), err, len(evs))
	}
	want := map[string]bool{}
	for _, ev := range evs {
		want[string(ev.JSON)] = true
	}
	for _, g := range got {
		if !want[string(g)] {
			t.Fatalf("extracted %.100s…, not an inserted event or returned twice", g)
		}
		delete(want, string(g))
	}
}

func (s *DuckStore) hasColumn(ctx context.Context, tbl, col string) (bool, error) {
	var n int
	err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?`, tbl, col).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: reading the columns of %s: %w", tbl, err)
	}
	return n > 0, nil
}
