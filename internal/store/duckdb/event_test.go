package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/event"
)

// TestProcessedEvents stores events as the event package builds them: with
// the leaves it found (as the pipeline asks) and without (Insert flattens
// their JSON). Both must store the same.
func TestProcessedEvents(t *testing.T) {
	for _, leaves := range []bool{false, true} {
		t.Run(fmt.Sprintf("leaves=%v", leaves), func(t *testing.T) { testProcessedEvents(t, leaves) })
	}
}

func testProcessedEvents(t *testing.T, leaves bool) {
	p, err := event.NewProcessor(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i, payload := range []string{
		`{"a": {"b": "x"}, "n": 1.50, "keen": {"timestamp": "2024-01-02T03:04:05.678Z", "uniqueness_token": "t"}}`,
		`{"n": 12345678901234567890, "tags": ["x", "y"], "é": "\u00e9", "o": {"p": null, "q": true}}`,
		`{"keen": {"uniqueness_token": "t"}, "a": {"b": "y"}}`,
	} {
		ev, err := p.Process(event.Input{Payload: []byte(payload), ID: event.ID("clicks", 0, int64(i)), CreatedAt: now.Add(time.Duration(i) * time.Second), Leaves: leaves})
		if err != nil {
			t.Fatal(err)
		}
		if leaves && ev.Leaves == nil {
			t.Fatalf("%s: no leaves", payload)
		}
		evs = append(evs, store.Event{ProjectID: "p", Collection: "clicks", ID: ev.ID, Timestamp: ev.Timestamp, CreatedAt: ev.CreatedAt, UniquenessToken: ev.UniquenessToken, JSON: ev.JSON, ValidUTF8: true, Leaves: ev.Leaves})
	}
	res, err := s.Insert(ctx, evs)
	if err != nil || !sameResult(res, tally{Inserted: 2, Duplicates: 1}) {
		t.Fatalf("%+v %v", res, err)
	}
	got, err := s.Extract(ctx, store.Query{ProjectID: "p", Collection: "clicks"})
	if err != nil || len(got) != 2 || string(got[0]) != string(evs[0].JSON) || string(got[1]) != string(evs[1].JSON) {
		t.Fatalf("extract: %s %v", got, err)
	}
	for _, c := range []struct {
		f    store.Filter
		want int64
	}{
		{store.Filter{Path: []string{"a", "b"}, Operator: "eq", Value: "x"}, 1},
		{store.Filter{Path: []string{"n"}, Operator: "eq", Value: n("1.5")}, 1},
		{store.Filter{Path: []string{"n"}, Operator: "gt", Value: n("1e19")}, 1},
		{store.Filter{Path: []string{"keen", "uniqueness_token"}, Operator: "exists", Value: true}, 1},
		{store.Filter{Path: []string{"keen", "timestamp"}, Operator: "lt", Value: "2024-02-01"}, 1},
		{store.Filter{Path: []string{"keen", "id"}, Operator: "eq", Value: evs[1].ID}, 1},
		{store.Filter{Path: []string{"é"}, Operator: "eq", Value: "é"}, 1},
		{store.Filter{Path: []string{"tags"}, Operator: "eq", Value: "y"}, 1},
		{store.Filter{Path: []string{"o", "p"}, Operator: "eq", Value: nil}, 1},
		{store.Filter{Path: []string{"o", "q"}, Operator: "eq", Value: true}, 1},
		{store.Filter{Path: []string{"o"}, Operator: "exists", Value: true}, 1},
	} {
		got, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: "clicks", Filters: []store.Filter{c.f}})
		if err != nil || got != c.want {
			t.Errorf("%v: %d %v, want %d", c.f, got, err, c.want)
		}
	}
}

// TestInsertInvalidUTF8: an event whose JSON is not known to be valid
// UTF-8 has its strings checked; invalid bytes are stored (and filtered on)
// as U+FFFD instead of failing the Insert.
func TestInsertInvalidUTF8(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	ts := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	doc := `{"keen":{"id":"i1","timestamp":"2024-06-01T12:00:00.000Z","created_at":"2024-06-01T12:00:00.000Z"},"s":"a` + "\xff" + `b","l":["` + "\xc3" + `","ok"]}`
	ev := store.Event{ProjectID: "p", Collection: "c", ID: "i1", Timestamp: ts, CreatedAt: ts, JSON: []byte(doc)}
	if _, err := s.Insert(ctx, []store.Event{ev}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.Filter{
		{Path: []string{"s"}, Operator: "eq", Value: "a\uFFFDb"},
		{Path: []string{"l"}, Operator: "eq", Value: "\uFFFD"},
		{Path: []string{"l"}, Operator: "eq", Value: "ok"},
	} {
		got, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: "c", Filters: []store.Filter{f}})
		if err != nil || got != 1 {
			t.Errorf("%v: %d %v, want 1", f, got, err)
		}
	}
}
