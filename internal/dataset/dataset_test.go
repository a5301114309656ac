package dataset_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
)

var now = time.Date(2026, 12, 6, 12, 30, 0, 0, time.UTC)

func TestRequestQuery(t *testing.T) {
	one := registry.Dataset{ProjectID: "p", Name: "d", IndexBy: []string{"user.id"},
		Query: json.RawMessage(`{"analysis_type":"count","event_collection":"c","timeframe":"this_3_days","interval":"daily","filters":[{"property_name":"x","operator":"exists","property_value":true}]}`)}
	two := one
	two.IndexBy = []string{"user.id", "plan"}
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name       string
		ds         registry.Dataset
		index, tf  string
		wantValues string // the index filters' values, in order
		start, end time.Time
		wantErr    string
	}{
		{name: "string", ds: one, index: "u-1", tf: "this_2_days", wantValues: "[string:u-1]", start: day(5), end: day(7)},
		{name: "number", ds: one, index: "123", tf: "this_2_days", wantValues: "[json.Number:123]", start: day(5), end: day(7)},
		{name: "quoted number is a string", ds: one, index: `"123"`, tf: "this_2_days", wantValues: "[string:123]", start: day(5), end: day(7)},
		{name: "leading zeros are text", ds: one, index: "0012", tf: "this_2_days", wantValues: "[string:0012]", start: day(5), end: day(7)},
		{name: "a number past 2^53 keeps its digits", ds: one, index: "12345678901234567891", tf: "this_day", wantValues: "[json.Number:12345678901234567891]", start: day(6), end: day(7)},
		{name: "boolean", ds: one, index: "true", tf: "this_day", wantValues: "[bool:true]", start: day(6), end: day(7)},
		{name: "cut to the dataset's timeframe", ds: one, index: "u", tf: "this_10_days", wantValues: "[string:u]", start: day(4), end: day(7)},
		{name: "absolute, cut", ds: one, index: "u", tf: `{"start":"2026-12-01T00:00:00Z","end":"2026-12-05T12:00:00Z"}`, wantValues: "[string:u]", start: day(4), end: day(5).Add(12 * time.Hour)},
		{name: "two properties", ds: two, index: `{"plan":"pro","user.id":7}`, tf: "this_day", wantValues: "[json.Number:7 string:pro]", start: day(6), end: day(7)},
		{name: "two properties need an object", ds: two, index: "7", tf: "this_day", wantErr: "InvalidRequestError"},
		{name: "an extra property", ds: two, index: `{"plan":"pro","user.id":7,"x":1}`, tf: "this_day", wantErr: "InvalidRequestError"},
		{name: "outside", ds: one, index: "u", tf: "previous_1_years", wantErr: "InvalidRequestError"},
		{name: "bad timeframe", ds: one, index: "u", tf: "someday", wantErr: "TimeframeDefinitionError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := dataset.ParseRequest(c.ds, url.Values{"index_by": {c.index}, "timeframe": {c.tf}}, now)
			var q *query.Query
			if err == nil {
				q, err = req.Query(nil)
			}
			var qe *query.Error
			if c.wantErr != "" {
				if !errors.As(err, &qe) || qe.Name != c.wantErr {
					t.Fatalf("error %v, want %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fs := q.Store.Filters
			if len(fs) != 1+len(c.ds.IndexBy) || fs[0].Operator != "exists" {
				t.Fatalf("filters %+v", fs)
			}
			var vals []any
			for _, f := range fs[1:] {
				if f.Operator != "eq" {
					t.Fatalf("index filter %+v", f)
				}
				vals = append(vals, fmt.Sprintf("%T:%v", f.Value, f.Value))
			}
			if got := fmt.Sprint(vals); got != c.wantValues {
				t.Fatalf("index values %s, want %s", got, c.wantValues)
			}
			if !q.Store.Start.Equal(c.start) || !q.Store.End.Equal(c.end) {
				t.Fatalf("timeframe %s – %s, want %s – %s", q.Store.Start, q.Store.End, c.start, c.end)
			}
		})
	}
}
