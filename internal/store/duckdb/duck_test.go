package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/leaf"
)

func openTest(t testing.TB, dir string) *DuckStore {
	t.Helper()
	s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func n(s string) json.Number { return json.Number(s) }

// tally is an InsertResult's outcomes counted, with its refusals listed.
type tally struct {
	Inserted, Existing, Duplicates int
	Refused                        []refusal
}

type refusal struct {
	Index         int
	Name, Message string
}

func tallyOf(r store.InsertResult) tally {
	var t tally
	for i, o := range r.Outcomes {
		switch o.Status {
		case store.Stored:
			t.Inserted++
		case store.Existing:
			t.Existing++
		case store.Duplicate:
			t.Duplicates++
		case store.Refused:
			t.Refused = append(t.Refused, refusal{Index: i, Name: o.Name, Message: o.Message})
		default:
			t.Refused = append(t.Refused, refusal{Index: i, Name: fmt.Sprintf("no outcome (status %d)", o.Status)})
		}
	}
	return t
}

// sameResult says whether r's outcomes tally to want, refusals included.
func sameResult(r store.InsertResult, want tally) bool {
	a := tallyOf(r)
	return len(r.Outcomes) == a.Inserted+a.Existing+a.Duplicates+len(a.Refused) &&
		a.Inserted == want.Inserted && a.Existing == want.Existing && a.Duplicates == want.Duplicates &&
		slices.Equal(a.Refused, want.Refused)
}

// testQueries returns the filters the comparison runs: every operator on
// every kind of path (present, mixed types, nested, arrays, missing), with
// values of every type.
func testFilters() []store.Filter {
	paths := [][]string{
		{"country"}, {"Country"}, {"price"}, {"code"}, {"is_mobile"}, {"tags"},
		{"user"}, {"user", "id"}, {"user", "name"}, {"user", "address"}, {"user", "address", "city"},
		{"note"}, {"nope"}, {"price", "x"},
		// The keen fields held by the table's own columns (keenColumns).
		{"keen"}, {"keen", "id"}, {"keen", "timestamp"}, {"keen", "created_at"},
	}
	// Strings that compare with keen.timestamp and keen.created_at at
	// every position: whole timestamps inside the generated span, a
	// prefix, and pieces.
	mid := genBase.Add(genSpan / 2).Format("2006-01-02T15:04:05.000Z")
	stamps := []any{genBase.Format("2006-01-02T15:04:05.000Z"), mid, mid[:10], mid[:7], "T", ".0", "Z", "9999"}
	values := []any{
		"France", "Fr", "", "Ünïcode", "a\"quote", "red", "gr", "10", "user3", "Paris", "anonymous",
		n("10"), n("100"), n("0"), n("-3.25"), n("7"), n("1e2"), n("3"), n("12345678901234567890"),
		true, false, nil,
		[]any{"red"}, []any{}, []any{"red", "green"},
	}
	values = append(values, stamps...)
	var fs []store.Filter
	for _, p := range paths {
		for _, op := range []string{"eq", "ne"} {
			for _, v := range values {
				fs = append(fs, store.Filter{Path: p, Operator: op, Value: v})
			}
		}
		for _, op := range []string{"lt", "lte", "gt", "gte"} {
			for _, v := range append([]any{n("10"), n("0"), n("-3.25"), n("100"), "F", "apple", "", "Ünïcode", "10", "user5"}, stamps...) {
				fs = append(fs, store.Filter{Path: p, Operator: op, Value: v})
			}
		}
		fs = append(fs, store.Filter{Path: p, Operator: "exists", Value: true}, store.Filter{Path: p, Operator: "exists", Value: false})
		for _, v := range [][]any{
			{"France", "Zed"}, {n("10"), n("7"), "10"}, {true}, {nil, "red"}, {}, {[]any{"red"}, n("0")}, {n("1e2"), false, "Paris"},
		} {
			fs = append(fs, store.Filter{Path: p, Operator: "in", Value: v})
		}
		for _, op := range []string{"contains", "not_contains"} {
			for _, v := range append([]any{"r", "Fr", "", "red", "ü", "\"", "user1", "0"}, stamps...) {
				fs = append(fs, store.Filter{Path: p, Operator: op, Value: v})
			}
		}
	}
	return fs
}

func compare(t *testing.T, s *DuckStore, m *model, q store.Query, name string) {
	t.Helper()
	ctx := context.Background()
	want := m.extract(q)
	got, err := s.Extract(ctx, q)
	if err != nil {
		t.Fatalf("%s: extract: %v", name, err)
	}
	gs := make([]string, len(got))
	for i, g := range got {
		gs[i] = string(g)
	}
	if !slices.Equal(gs, want) {
		t.Errorf("%s: extract: got %d events, want %d", name, len(gs), len(want))
		return
	}
	if q.Latest == 0 {
		c, err := s.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: count: %v", name, err)
		}
		if c != int64(len(want)) {
			t.Errorf("%s: count %d, want %d", name, c, len(want))
		}
	}
}

func qname(q store.Query) string {
	var parts []string
	for _, f := range q.Filters {
		v, _ := json.Marshal(f.Value)
		parts = append(parts, fmt.Sprintf("%s %s %s", strings.Join(f.Path, "."), f.Operator, v))
	}
	return fmt.Sprintf("%s/%s [%s,%s) latest=%d {%s}", q.ProjectID, q.Collection,
		q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339), q.Latest, strings.Join(parts, " AND "))
}

// loadRandom fills a store and a model with the same random events.
func loadRandom(t *testing.T, s *DuckStore, seed uint64, count int) *model {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	evs := genEvents(r, count, "e")
	m := newModel()
	m.add(evs...)
	ctx := context.Background()
	for i := 0; i < len(evs); i += 700 { // several batches, so columns are added along the way
		res, err := s.Insert(ctx, evs[i:min(i+700, len(evs))])
		if err != nil {
			t.Fatal(err)
		}
		if res.Count(store.Stored) != min(700, len(evs)-i) || res.Count(store.Existing) != 0 || res.Count(store.Duplicate) != 0 {
			t.Fatalf("insert: %+v", res)
		}
	}
	return m
}

func TestQueriesAgainstModel(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	m := loadRandom(t, s, 42, 3000)
	filters := testFilters()
	// Exact values of stored keen fields, so that an expression that does
	// not give back the stored strings (keenColumns) fails.
	for i, e := range m.events {
		if e.ev.ProjectID != "p1" || e.ev.Collection != "clicks" || i%50 != 0 {
			continue
		}
		keen := e.doc["keen"].(map[string]any)
		for _, name := range []string{"id", "timestamp", "created_at"} {
			v := keen[name].(string)
			for _, op := range []string{"eq", "ne", "lt", "gte", "contains"} {
				filters = append(filters, store.Filter{Path: []string{"keen", name}, Operator: op, Value: v})
			}
			filters = append(filters, store.Filter{Path: []string{"keen", name}, Operator: "in", Value: []any{v, "x"}},
				store.Filter{Path: []string{"keen", name}, Operator: "contains", Value: v[len(v)-5:]})
		}
	}
	mid := genBase.Add(genSpan / 3)
	late := genBase.Add(2 * genSpan / 3)

	run := func(s *DuckStore, filters []store.Filter) {
		// Every filter alone, on one collection (case-distinct "purchases"
		// and "Purchases" checked separately below).
		for _, f := range filters {
			q := store.Query{ProjectID: "p1", Collection: "clicks", Filters: []store.Filter{f}}
			compare(t, s, m, q, qname(q))
		}
		r := rand.New(rand.NewPCG(7, 7))
		// Combinations, timeframes, latest, other collections.
		for i := 0; i < 300; i++ {
			q := store.Query{ProjectID: pick(r, genProjects), Collection: pick(r, genColls)}
			for j := r.IntN(4); j > 0; j-- {
				q.Filters = append(q.Filters, pick(r, filters))
			}
			switch r.IntN(4) {
			case 0:
				q.Start = mid
			case 1:
				q.End = late
			case 2:
				q.Start, q.End = mid, late
			}
			if r.IntN(3) == 0 {
				q.Latest = 1 + r.IntN(40)
			}
			compare(t, s, m, q, qname(q))
		}
		for _, q := range []store.Query{
			{ProjectID: "p1", Collection: "nope"},
			{ProjectID: "p3", Collection: "clicks"},
			{ProjectID: "p2", Collection: "Purchases"},
			{ProjectID: "p2", Collection: "purchases"},
			{ProjectID: "p1", Collection: "views", Latest: 5},
			{ProjectID: "p1", Collection: "views", Latest: 100000},
			{ProjectID: "p1", Collection: "views", Start: genBase.Add(genSpan), End: genBase.Add(2 * genSpan)},
			{ProjectID: "p1", Collection: "nope", Filters: []store.Filter{{Path: []string{"x"}, Operator: "ne", Value: "y"}}, Latest: 3},
			{ProjectID: "p1", Collection: "clicks", Filters: []store.Filter{{Path: []string{"zzz"}, Operator: "ne", Value: "y"}, {Path: []string{"zzz"}, Operator: "exists", Value: false}}},
		} {
			compare(t, s, m, q, qname(q))
		}
	}
	run(s, filters)

	// Unknown collection: 0 and an empty extraction, not errors.
	if c, err := s.Count(context.Background(), store.Query{ProjectID: "p1", Collection: "nope"}); err != nil || c != 0 {
		t.Fatalf("unknown collection: %d, %v", c, err)
	}
	if got, err := s.Extract(context.Background(), store.Query{ProjectID: "p1", Collection: "nope"}); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("unknown collection: %v, %v", got, err)
	}

	// Reopen from disk: same answers.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	run(s, filters[:len(filters)/3])

	// And inserting after the reopen still works (catalog reloaded).
	r := rand.New(rand.NewPCG(99, 1))
	more := genEvents(r, 500, "f")
	for i := range more {
		more[i].JSON = []byte(strings.Replace(string(more[i].JSON), `}`, `},"brand_new":{"deep":"x"}`, 1))
	}
	if _, err := s.Insert(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	m.add(more...)
	for _, f := range append(filters[:200:200], store.Filter{Path: []string{"brand_new", "deep"}, Operator: "eq", Value: "x"}, store.Filter{Path: []string{"brand_new"}, Operator: "exists", Value: true}) {
		q := store.Query{ProjectID: "p2", Collection: "views", Filters: []store.Filter{f}}
		compare(t, s, m, q, qname(q))
	}
}

func TestIdempotentReinsert(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	evs := genEvents(rand.New(rand.NewPCG(1, 2)), 400, "e")
	res, err := s.Insert(ctx, evs[:300])
	if err != nil || res.Count(store.Stored) != 300 {
		t.Fatalf("%+v %v", res, err)
	}
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for _, p := range genProjects {
			for _, c := range genColls {
				n, err := s.Count(ctx, store.Query{ProjectID: p, Collection: c})
				if err != nil {
					t.Fatal(err)
				}
				out[p+"/"+c] = n
			}
		}
		return out
	}
	before := counts()
	res, err = s.Insert(ctx, evs[:300])
	if err != nil || !sameResult(res, tally{Existing: 300}) {
		t.Fatalf("re-insert: %+v %v", res, err)
	}
	// Overlapping batch, with a repeat inside the batch.
	batch := append(slices.Clone(evs[250:400]), evs[350])
	res, err = s.Insert(ctx, batch)
	if err != nil || !sameResult(res, tally{Inserted: 100, Existing: 51}) {
		t.Fatalf("overlap: %+v %v", res, err)
	}
	after := counts()
	var total int64
	for k, v := range after {
		total += v
		if v < before[k] {
			t.Fatalf("%s: %d < %d", k, v, before[k])
		}
	}
	if total != 400 {
		t.Fatalf("total %d, want 400", total)
	}
}

func tokenEvent(id, token string, created time.Time) store.Event {
	return store.Event{
		ProjectID: "p", Collection: "signups", ID: id, Timestamp: created, CreatedAt: created,
		UniquenessToken: token,
		JSON:            []byte(fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":%q,"uniqueness_token":%q},"x":1}`, created.Format(time.RFC3339), created.Format(time.RFC3339), id, token)),
	}
}

func TestUniquenessTokens(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	check := func(evs []store.Event, want tally) {
		t.Helper()
		res, err := s.Insert(ctx, evs)
		if err != nil || !sameResult(res, want) {
			t.Fatalf("got %+v %v, want %+v", res, err, want)
		}
	}
	check([]store.Event{tokenEvent("a", "tok", t0)}, tally{Inserted: 1})
	// Same keen.id: re-processing, not a duplicate.
	check([]store.Event{tokenEvent("a", "tok", t0)}, tally{Existing: 1})
	// Another event with the token within 31 days: dropped.
	check([]store.Event{tokenEvent("b", "tok", t0.Add(30*24*time.Hour))}, tally{Duplicates: 1})
	// Within one batch: the first wins.
	check([]store.Event{tokenEvent("c", "tok2", t0), tokenEvent("d", "tok2", t0.Add(time.Second)), tokenEvent("e", "", t0)}, tally{Inserted: 2, Duplicates: 1})
	// Another collection or project: its own scope.
	other := tokenEvent("f", "tok", t0.Add(time.Hour))
	other.Collection = "other"
	other2 := tokenEvent("g", "tok", t0.Add(time.Hour))
	other2.ProjectID = "q"
	check([]store.Event{other, other2}, tally{Inserted: 2})

	// Reopen: tokens persist.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check([]store.Event{tokenEvent("h", "tok", t0.Add(31*24*time.Hour-time.Millisecond))}, tally{Duplicates: 1})
	// Window expired: accepted again, and it becomes the holder.
	check([]store.Event{tokenEvent("i", "tok", t0.Add(31*24*time.Hour))}, tally{Inserted: 1})
	check([]store.Event{tokenEvent("j", "tok", t0.Add(40*24*time.Hour))}, tally{Duplicates: 1})
	check([]store.Event{tokenEvent("a", "tok", t0)}, tally{Existing: 1})
	n, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: "signups"})
	if err != nil || n != 4 { // a, c, e, i
		t.Fatalf("count %d %v", n, err)
	}
}

func TestConcurrentInserts(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const workers, batches, per = 6, 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	models := make([]*model, workers)
	for w := 0; w < workers; w++ {
		models[w] = newModel()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for b := 0; b < batches; b++ {
				evs := genEvents(r, per, fmt.Sprintf("w%d-b%d-", w, b))
				for i := range evs {
					evs[i].ProjectID = "p"
					evs[i].Collection = fmt.Sprintf("c%d", w)
				}
				models[w].add(evs...)
				if _, err := s.Insert(ctx, evs); err != nil {
					errs <- err
					return
				}
				// Concurrent reads too.
				if _, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: fmt.Sprintf("c%d", (w+1)%workers), Filters: []store.Filter{{Path: []string{"price"}, Operator: "gt", Value: n("1")}}}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := 0; w < workers; w++ {
		for _, f := range []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}, {Path: []string{"code"}, Operator: "exists", Value: true}} {
			compare(t, s, models[w], store.Query{ProjectID: "p", Collection: fmt.Sprintf("c%d", w)}, "all")
			compare(t, s, models[w], store.Query{ProjectID: "p", Collection: fmt.Sprintf("c%d", w), Filters: []store.Filter{f}}, "filtered")
		}
	}
}

func TestFlattenMatchesReference(t *testing.T) {
	docs := [][]byte{
		[]byte(` { "a" : { "b\u00e9\n" : [ 1 , "x" ] , "c" : [ "y" , "z\"" ] } , "d" : [ ] , "e" : -1.5E+3 , "f" : [ {"g": [1]}, null ] , "h" : true } `),
		[]byte(`{"keen":{"id":"x"},"s":"\ud83d\ude00 \\ \/","n":1e400,"o":{"p":{}},"q":[[],["a"]]}`),
	}
	for _, ev := range genEvents(rand.New(rand.NewPCG(5, 5)), 500, "x") {
		docs = append(docs, ev.JSON)
	}
	for _, ev := range benchEvents(rand.New(rand.NewPCG(5, 5)), "p", "c", "x", 20) {
		docs = append(docs, ev.JSON)
	}
	var shared leaf.Flattener // reused across documents, as Insert does
	for _, d := range docs {
		got, err1 := leaf.Flatten(d, nil)
		reused, err3 := shared.Flatten(d, utf8.Valid(d), nil)
		want, err2 := flattenReference(d, nil)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: %v, %v, %v", d, err1, err2, err3)
		}
		// Compared as Field.String renders them.
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(reused) != fmt.Sprint(want) {
			t.Fatalf("%s:\ngot  %v\nwant %v", d, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":}`, `{"a":1`, `{"a":tru}`, `{"a":[1,}`, `{"a":"x}`, `{} x`} {
		if _, err := leaf.Flatten([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
