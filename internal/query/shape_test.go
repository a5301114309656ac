package query

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

const threeDays = `"timeframe":{"start":"2026-01-01T00:00:00Z","end":"2026-01-04T00:00:00Z"},"interval":"daily"`

func TestShape(t *testing.T) {
	row := func(bucket int, value any, group ...any) store.Row {
		return store.Row{Bucket: bucket, Group: group, Value: value}
	}
	tf := func(d string) string {
		return `"timeframe":{"start":"2026-01-0` + d + `T00:00:00.000Z","end":"2026-01-0` + string(d[0]+1) + `T00:00:00.000Z"}`
	}
	cases := []struct {
		name, analysis, body string
		rows                 [][]store.Row
		want                 string
	}{
		{"count", Count, `{"event_collection":"c"}`, [][]store.Row{{row(0, int64(5))}}, `5`},
		{"count of nothing", Count, `{"event_collection":"c"}`, [][]store.Row{{row(0, int64(0))}}, `0`},
		{"sum of nothing is null", Sum, `{"event_collection":"c","target_property":"p"}`, [][]store.Row{{row(0, nil)}}, `null`},
		{"whole floats render as integers", Average, `{"event_collection":"c","target_property":"p"}`, [][]store.Row{{row(0, 15.0)}}, `15`},
		{"fractions stay", Average, `{"event_collection":"c","target_property":"p"}`, [][]store.Row{{row(0, 3.0952380952380953)}}, `3.0952380952380953`},
		{"overflowed sum is null", Sum, `{"event_collection":"c","target_property":"p"}`, [][]store.Row{{row(0, math.Inf(1))}}, `null`},
		{"select_unique sorted", SelectUnique, `{"event_collection":"c","target_property":"p"}`,
			[][]store.Row{{row(0, []any{"b", 3.0, "a", true, 1.5, false})}}, `[false,true,1.5,3,"a","b"]`},
		{"group_by", Count, `{"event_collection":"c","group_by":"customer.id"}`,
			[][]store.Row{{row(0, int64(2), "b"), row(0, int64(7), nil), row(0, int64(1), "a")}},
			`[{"customer.id":null,"result":7},{"customer.id":"a","result":1},{"customer.id":"b","result":2}]`},
		{"group_by two properties, booleans and arrays", Count, `{"event_collection":"c","group_by":["switch","tags"]}`,
			[][]store.Row{{row(0, int64(1), true, []string{"x"}), row(0, int64(3), false, nil), row(0, int64(2), true, json.RawMessage(`[1,2]`))}},
			`[{"switch":false,"tags":null,"result":3},{"switch":true,"tags":["x"],"result":1},{"switch":true,"tags":[1,2],"result":2}]`},
		{"order_by result DESC, limit", Count, `{"event_collection":"c","group_by":"g","order_by":{"property_name":"result","direction":"DESC"},"limit":2}`,
			[][]store.Row{{row(0, int64(2), "a"), row(0, int64(9), "b"), row(0, int64(5), "c"), row(0, int64(9), "d")}},
			`[{"g":"b","result":9},{"g":"d","result":9}]`},
		{"order_by group DESC then result", Sum, `{"event_collection":"c","target_property":"p","group_by":["g","h"],"order_by":[{"property_name":"g","direction":"DESC"},{"property_name":"result"}]}`,
			[][]store.Row{{row(0, 4.0, "a", "x"), row(0, nil, "b", "y"), row(0, 1.0, "a", "z"), row(0, 2.0, "b", "x")}},
			`[{"g":"b","h":"y","result":null},{"g":"b","h":"x","result":2},{"g":"a","h":"z","result":1},{"g":"a","h":"x","result":4}]`},
		{"group_by of nothing", Count, `{"event_collection":"c","group_by":"g"}`, [][]store.Row{nil}, `[]`},
		{"interval zero-filled", Count, `{"event_collection":"c",` + threeDays + `}`,
			[][]store.Row{{row(1, int64(5))}},
			`[{` + tf("1") + `,"value":0},{` + tf("2") + `,"value":5},{` + tf("3") + `,"value":0}]`},
		{"interval numeric empty is null", Maximum, `{"event_collection":"c","target_property":"p",` + threeDays + `}`,
			[][]store.Row{{row(2, 4.5)}},
			`[{` + tf("1") + `,"value":null},{` + tf("2") + `,"value":null},{` + tf("3") + `,"value":4.5}]`},
		{"interval select_unique empty is []", SelectUnique, `{"event_collection":"c","target_property":"p",` + threeDays + `}`,
			[][]store.Row{{row(0, []any{"z", "a"})}},
			`[{` + tf("1") + `,"value":["a","z"]},{` + tf("2") + `,"value":[]},{` + tf("3") + `,"value":[]}]`},
		{"interval and group_by, zero_fill", Count, `{"event_collection":"c","group_by":"g",` + threeDays + `}`,
			[][]store.Row{{row(0, int64(1), "a"), row(2, int64(4), "b")}},
			`[{` + tf("1") + `,"value":[{"g":"a","result":1},{"g":"b","result":0}]},` +
				`{` + tf("2") + `,"value":[{"g":"a","result":0},{"g":"b","result":0}]},` +
				`{` + tf("3") + `,"value":[{"g":"a","result":0},{"g":"b","result":4}]}]`},
		{"interval and group_by, no zero_fill", Count, `{"event_collection":"c","group_by":"g","zero_fill":false,` + threeDays + `}`,
			[][]store.Row{{row(0, int64(1), "a"), row(2, int64(4), "b")}},
			`[{` + tf("1") + `,"value":[{"g":"a","result":1}]},{` + tf("2") + `,"value":[]},{` + tf("3") + `,"value":[{"g":"b","result":4}]}]`},
		{"multi_analysis", MultiAnalysis, `{"event_collection":"c","analyses":{"total":{"analysis_type":"sum","target_property":"p"},"n":{"analysis_type":"count"}}}`,
			[][]store.Row{{row(0, int64(3))}, {row(0, nil)}}, `{"n":3,"total":null}`},
		{"multi_analysis group_by", MultiAnalysis, `{"event_collection":"c","group_by":"g","analyses":{"total":{"analysis_type":"sum","target_property":"p"},"n":{"analysis_type":"count"}},"order_by":{"property_name":"total","direction":"DESC"}}`,
			[][]store.Row{{row(0, int64(2), "a"), row(0, int64(1), "b")}, {row(0, 5.0, "a"), row(0, 143.45, "b")}},
			`[{"g":"b","n":1,"total":143.45},{"g":"a","n":2,"total":5}]`},
		{"multi_analysis interval", MultiAnalysis, `{"event_collection":"c",` + threeDays + `,"analyses":{"n":{"analysis_type":"count"},"u":{"analysis_type":"select_unique","target_property":"p"}}}`,
			[][]store.Row{{row(1, int64(2))}, {row(1, []any{"x"})}},
			`[{` + tf("1") + `,"value":{"n":0,"u":[]}},{` + tf("2") + `,"value":{"n":2,"u":["x"]}},{` + tf("3") + `,"value":{"n":0,"u":[]}}]`},
		{"multi_analysis interval and group_by", MultiAnalysis, `{"event_collection":"c","group_by":"g",` + threeDays + `,"analyses":{"n":{"analysis_type":"count"},"m":{"analysis_type":"minimum","target_property":"p"}}}`,
			[][]store.Row{{row(0, 1.0, "a")}, {row(0, int64(1), "a"), row(1, int64(1), "b")}},
			`[{` + tf("1") + `,"value":[{"g":"a","m":1,"n":1},{"g":"b","m":null,"n":0}]},` +
				`{` + tf("2") + `,"value":[{"g":"a","m":null,"n":0},{"g":"b","m":null,"n":1}]},` +
				`{` + tf("3") + `,"value":[{"g":"a","m":null,"n":0},{"g":"b","m":null,"n":0}]}]`},
	}
	for _, tc := range cases {
		q := mustParse(t, tc.analysis, tc.body)
		shaped, err := Shape(q, tc.rows)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, err := json.Marshal(shaped)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestProject(t *testing.T) {
	ev := json.RawMessage(`{"keen":{"timestamp":"2026-01-01T00:00:00.000Z","id":"x"},"price":10,"customer":{"id":"c1","name":"<A&B>"},"n":null}`)
	for _, tc := range []struct {
		paths [][]string
		want  string
	}{
		{[][]string{{"price"}}, `{"price":10}`},
		{[][]string{{"price"}, {"customer", "id"}, {"missing"}, {"price", "deeper"}}, `{"customer":{"id":"c1"},"price":10}`},
		{[][]string{{"customer"}, {"n"}}, `{"customer":{"id":"c1","name":"<A&B>"},"n":null}`},
		{[][]string{{"keen", "timestamp"}}, `{"keen":{"timestamp":"2026-01-01T00:00:00.000Z"}}`},
	} {
		got, err := project(ev, tc.paths)
		if err != nil || string(got) != tc.want {
			t.Errorf("%v: %s %v, want %s", tc.paths, got, err, tc.want)
		}
	}
}

// TestResultBound: the results an answer holds, zero-filled groups
// included, are bounded.
func TestResultBound(t *testing.T) {
	rows := [][]store.Row{{{Bucket: 0, Group: []any{"a"}, Value: int64(1)}, {Bucket: 2, Group: []any{"b"}, Value: int64(1)}}}
	for _, tc := range []struct {
		body string
		max  int
		ok   bool
	}{
		{`{"event_collection":"c","group_by":"g",` + threeDays + `}`, 6, true},  // 2 groups × 3 days
		{`{"event_collection":"c","group_by":"g",` + threeDays + `}`, 5, false}, // zero-filled
		{`{"event_collection":"c","group_by":"g","zero_fill":false,` + threeDays + `}`, 2, true},
		{`{"event_collection":"c","group_by":"g","zero_fill":false,` + threeDays + `}`, 1, false},
	} {
		q := mustParse(t, Count, tc.body)
		if q.MaxResults != limits.MaxQueryResults {
			t.Fatalf("MaxResults = %d", q.MaxResults)
		}
		q.MaxResults = tc.max
		_, err := Shape(q, rows)
		var qe *Error
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &qe) || qe.Name != ResultTooLarge)) {
			t.Errorf("%s, at most %d: %v", tc.body, tc.max, err)
		}
	}
}
