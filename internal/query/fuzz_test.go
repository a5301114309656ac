package query

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/registry"
)

// FuzzParse feeds arbitrary parameters to Parse: it must never panic, a
// refusal must carry a Keen error name, and an accepted query must be
// coherent (a timeframe that starts before it ends, a non-negative limit).
func FuzzParse(f *testing.F) {
	seeds := []struct{ analysis, collection, timeframe, timezone, filters, latest string }{
		{"count", "purchases", `"this_7_days"`, `"US/Pacific"`, `[{"property_name":"price","operator":"gt","property_value":5}]`, ``},
		{"extraction", "a b", `{"start":"2026-03-01T00:00:00Z","end":"2026-03-02T00:00:00.000+02:00"}`, `-28800`, `[]`, `100`},
		{"count", "x", `"previous_99999999999_years"`, `99999999999`, `[{"property_name":"a.b","operator":"in","property_value":[1,"x",null]}]`, ``},
		{"extraction", "x", `"this_1_weeks"`, `"Nowhere/Zone"`, `[{"property_name":"a","operator":"exists","property_value":true}]`, `-1`},
		{"median", "x", `null`, `null`, `null`, `null`},
		{"count", "", `{"start":"garbage"}`, `""`, `{"not":"a list"}`, `1e9`},
	}
	for _, s := range seeds {
		f.Add(s.analysis, s.collection, s.timeframe, s.timezone, s.filters, s.latest)
	}
	now := time.Date(2026, 12, 6, 12, 30, 0, 0, time.UTC)
	keyFilters := []registry.Filter{{PropertyName: "tenant", Operator: "eq", PropertyValue: "t1"}}
	f.Fuzz(func(t *testing.T, analysis, collection, timeframe, timezone, filters, latest string) {
		p := Params{}
		for name, v := range map[string]json.RawMessage{"timeframe": raw(timeframe), "timezone": raw(timezone), "filters": raw(filters), "latest": raw(latest)} {
			if v != nil {
				p[name] = v
			}
		}
		if collection != "" {
			p["event_collection"], _ = json.Marshal(collection)
		}
		q, err := Parse(analysis, "pid", p, keyFilters, now)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Name == "" {
				t.Fatalf("refusal without a Keen error name: %v", err)
			}
			return
		}
		if !q.Store.Start.IsZero() && !q.Store.End.IsZero() && q.Store.End.Before(q.Store.Start) {
			t.Fatalf("timeframe ends before it starts: %v .. %v", q.Store.Start, q.Store.End)
		}
		if q.Store.Latest < 0 {
			t.Fatalf("negative limit %d", q.Store.Latest)
		}
		if len(q.Store.Filters) == 0 || q.Store.Filters[len(q.Store.Filters)-1].Path[0] != "tenant" {
			t.Fatalf("the access key's filter is missing: %+v", q.Store.Filters)
		}
	})
}

// raw gives "" as no parameter, as an absent JSON field would be.
func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
