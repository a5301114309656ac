package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/event"
)

// TestHostileEventsStored: the shapes the event package accepts from a
// hostile producer (NUL characters in names and values, numbers past
// float64, the limit of properties, huge strings, deep nesting) are stored
// and queried in one Insert with another project's ordinary event, and the
// same collection's next ordinary event is stored after them.
func TestHostileEventsStored(t *testing.T) {
	p, err := event.NewProcessor(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	var props []string
	for i := range 1000 {
		props = append(props, fmt.Sprintf(`"q%d":%d`, i, i))
	}
	payloads := []string{
		`{"a\u0000b":"x\u0000y","n":{"\u0000":["\u0000","z"]}}`,
		`{"big":1e400,"neg":-1e400,"tiny":1e-400,"long":` + strings.Repeat("9", 10_000) + `}`,
		`{"s":"` + strings.Repeat("x", 890_000) + `"}`,
		`{"e":"` + strings.Repeat(`\u00e9`, 140_000) + `"}`,
		strings.Repeat(`{"d":`, 999) + `"deep"` + strings.Repeat("}", 999),
		"{" + strings.Join(props, ",") + "}",
	}
	var evs []store.Event
	for i, payload := range payloads {
		for _, leaves := range []bool{false, true} {
			off := int64(2*i) + map[bool]int64{false: 0, true: 1}[leaves]
			ev, err := p.Process(event.Input{Payload: []byte(payload), ID: event.ID("raw.h", 0, off), CreatedAt: now, Leaves: leaves})
			if err != nil {
				t.Fatalf("%.80s: %v", payload, err)
			}
			evs = append(evs, store.Event{ProjectID: "p", Collection: fmt.Sprint("h", i), ID: ev.ID, Timestamp: ev.Timestamp, CreatedAt: ev.CreatedAt,
				JSON: ev.JSON, ValidUTF8: true, Leaves: ev.Leaves, Source: store.Source{Topic: "raw.h", Partition: 0, Offset: off}})
		}
	}
	ordinary := func(project, id string) store.Event {
		return store.Event{ProjectID: project, Collection: "c", ID: id, Timestamp: now, CreatedAt: now,
			JSON: []byte(`{"keen":{"id":"` + id + `","timestamp":"2024-06-01T12:00:00.000Z","created_at":"2024-06-01T12:00:00.000Z"},"x":1}`)}
	}
	res, err := s.Insert(ctx, append(evs, ordinary("other", "o1")))
	if err != nil || !sameResult(res, tally{Inserted: len(evs) + 1}) {
		t.Fatalf("%+v %v", res, err)
	}
	for i := range payloads {
		extractsExactly(t, s, "p", fmt.Sprint("h", i), evs[2*i:2*i+2])
	}
	for _, c := range []struct {
		coll string
		f    store.Filter
	}{
		{"h0", store.Filter{Path: []string{"a\x00b"}, Operator: "eq", Value: "x\x00y"}},
		{"h0", store.Filter{Path: []string{"n", "\x00"}, Operator: "contains", Value: "\x00"}},
		{"h1", store.Filter{Path: []string{"big"}, Operator: "gt", Value: n("1e300")}},
		{"h1", store.Filter{Path: []string{"neg"}, Operator: "lt", Value: n("-1e300")}},
		{"h1", store.Filter{Path: []string{"tiny"}, Operator: "eq", Value: n("0")}},
		{"h3", store.Filter{Path: []string{"e"}, Operator: "eq", Value: strings.Repeat("é", 140_000)}},
		{"h4", store.Filter{Path: []string{"d", "d", "d"}, Operator: "exists", Value: true}},
		{"h5", store.Filter{Path: []string{"q999"}, Operator: "eq", Value: n("999")}},
	} {
		got, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: c.coll, Filters: []store.Filter{c.f}})
		if err != nil || got != 2 {
			t.Errorf("%s %q %s: %d %v, want 2", c.coll, c.f.Path, c.f.Operator, got, err)
		}
	}
	if res, err := s.Insert(ctx, []store.Event{ordinary("p", "next")}); err != nil || res.Count(store.Stored) != 1 {
		t.Fatalf("the next event: %+v %v", res, err)
	}
}
