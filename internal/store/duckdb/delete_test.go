package duckdb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// delEvent is an event of collection coll at position off of partition
// "raw"/0, with a uniqueness token.
func delEvent(coll string, off int, country string, extra string) store.Event {
	ts := genBase.Add(time.Duration(off) * time.Hour)
	id := fmt.Sprintf("%s-%d", coll, off)
	return store.Event{ProjectID: "p", Collection: coll, ID: id, Timestamp: ts, CreatedAt: ts,
		UniquenessToken: "tok" + id,
		Source:          store.Source{Topic: "raw", Partition: 0, Offset: int64(off)},
		JSON: []byte(fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":%q},"country":%q,"n":%d,"user":{"name":"secret-%s","age":%d,"tags":["a"]}%s}`,
			ts.Format("2006-01-02T15:04:05.000Z"), ts.Format("2006-01-02T15:04:05.000Z"), id, country, off, id, off, extra)),
	}
}

func countOf(t *testing.T, s *DuckStore, q store.Query) int64 {
	t.Helper()
	q.Analysis = store.Count
	res, err := s.Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows[0].Value.(int64)
}

func logHolds(t *testing.T, s *DuckStore, tbl, text string) bool {
	t.Helper()
	b, err := os.ReadFile(s.logPath(tbl))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(text))
}

// TestDeleteCollection: the table, catalog rows, tokens and log go;
// re-processing does not bring the events back; the collection starts
// afresh with new events, across a reopen.
func TestDeleteCollection(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	var a, b []store.Event
	for i := 0; i < 10; i++ {
		a = append(a, delEvent("a", i, "France", ""))
		b = append(b, delEvent("b", 100+i, "Spain", ""))
	}
	if _, err := s.Insert(ctx, slices.Concat(a, b)); err != nil {
		t.Fatal(err)
	}
	tbl, _ := s.snapshot("p", "a")
	res, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a"})
	if err != nil || res.Events != 10 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if _, err := os.Stat(s.logPath(tbl)); !os.IsNotExist(err) {
		t.Errorf("the log of the deleted collection: %v", err)
	}
	check := func(when string) {
		t.Helper()
		if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a"}); n != 0 {
			t.Errorf("%s: %d events in the deleted collection", when, n)
		}
		if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "b"}); n != 10 {
			t.Errorf("%s: %d events in the other collection", when, n)
		}
		sch, err := s.Schema(ctx, "p")
		if err != nil || len(sch) != 1 || sch[0].Name != "b" {
			t.Errorf("%s: schema %+v %v", when, sch, err)
		}
		// Processed again: already processed, not stored.
		res, err := s.Insert(ctx, a)
		if err != nil || !sameResult(res, tally{Existing: 10}) {
			t.Errorf("%s: re-processing: %+v %v", when, tallyOf(res), err)
		}
		for i, o := range res.Outcomes {
			if o.JSON != nil {
				t.Errorf("%s: re-processed event %d has JSON %s", when, i, o.JSON)
			}
		}
	}
	check("after the delete")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check("after a reopen")
	// New events: a new table; the deleted tokens are free again.
	again := delEvent("a", 200, "Italy", "") // past the partition's mark
	again.UniquenessToken = a[0].UniquenessToken
	if res, err := s.Insert(ctx, []store.Event{again}); err != nil || !sameResult(res, tally{Inserted: 1}) {
		t.Fatalf("a new event: %+v %v", tallyOf(res), err)
	}
	extractsExactly(t, s, "p", "a", []store.Event{again})
	if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a", Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "Italy"}}}); n != 1 {
		t.Errorf("%d Italian events", n)
	}
	if res, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "nope"}); err != nil || res.Events != 0 {
		t.Errorf("deleting an unknown collection: %+v %v", res, err)
	}
}

// TestDeleteEvents: the matching rows go, their JSON is blanked, their
// tokens stay held, and re-processing does not bring them back.
func TestDeleteEvents(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	var evs []store.Event
	for i := 0; i < 20; i++ {
		evs = append(evs, delEvent("a", i, []string{"France", "Spain"}[i%2], ""))
	}
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	tbl, _ := s.snapshot("p", "a")
	sel := store.Query{Start: genBase.Add(4 * time.Hour), Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}
	res, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a", Events: &sel})
	if err != nil || res.Events != 8 { // France at offsets 4, 6, …, 18
		t.Fatalf("delete: %+v %v", res, err)
	}
	var kept []store.Event
	for i, ev := range evs {
		if i < 4 || i%2 == 1 {
			kept = append(kept, ev)
		}
	}
	if !logHolds(t, s, tbl, "secret-a-3") || logHolds(t, s, tbl, "secret-a-4") || logHolds(t, s, tbl, "secret-a-18") {
		t.Error("the deleted events' JSON is still in the log, or the others' is not")
	}
	check := func(when string) {
		t.Helper()
		extractsExactly(t, s, "p", "a", kept)
		if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a", Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}); n != 2 {
			t.Errorf("%s: %d French events, want 2", when, n)
		}
		res, err := s.Insert(ctx, evs)
		if err != nil || !sameResult(res, tally{Existing: 20}) {
			t.Errorf("%s: re-processing: %+v %v", when, tallyOf(res), err)
		}
		for i, o := range res.Outcomes {
			if deleted := i >= 4 && i%2 == 0; deleted != (o.JSON == nil) {
				t.Errorf("%s: re-processed event %d: JSON %s", when, i, o.JSON)
			}
		}
	}
	check("after the delete")
	// A deleted event's token stays held.
	dup := delEvent("a", 30, "Italy", "")
	dup.UniquenessToken = evs[4].UniquenessToken
	if res, err := s.Insert(ctx, []store.Event{dup}); err != nil || !sameResult(res, tally{Duplicates: 1}) {
		t.Errorf("a deleted event's token: %+v %v", tallyOf(res), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check("after a reopen")
	// The JSON log still serves new events after the blanked ones.
	more := delEvent("a", 40, "Italy", "")
	if _, err := s.Insert(ctx, []store.Event{more}); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, more)
	extractsExactly(t, s, "p", "a", kept)
	// A filter without a meaning is refused, and deletes nothing.
	bad := store.Query{Filters: []store.Filter{{Path: []string{"country"}, Operator: "lt", Value: true}}}
	if _, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a", Events: &bad}); err == nil {
		t.Error("a delete with a meaningless filter was accepted")
	}
}

// TestDeleteProperty: the property (and its children) goes from every
// query, the schema and the stored JSON; the other properties and events
// stay as they were; new events bring it back in new columns.
func TestDeleteProperty(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	var evs []store.Event
	for i := 0; i < 10; i++ {
		extra := ""
		if i == 3 {
			extra = `,"user2":{"name":"keep"}`
		}
		evs = append(evs, delEvent("a", i, "France", extra))
	}
	noUser := delEvent("a", 10, "Spain", "")
	noUser.JSON = bytes.Replace(noUser.JSON, []byte(`"user":`), []byte(`"other":`), 1)
	evs = append(evs, noUser)
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	tbl, _ := s.snapshot("p", "a")
	s.propertyChunk = 500 // two or three events at a time
	for _, p := range [][]string{{"keen"}, {"keen", "id"}, {"keen", "timestamp"}, {"keen", "created_at"}, {"user", ""}} {
		if _, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a", Property: p}); err == nil {
			t.Errorf("deleting %v was accepted", p)
		}
	}
	if _, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a", Property: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	want := make([]store.Event, len(evs))
	for i, ev := range evs {
		ev.JSON = bytes.Replace(ev.JSON, []byte(fmt.Sprintf(`,"user":{"name":"secret-a-%d","age":%d,"tags":["a"]}`, i, i)), nil, 1)
		want[i] = ev
	}
	if logHolds(t, s, tbl, "secret-a-3") || !logHolds(t, s, tbl, "secret-a-10") {
		t.Error("the deleted property is still in the log, or another is not")
	}
	check := func(when string) {
		t.Helper()
		extractsExactly(t, s, "p", "a", want)
		if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a", Filters: []store.Filter{{Path: []string{"user"}, Operator: "exists", Value: true}}}); n != 0 {
			t.Errorf("%s: %d events with a user", when, n)
		}
		if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a", Filters: []store.Filter{{Path: []string{"user2", "name"}, Operator: "eq", Value: "keep"}}}); n != 1 {
			t.Errorf("%s: %d events with user2.name", when, n)
		}
		res, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "a", Analysis: store.Count, GroupBy: [][]string{{"user", "name"}}})
		if err != nil || len(res.Rows) != 1 || res.Rows[0].Group[0] != nil || res.Rows[0].Value != int64(11) {
			t.Errorf("%s: grouped by user.name: %+v %v", when, res.Rows, err)
		}
		sch, err := s.Schema(ctx, "p")
		if err != nil || len(sch) != 1 {
			t.Fatalf("%s: schema %+v %v", when, sch, err)
		}
		for name := range sch[0].Properties {
			if name == "user" || strings.HasPrefix(name, "user.") {
				t.Errorf("%s: schema lists %s", when, name)
			}
		}
		// Processed again: the stored JSON, without the property.
		res2, err := s.Insert(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range res2.Outcomes {
			if o.Status != store.Existing || string(o.JSON) != string(want[i].JSON) {
				t.Errorf("%s: re-processed event %d: %+v", when, i, o)
			}
		}
	}
	check("after the delete")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check("after a reopen")
	// New events with the property: new columns, no clash with the others.
	back := delEvent("a", 20, "Italy", "")
	if _, err := s.Insert(ctx, []store.Event{back}); err != nil {
		t.Fatal(err)
	}
	want = append(want, back)
	extractsExactly(t, s, "p", "a", want)
	res, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "a", Analysis: store.Sum, Target: []string{"user", "age"}})
	if err != nil || res.Rows[0].Value != 20.0 {
		t.Errorf("sum of user.age: %+v %v", res.Rows, err)
	}
	if n := countOf(t, s, store.Query{ProjectID: "p", Collection: "a", Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "Italy"}}}); n != 1 {
		t.Errorf("%d Italian events", n)
	}
	// A property no event has: nothing to do.
	if _, err := s.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "a", Property: []string{"nope"}}); err != nil {
		t.Error(err)
	}
}

// TestSchema: every property path with its leaf types, keen.timestamp and
// keen.created_at as strings, not keen.id; per project.
func TestSchema(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	mk := func(project, coll, id, body string) store.Event {
		return store.Event{ProjectID: project, Collection: coll, ID: id, Timestamp: genBase, CreatedAt: genBase,
			JSON: []byte(`{"keen":{"timestamp":"2024-01-01T00:00:00.000Z","created_at":"2024-01-01T00:00:00.000Z","id":"` + id + `"}` + body + `}`)}
	}
	if _, err := s.Insert(ctx, []store.Event{
		mk("p", "b", "1", `,"x":1,"y":{"z":"s","e":{}},"arr":["a"],"mix":[1,"a"]`),
		mk("p", "b", "2", `,"x":"one","n":null,"t":true`),
		mk("p", "a", "3", `,"only":1`),
		mk("q", "c", "4", `,"other":1`),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Schema(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	k := []string{leaf.String}
	want := []store.Collection{
		{Name: "a", Properties: map[string][]string{"keen.timestamp": k, "keen.created_at": k, "only": {leaf.Number}}},
		{Name: "b", Properties: map[string][]string{"keen.timestamp": k, "keen.created_at": k, "x": {leaf.Number, leaf.String},
			"y.z": {leaf.String}, "arr": {leaf.StrArray}, "mix": {leaf.JSONArray}, "n": {leaf.Null}, "t": {leaf.Bool}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema\n%v\nwant\n%v", got, want)
	}
	if got, err := s.Schema(ctx, "nobody"); err != nil || got != nil {
		t.Errorf("an unknown project: %v %v", got, err)
	}
}

// TestQueriesDuringDeletes: queries running while events, a property and a
// collection are deleted never fail and never see blanked JSON.
func TestQueriesDuringDeletes(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	var evs []store.Event
	for i := 0; i < 400; i++ {
		evs = append(evs, delEvent("a", i, []string{"France", "Spain", "Italy"}[i%3], ""))
	}
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for w := 0; w < 3; w++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				res, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "a", Analysis: store.Extraction})
				if err == nil {
					for _, e := range res.Events {
						if e[0] != '{' {
							err = fmt.Errorf("an extraction read %q", e)
							break
						}
					}
				}
				if err == nil {
					_, err = s.Run(ctx, store.Query{ProjectID: "p", Collection: "a", Analysis: store.CountUnique, Target: []string{"user", "name"}, GroupBy: [][]string{{"user", "age"}}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	sel := store.Query{Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "Spain"}}}
	for _, d := range []store.Deletion{
		{ProjectID: "p", Collection: "a", Events: &sel},
		{ProjectID: "p", Collection: "a", Property: []string{"user"}},
		{ProjectID: "p", Collection: "a"},
	} {
		time.Sleep(50 * time.Millisecond)
		if _, err := s.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	close(done)
	for w := 0; w < 3; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
