package duckdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// TestOutcomesPerEvent: Insert says what it did with each event, in the
// order given; an event processed again gets the JSON stored the first
// time (not the JSON it comes with now), whether the partition's mark or a
// keen.id lookup finds it; a duplicate processed again is Existing without
// JSON (it was never stored).
func TestOutcomesPerEvent(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	at := func(ev store.Event, off int64) store.Event {
		if off >= 0 {
			ev.Source = store.Source{Topic: "raw", Partition: 3, Offset: off}
		}
		return ev
	}
	first := []store.Event{
		at(tokenEvent("a", "tok", t0), 0),
		at(tokenEvent("b", "tok", t0.Add(time.Second)), 1), // the token is held by a
		at(tokenEvent("c", "", t0), -1),                    // no Source: looked up by keen.id
	}
	res, err := s.Insert(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Status{store.Stored, store.Duplicate, store.Stored}
	for i, o := range res.Outcomes {
		if o.Status != want[i] || o.JSON != nil {
			t.Errorf("first, event %d: %+v, want status %d without JSON", i, o, want[i])
		}
	}
	if len(res.Outcomes) != len(want) {
		t.Fatalf("%d outcomes for %d events", len(res.Outcomes), len(want))
	}
	// Processed again, created later: the JSON now differs from the stored.
	again := make([]store.Event, len(first))
	for i, ev := range first {
		ev.JSON = []byte(strings.Replace(string(ev.JSON), `"x":1`, `"x":2`, 1))
		if string(ev.JSON) == string(first[i].JSON) {
			t.Fatalf("event %d: the test's edit did not apply to %s", i, ev.JSON)
		}
		again[i] = ev
	}
	again = append(again, at(tokenEvent("d", "", t0), 2))
	res, err = s.Insert(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	wantAgain := []store.Outcome{
		{Status: store.Existing, JSON: first[0].JSON},
		{Status: store.Existing}, // the duplicate: processed, never stored
		{Status: store.Existing, JSON: first[2].JSON},
		{Status: store.Stored},
	}
	if len(res.Outcomes) != len(wantAgain) {
		t.Fatalf("%d outcomes for %d events", len(res.Outcomes), len(wantAgain))
	}
	for i, o := range res.Outcomes {
		w := wantAgain[i]
		if o.Status != w.Status || string(o.JSON) != string(w.JSON) || (w.JSON == nil) != (o.JSON == nil) {
			t.Errorf("again, event %d: %+v (JSON %s), want %+v (JSON %s)", i, o, o.JSON, w, w.JSON)
		}
	}
}
