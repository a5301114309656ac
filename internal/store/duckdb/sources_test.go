package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

func TestSplitBySource(t *testing.T) {
	ev := func(topic string, part int32, off int64) flatEvent {
		return flatEvent{ev: &store.Event{ID: fmt.Sprintf("%s/%d/%d", topic, part, off), Source: store.Source{Topic: topic, Partition: part, Offset: off}}}
	}
	marks := map[srcKey]int64{{"a", 0}: 10, {"a", 1}: 0}
	for _, c := range []struct {
		name       string
		evs        []flatEvent
		wantStored []bool
		wantLookup []int
		wantNext   map[srcKey]int64
	}{
		{"below the mark: stored; at or above: new",
			[]flatEvent{ev("a", 0, 8), ev("a", 0, 9), ev("a", 0, 10), ev("a", 0, 11)},
			[]bool{true, true, false, false}, nil, map[srcKey]int64{{"a", 0}: 12}},
		{"a mark of 0 is known: nothing stored yet",
			[]flatEvent{ev("a", 1, 0), ev("a", 1, 1)},
			[]bool{false, false}, nil, map[srcKey]int64{{"a", 1}: 2}},
		{"any order within a batch",
			[]flatEvent{ev("a", 0, 12), ev("a", 0, 9), ev("a", 0, 11)},
			[]bool{false, true, false}, nil, map[srcKey]int64{{"a", 0}: 13}},
		{"all below: the mark stays",
			[]flatEvent{ev("a", 0, 3)},
			[]bool{true}, nil, map[srcKey]int64{{"a", 0}: 10}},
		{"an unknown partition and no source: looked up",
			[]flatEvent{ev("b", 0, 5), {ev: &store.Event{ID: "x"}}, ev("a", 0, 10)},
			[]bool{false, false, false}, []int{0, 1}, map[srcKey]int64{{"b", 0}: 6, {"a", 0}: 11}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stored, lookup, next := splitBySource(c.evs, func(k srcKey) (int64, bool) { m, ok := marks[k]; return m, ok })
			if !slices.Equal(stored, c.wantStored) || !slices.Equal(lookup, c.wantLookup) || !maps.Equal(next, c.wantNext) {
				t.Fatalf("got %v %v %v, want %v %v %v", stored, lookup, next, c.wantStored, c.wantLookup, c.wantNext)
			}
		})
	}
}

// sourced gives events positions in two partitions of a raw topic, in
// order, as a consumer reads them.
func sourced(evs []store.Event, topic string) []store.Event {
	for i := range evs {
		evs[i].Source = store.Source{Topic: topic, Partition: int32(i % 2), Offset: int64(i / 2)}
	}
	return evs
}

// Re-processing with positions: the marks tell, across a reopen; a
// rolled-back position is not taken for stored.
func TestIdempotentBySource(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	evs := sourced(benchEvents(rand.New(rand.NewPCG(4, 4)), "p1", "clicks", "s-", 600), "raw.clicks")
	s := openTest(t, dir)
	if res, err := s.Insert(ctx, evs[:300]); err != nil || res.Count(store.Stored) != 300 {
		t.Fatalf("%+v %v", res, err)
	}
	// A consumer rewound to an earlier offset reads part of it again.
	if res, err := s.Insert(ctx, evs[200:400]); err != nil || !sameResult(res, tally{Inserted: 100, Existing: 100}) {
		t.Fatalf("rewound: %+v %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	if res, err := s.Insert(ctx, evs[100:]); err != nil || !sameResult(res, tally{Inserted: 200, Existing: 300}) {
		t.Fatalf("after reopen: %+v %v", res, err)
	}
	// A failed Insert (malformed JSON in its last event) moves no mark.
	more := sourced(benchEvents(rand.New(rand.NewPCG(5, 5)), "p1", "clicks", "m-", 20), "raw.more")
	bad := slices.Clone(more)
	bad[19].JSON = []byte(`{"broken":`)
	if _, err := s.Insert(ctx, bad); err == nil {
		t.Fatal("a malformed event was stored")
	}
	if res, err := s.Insert(ctx, more); err != nil || res.Count(store.Stored) != 20 {
		t.Fatalf("after a failed insert: %+v %v", res, err)
	}
	if n, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: "clicks"}); err != nil || n != 620 {
		t.Fatalf("%d stored (%v), want 620", n, err)
	}
}

// Bytes past the committed end of a log (a crash between writing the JSON
// and committing) are cut off on open; the next events go after the
// committed ones.
func TestJSONLogCutToCommittedEnd(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	evs := sourced(benchEvents(rand.New(rand.NewPCG(6, 6)), "p1", "views", "v-", 40), "raw.views")
	s := openTest(t, dir)
	if _, err := s.Insert(ctx, evs[:20]); err != nil {
		t.Fatal(err)
	}
	path := s.logPath("t1")
	s.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"an uncommitted event":`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s = openTest(t, dir)
	defer s.Close()
	if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
		t.Fatalf("the log was not cut back to its committed %d bytes: %d (%v)", len(before), len(after), err)
	}
	if res, err := s.Insert(ctx, evs); err != nil || !sameResult(res, tally{Inserted: 20, Existing: 20}) {
		t.Fatalf("%+v %v", res, err)
	}
	extractsExactly(t, s, "p1", "views", evs)
}

// Reads return each pointer's bytes in the pointers' order, whatever the
// grouping of neighbours into reads.
func TestJSONLogRead(t *testing.T) {
	l, err := openJSONLog(t.TempDir()+"/t.jsonl", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	r := rand.New(rand.NewPCG(7, 7))
	var want [][]byte
	var ptrs []jsonPtr
	for i := 0; i < 500; i++ {
		doc := []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, string(make([]byte, r.IntN(3000)))))
		off := l.end
		if err := l.appendBatch(append(slices.Clone(doc), '\n')); err != nil {
			t.Fatal(err)
		}
		if r.IntN(3) == 0 {
			want = append(want, doc)
			ptrs = append(ptrs, jsonPtr{off, int32(len(doc))})
		}
	}
	perm := r.Perm(len(ptrs))
	shuffled := make([]jsonPtr, len(ptrs))
	for i, j := range perm {
		shuffled[i] = ptrs[j]
	}
	for _, lim := range []struct{ gap, max int64 }{{0, 1}, {8 << 10, 4 << 20}, {1 << 20, 20 << 10}} {
		l.readGap, l.readMax = lim.gap, lim.max
		got, err := l.read(context.Background(), shuffled)
		if err != nil {
			t.Fatal(err)
		}
		for i, j := range perm {
			if string(got[i]) != string(want[j]) {
				t.Fatalf("gap %d, max %d: pointer %d read %.40q, want %.40q", lim.gap, lim.max, i, got[i], want[j])
			}
		}
	}
	// A failed Insert's bytes are cut off.
	end := l.end
	if err := l.appendBatch([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := l.rewind(end); err != nil {
		t.Fatal(err)
	}
	if st, err := l.f.Stat(); err != nil || st.Size() != end {
		t.Fatalf("size %d after rewind (%v), want %d", st.Size(), err, end)
	}
}

// An Insert's JSON is written in chunks of about jsonChunk bytes through a
// reused buffer: every event, across chunk boundaries, of every size (one
// larger than a chunk) and over several Inserts, reads back exactly.
func TestJSONWrittenInChunks(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(8, 8))
	var want []string
	for batch := range 3 {
		var evs []store.Event
		size := 0
		for i := 0; size < 3*jsonChunk; i++ {
			pad := r.IntN(3000)
			if batch == 1 && i == 100 {
				pad = jsonChunk + 1000 // a single event larger than a chunk
			}
			id := fmt.Sprintf("b%d-%05d", batch, i)
			ts := genBase.Add(time.Duration(len(want)) * time.Millisecond)
			doc := fmt.Sprintf(`{"keen":{"id":%q},"pad":"%s"}`, id, strings.Repeat("x", pad))
			evs = append(evs, store.Event{ProjectID: "p", Collection: "c", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(doc)})
			want = append(want, doc)
			size += len(doc) + 1
		}
		if _, err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Extract(ctx, store.Query{ProjectID: "p", Collection: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("extracted %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("event %d: read %.60q, want %.60q", i, got[i], want[i])
		}
	}
}

// TestInsertFailingAfterItsJSON: an Insert that fails once some of its JSON
// is written (here, the appender of its second collection's rows: a column
// was renamed behind the store's back) stores nothing: no rows, no marks, and every log is cut back to where it
// was, so that the retry, and a reopened store, read each event's own JSON.
func TestInsertFailingAfterItsJSON(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	batch := func(from, n int, coll string) []store.Event {
		var evs []store.Event
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("%s-%03d", coll, i)
			ts := genBase.Add(time.Duration(i) * time.Second)
			doc := fmt.Sprintf(`{"keen":{"id":%q},"n":%d,"s":"%s"}`, id, i, strings.Repeat("x", i))
			evs = append(evs, store.Event{ProjectID: "p", Collection: coll, ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(doc),
				Source: store.Source{Topic: "raw-" + coll, Partition: 0, Offset: int64(i)}})
		}
		return evs
	}
	first := append(batch(0, 10, "a"), batch(0, 10, "b")...)
	if _, err := s.Insert(ctx, first); err != nil {
		t.Fatal(err)
	}
	ends := map[string]int64{}
	for _, c := range []string{"a", "b"} {
		ends[c] = s.tables[collKey{"p", c}].log.end
	}

	second := append(batch(10, 10, "a"), batch(10, 10, "b")...)
	tb := s.tables[collKey{"p", "b"}]
	col := tb.cols[leaf.Key("s", leaf.String)]
	rename := func(from, to string) {
		t.Helper()
		if _, err := s.conn.ExecContext(ctx, `ALTER TABLE `+tb.name+` RENAME COLUMN `+from+` TO `+to); err != nil {
			t.Fatal(err)
		}
	}
	rename(col, "moved")
	if _, err := s.Insert(ctx, second); err == nil || !strings.Contains(err.Error(), "appending to "+tb.name) {
		t.Fatalf("an Insert whose rows the appender refuses: %v, want an error appending to %s", err, tb.name)
	}
	rename("moved", col)
	for _, c := range []string{"a", "b"} {
		l := s.tables[collKey{"p", c}].log
		st, err := l.f.Stat()
		if err != nil || l.end != ends[c] || st.Size() != ends[c] {
			t.Fatalf("log %s after the failed Insert: end %d, size %d (%v); want %d", c, l.end, st.Size(), err, ends[c])
		}
		if n, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: c}); err != nil || n != 10 {
			t.Fatalf("count %s after the failed Insert: %d %v, want 10", c, n, err)
		}
	}

	res, err := s.Insert(ctx, second)
	if err != nil || res.Count(store.Stored) != 20 {
		t.Fatalf("retry: %+v %v, want 20 inserted", res, err)
	}
	check := func(s *DuckStore, when string) {
		for _, c := range []string{"a", "b"} {
			got, err := s.Extract(ctx, store.Query{ProjectID: "p", Collection: c})
			want := append(batch(0, 10, c), batch(10, 10, c)...)
			if err != nil || len(got) != len(want) {
				t.Fatalf("%s: extract %s: %d events %v, want %d", when, c, len(got), err, len(want))
			}
			for i := range want {
				if string(got[i]) != string(want[i].JSON) {
					t.Fatalf("%s: %s event %d reads %s, want %s", when, c, i, got[i], want[i].JSON)
				}
			}
		}
	}
	check(s, "after the retry")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check(s, "reopened")
	if res, err := s.Insert(ctx, second); err != nil || res.Count(store.Existing) != 20 {
		t.Fatalf("re-processing after reopen: %+v %v, want 20 existing", res, err)
	}
}

// The marks are appended to _marks by every Insert, and compacted to one
// row per partition once it holds marksSlack more; either way the store
// reopens with every partition's mark, and a store written by an earlier
// version (marks in _sources) keeps its marks.
func TestMarksCompactedAndReopened(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	// A mark an earlier version recorded, below what follows.
	if _, err := s.conn.ExecContext(ctx, `INSERT INTO _sources VALUES ('raw', 0, 1), ('old', 7, 42)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, dir)
	s.marksSlack = 10
	rowsOf := func(tbl string) int64 {
		t.Helper()
		var n int64
		if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var most int64
	for i := range 12 {
		evs := make([]store.Event, 4)
		for j := range evs {
			evs[j] = store.Event{ProjectID: "p", Collection: "c", ID: fmt.Sprintf("e%d-%d", i, j), JSON: []byte(fmt.Sprintf(`{"i":%d}`, i)),
				Source: store.Source{Topic: "raw", Partition: int32(j), Offset: int64(i)}}
		}
		if _, err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		n := rowsOf("_marks") + rowsOf("_sources")
		if n != s.markRows {
			t.Fatalf("Insert %d: %d rows, markRows %d", i, n, s.markRows)
		}
		most = max(most, n)
	}
	// 5 partitions (4 and the earlier version's other one) and at most
	// marksSlack more rows, plus one Insert's.
	if most > 5+10+4 {
		t.Fatalf("up to %d rows of marks; want at most %d", most, 5+10+4)
	}
	if rowsOf("_sources") != 0 {
		t.Fatal("_sources not compacted into _marks")
	}
	s.Close()

	s = openTest(t, dir)
	defer s.Close()
	want := map[srcKey]int64{{"raw", 0}: 12, {"raw", 1}: 12, {"raw", 2}: 12, {"raw", 3}: 12, {"old", 7}: 42}
	if !maps.Equal(s.marks, want) {
		t.Fatalf("marks after reopening: %v; want %v", s.marks, want)
	}
	// Processed again: all Existing.
	evs := []store.Event{{ProjectID: "p", Collection: "c", ID: "e11-0", JSON: []byte(`{"i":11}`), Source: store.Source{Topic: "raw", Partition: 0, Offset: 11}}}
	if res, err := s.Insert(ctx, evs); err != nil || !sameResult(res, tally{Existing: 1}) {
		t.Fatalf("processed again: %+v, %v", res, err)
	}
}
