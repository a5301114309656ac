package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
)

var now = time.Date(2026, 11, 18, 15, 4, 5, 0, time.UTC) // a Wednesday

func TestTimeframes(t *testing.T) {
	cases := []struct {
		tf, tz     string
		start, end string
	}{
		{`"this_2_days"`, ``, "2026-11-17T00:00:00Z", "2026-11-19T00:00:00Z"},
		{`"previous_2_days"`, ``, "2026-11-16T00:00:00Z", "2026-11-18T00:00:00Z"},
		{`"this_1_hours"`, ``, "2026-11-18T15:00:00Z", "2026-11-18T16:00:00Z"},
		{`"previous_3_minutes"`, ``, "2026-11-18T15:01:00Z", "2026-11-18T15:04:00Z"},
		{`"this_week"`, ``, "2026-11-15T00:00:00Z", "2026-11-22T00:00:00Z"},
		{`"previous_month"`, ``, "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"},
		{`"this_1_years"`, ``, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{`"yesterday"`, ``, "2026-11-17T00:00:00Z", "2026-11-18T00:00:00Z"},
		{`"today"`, `"US/Pacific"`, "2026-11-18T08:00:00Z", "2026-11-19T08:00:00Z"},
		{`"today"`, `-28800`, "2026-11-18T08:00:00Z", "2026-11-19T08:00:00Z"},
		{`{"start":"2026-01-01T00:00:00.000Z","end":"2026-02-01T00:00:00+01:00"}`, ``, "2026-01-01T00:00:00Z", "2026-01-31T23:00:00Z"},
	}
	for _, tc := range cases {
		q, err := Parse(Count, "p", Params{EventCollection: "c", Timeframe: json.RawMessage(tc.tf), Timezone: json.RawMessage(tc.tz)}, nil, now)
		if err != nil {
			t.Errorf("%s: %v", tc.tf, err)
			continue
		}
		if got := q.Start.Format(time.RFC3339) + " " + q.End.Format(time.RFC3339); got != tc.start+" "+tc.end {
			t.Errorf("%s %s = %s, want %s %s", tc.tf, tc.tz, got, tc.start, tc.end)
		}
	}
	q, err := Parse(Count, "p", Params{EventCollection: "c"}, nil, now)
	if err != nil || !q.Start.IsZero() || !q.End.IsZero() {
		t.Errorf("no timeframe: %+v %v", q, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		analysis string
		p        Params
		want     string
	}{
		{"sum", Params{EventCollection: "c"}, "not supported"},
		{Count, Params{}, "event_collection"},
		{Count, Params{EventCollection: "c", Timeframe: json.RawMessage(`"last_week"`)}, "relative timeframe"},
		{Count, Params{EventCollection: "c", Timeframe: json.RawMessage(`"this_0_days"`)}, "between 1"},
		{Count, Params{EventCollection: "c", Timeframe: json.RawMessage(`{"start":"x","end":"y"}`)}, "ISO-8601"},
		{Count, Params{EventCollection: "c", Timeframe: json.RawMessage(`{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}`)}, "after"},
		{Count, Params{EventCollection: "c", Timezone: json.RawMessage(`"Mars/Olympus"`)}, "time zone"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`{}`)}, "array"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`[{"operator":"eq"}]`)}, "property_name"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`[{"property_name":"a","operator":"like","property_value":1}]`)}, "not supported"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`[{"property_name":"a","operator":"in","property_value":1}]`)}, "array"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`[{"property_name":"a","operator":"exists","property_value":"yes"}]`)}, "true or false"},
		{Count, Params{EventCollection: "c", Filters: json.RawMessage(`[{"property_name":"a..b","operator":"eq","property_value":1}]`)}, "empty part"},
		{Extraction, Params{EventCollection: "c", Latest: json.RawMessage(`-1`)}, "latest"},
		{Extraction, Params{EventCollection: "c", Latest: json.RawMessage(`100001`)}, `"latest" is 100001; an extraction returns at most 100000 events`},
	}
	for _, tc := range cases {
		_, err := Parse(tc.analysis, "p", tc.p, nil, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestFiltersAndKeyFilters(t *testing.T) {
	q, err := Parse(Extraction, "p", Params{EventCollection: "c", Latest: json.RawMessage(`5`),
		Filters: json.RawMessage(`[{"property_name":"customer.id","operator":"eq","property_value":"c1"},{"property_name":"price","operator":"gt","property_value":2.5}]`)},
		[]registry.Filter{{PropertyName: "tenant", Operator: "in", PropertyValue: []any{"a", 1.0}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Filters) != 3 || q.Latest != 5 || strings.Join(q.Filters[0].Path, "/") != "customer/id" ||
		q.Filters[1].Value != json.Number("2.5") || q.Filters[2].Value.([]any)[1] != json.Number("1") {
		t.Fatalf("query = %+v", q)
	}
}

// TestExtractionBound: an extraction is bounded to Keen's 100,000 events
// (the store refuses more); latest may ask for that many.
func TestExtractionBound(t *testing.T) {
	for _, c := range []struct {
		analysis, latest string
		limit, max       int
	}{
		{Extraction, "", 0, limits.MaxExtractionEvents},
		{Extraction, "100000", 100_000, limits.MaxExtractionEvents},
		{Count, "", 0, 0},
	} {
		p := Params{EventCollection: "c"}
		if c.latest != "" {
			p.Latest = json.RawMessage(c.latest)
		}
		q, err := Parse(c.analysis, "p", p, nil, now)
		if err != nil || q.Latest != c.limit || q.MaxEvents != c.max {
			t.Errorf("%s latest %q: Limit %d MaxEvents %d %v; want %d %d", c.analysis, c.latest, q.Latest, q.MaxEvents, err, c.limit, c.max)
		}
	}
}
