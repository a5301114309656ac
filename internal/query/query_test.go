package query

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

var now = time.Date(2026, 11, 18, 15, 4, 5, 0, time.UTC) // a Wednesday

func parse(analysis, body string) (*Query, error) {
	p, err := FromJSON([]byte(body))
	if err != nil {
		return nil, err
	}
	return Parse(analysis, "p", p, nil, now)
}

func mustParse(t *testing.T, analysis, body string) *Query {
	t.Helper()
	q, err := parse(analysis, body)
	if err != nil {
		t.Fatalf("%s %s: %v", analysis, body, err)
	}
	return q
}

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
		{`"today"`, `"-28800"`, "2026-11-18T08:00:00Z", "2026-11-19T08:00:00Z"},
		{`{"start":"2026-01-01T00:00:00.000Z","end":"2026-02-01T00:00:00+01:00"}`, ``, "2026-01-01T00:00:00Z", "2026-01-31T23:00:00Z"},
	}
	for _, tc := range cases {
		body := `{"event_collection":"c","timeframe":` + tc.tf
		if tc.tz != "" {
			body += `,"timezone":` + tc.tz
		}
		q, err := parse(Count, body+"}")
		if err != nil {
			t.Errorf("%s: %v", tc.tf, err)
			continue
		}
		if got := q.Store.Start.Format(time.RFC3339) + " " + q.Store.End.Format(time.RFC3339); got != tc.start+" "+tc.end {
			t.Errorf("%s %s = %s, want %s %s", tc.tf, tc.tz, got, tc.start, tc.end)
		}
	}
	q := mustParse(t, Count, `{"event_collection":"c"}`)
	if !q.Store.Start.IsZero() || !q.Store.End.IsZero() {
		t.Errorf("no timeframe: %+v", q.Store)
	}
}

// TestRefusals: every refusal carries Keen's error name and names what is
// wrong.
func TestRefusals(t *testing.T) {
	const c = `"event_collection":"c"`
	cases := []struct {
		analysis, body string
		name, want     string
	}{
		{"sums", `{` + c + `}`, "InvalidAnalysisTypeError", `"sums" is not an analysis type`},
		{Count, `{}`, "InvalidQueryError", `"event_collection" is required`},
		{Count, `{` + c + `,"analysis_type":"sum"}`, "InvalidQueryError", `"analysis_type" is "sum" but the query runs count`},
		{Count, `{` + c + `,"bogus":1}`, "InvalidQueryError", `"bogus" is not a query parameter`},
		{Count, `{` + c + `,"target_property":"x"}`, "InvalidQueryError", `"target_property" is not a parameter of count`},
		{Count, `{` + c + `,"latest":5}`, "InvalidQueryError", `"latest" is not a parameter of count`},
		{Sum, `{` + c + `}`, "InvalidQueryError", `"target_property" is required for sum`},
		{SelectUnique, `{` + c + `}`, "InvalidQueryError", `"target_property" is required for select_unique`},
		{Percentile, `{` + c + `,"target_property":"x"}`, "InvalidQueryError", `"percentile" is required`},
		{Percentile, `{` + c + `,"target_property":"x","percentile":101}`, "InvalidQueryError", `from 0 to 100`},
		{Median, `{` + c + `,"target_property":"x","percentile":50}`, "InvalidQueryError", `"percentile" is not a parameter of median`},
		{Sum, `{` + c + `,"target_property":"a..b"}`, "InvalidQueryError", `empty part`},
		{Count, `{` + c + `,"timeframe":"last_week"}`, "TimeframeDefinitionError", "relative timeframe"},
		{Count, `{` + c + `,"timeframe":"this_0_days"}`, "TimeframeDefinitionError", "between 1"},
		{Count, `{` + c + `,"timeframe":{"start":"x","end":"y"}}`, "TimeframeDefinitionError", "ISO-8601"},
		{Count, `{` + c + `,"timeframe":{"start":"2026-01-01T00:00:00Z"}}`, "TimeframeDefinitionError", "ISO-8601"},
		{Count, `{` + c + `,"timeframe":{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}}`, "TimeframeDefinitionError", "after"},
		{Count, `{` + c + `,"timeframe":{"start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z","tz":1}}`, "TimeframeDefinitionError", `"tz"`},
		{Count, `{` + c + `,"timezone":"Mars/Olympus"}`, "InvalidQueryError", "time zone"},
		{Count, `{` + c + `,"timezone":90000}`, "InvalidQueryError", "within a day"},
		{Count, `{` + c + `,"interval":"daily"}`, "TimeframeDefinitionError", `"interval" needs a "timeframe"`},
		{Count, `{` + c + `,"timeframe":"this_2_days","interval":"fortnightly"}`, "InvalidQueryError", `"fortnightly" is not an interval`},
		{Count, `{` + c + `,"timeframe":"this_2_days","interval":"every_0_hours"}`, "InvalidQueryError", `N must be between`},
		{Count, `{` + c + `,"timeframe":"this_30_days","interval":"minutely"}`, "InvalidQueryError", "more than 20000 intervals"},
		{Count, `{` + c + `,"zero_fill":"yes"}`, "InvalidQueryError", `"zero_fill" must be true or false`},
		{Count, `{` + c + `,"include_metadata":true}`, "InvalidQueryError", `"include_metadata": true is not supported`},
		{Count, `{` + c + `,"max_age":-5}`, "InvalidQueryError", `"max_age" must be a positive integer`},
		{Count, `{` + c + `,"group_by":7}`, "InvalidQueryError", `"group_by" must be a property name`},
		{Count, `{` + c + `,"group_by":[],"order_by":{"property_name":"result"}}`, "InvalidQueryError", `"order_by" is only allowed with "group_by"`},
		{Count, `{` + c + `,"group_by":["a","a"]}`, "InvalidQueryError", `names "a" twice`},
		{Count, `{` + c + `,"order_by":{"property_name":"result"}}`, "InvalidQueryError", `"order_by" is only allowed with "group_by"`},
		{Count, `{` + c + `,"group_by":"a","limit":3}`, "InvalidQueryError", `"limit" is only allowed with "order_by"`},
		{Count, `{` + c + `,"group_by":"a","order_by":{"property_name":"b"}}`, "InvalidQueryError", `"b" must be one of the group_by properties or "result"`},
		{Count, `{` + c + `,"group_by":"a","order_by":{"property_name":"a","direction":"UP"}}`, "InvalidQueryError", `"UP" must be "ASC" or "DESC"`},
		{Count, `{` + c + `,"group_by":"a","order_by":{"property_name":"a","sort":"x"}}`, "InvalidQueryError", `"order_by" is {"property_name"`},
		{Count, `{` + c + `,"group_by":"a","order_by":{"property_name":"a"},"limit":0}`, "InvalidQueryError", `"limit" must be a positive integer`},
		{Count, `{` + c + `,"filters":{}}`, "InvalidQueryError", "array"},
		{Count, `{` + c + `,"filters":[{"operator":"eq"}]}`, "InvalidQueryError", "filter 0: a filter needs \"property_name\""},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"like","property_value":1}]}`, "InvalidQueryError", `"like" is not a Keen filter operator`},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"eq","property_value":1,"extra":2}]}`, "InvalidQueryError", `unknown field "extra"`},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"eq","property_value":{"x":1}}]}`, "InvalidQueryError", "not an object"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"in","property_value":1}]}`, "InvalidQueryError", "array"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"exists","property_value":"yes"}]}`, "InvalidQueryError", "true or false"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"contains","property_value":3}]}`, "InvalidQueryError", "takes a string"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"gt","property_value":true}]}`, "InvalidQueryError", "a number or a string"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"regex","property_value":"(("}]}`, "InvalidQueryError", "not an RE2 regular expression"},
		{Count, `{` + c + `,"filters":[{"property_name":"a..b","operator":"eq","property_value":1}]}`, "InvalidQueryError", "empty part"},
		{Count, `{` + c + `,"filters":[{"property_name":"geo","operator":"within","property_value":{"coordinates":[1,2],"max_distance_miles":5}}]}`, "InvalidPropertyNameForGeoFilter", "other than keen.location.coordinates"},
		{Count, `{` + c + `,"filters":[{"property_name":"keen.location.coordinates","operator":"within","property_value":{"coordinates":[1],"max_distance_miles":5}}]}`, "InvalidQueryError", `"within" takes`},
		{Count, `{` + c + `,"filters":[{"operator":"or","operands":[]}]}`, "InvalidQueryError", "non-empty array of filters"},
		{Count, `{` + c + `,"filters":[{"operator":"or","operands":[{"property_name":"a","operator":"nope","property_value":1}]}]}`, "InvalidQueryError", `filter 0: operand 0: operator "nope"`},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"eq","property_value":"x","property_type":"Number"}]}`, "InvalidQueryError", "not a Number"},
		{Count, `{` + c + `,"filters":[{"property_name":"a","operator":"eq","property_value":"x","property_type":"Text"}]}`, "InvalidQueryError", `"Text" is not one of`},
		{Extraction, `{` + c + `,"latest":-1}`, "InvalidQueryError", `"latest" must be a positive integer`},
		{Extraction, `{` + c + `,"latest":100001}`, "InvalidQueryError", `"latest" is 100001; an extraction returns at most 100000 events`},
		{Extraction, `{` + c + `,"email":"a@b.c"}`, "InvalidQueryError", `"email"`},
		{Extraction, `{` + c + `,"group_by":"a"}`, "InvalidQueryError", `"group_by" is not a parameter of extraction`},
		{Extraction, `{` + c + `,"property_names":{"a":1}}`, "InvalidQueryError", `"property_names" must be a property name or an array`},
		{Extraction, `{` + c + `,"property_names":[""]}`, "InvalidQueryError", `"property_names" must not be empty`},
		{MultiAnalysis, `{` + c + `}`, "InvalidQueryError", `"analyses" is required`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"extraction"}}}`, "InvalidAnalysisTypeError", `"x": "extraction" is not an analysis a multi_analysis runs`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"sum"}}}`, "InvalidQueryError", `"x": "target_property" is required for sum`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"count","target_property":"a"}}}`, "InvalidQueryError", `count takes no "target_property"`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"percentile","target_property":"a"}}}`, "InvalidQueryError", `"percentile" is required`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"count","filters":[]}}}`, "InvalidQueryError", `"filters" is not a parameter of an analysis in a multi_analysis`},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"count"}},"group_by":"g","order_by":{"property_name":"result"}}`, "InvalidQueryError", "one of the analyses' labels"},
		{MultiAnalysis, `{` + c + `,"analyses":{"x":{"analysis_type":"count"}},"target_property":"a"}`, "InvalidQueryError", `"target_property" is not a parameter of multi_analysis`},
		{Funnel, `{}`, "InvalidQueryError", `"steps" is required`},
		{Funnel, `{"steps":[]}`, "InvalidQueryError", `"steps" must be a non-empty array`},
		{Funnel, `{` + c + `,"steps":[{"event_collection":"a","actor_property":"u"}]}`, "InvalidQueryError", `"event_collection" is not a parameter of funnel`},
		{Funnel, `{"steps":[{"event_collection":"a"}]}`, "InvalidQueryError", `step 0: "actor_property" is required`},
		{Funnel, `{"steps":[{"actor_property":"u"}]}`, "InvalidQueryError", `step 0: "event_collection" is required`},
		{Funnel, `{"steps":[{"event_collection":"a","actor_property":"u","optional":true}]}`, "InvalidQueryError", "the first step"},
		{Funnel, `{"steps":[{"event_collection":"a","actor_property":"u","inverted":true}]}`, "InvalidQueryError", "the first step"},
		{Funnel, `{"steps":[{"event_collection":"a","actor_property":"u"},{"event_collection":"b","actor_property":"u","timeframe":"soon"}]}`, "TimeframeDefinitionError", `step 1: "timeframe" "soon"`},
		{Funnel, `{"steps":[{"event_collection":"a","actor_property":"u","group_by":"x"}]}`, "InvalidQueryError", `"group_by" is not a parameter of a funnel step`},
		{Funnel, `{"steps":[{"event_collection":"a","actor_property":"u","with_actors":"yes"}]}`, "InvalidQueryError", `"with_actors" must be true or false`},
	}
	for _, tc := range cases {
		_, err := parse(tc.analysis, tc.body)
		var qe *Error
		if !errors.As(err, &qe) || qe.Name != tc.name || !strings.Contains(qe.Message, tc.want) {
			t.Errorf("%s %s: err = %v, want %s containing %q", tc.analysis, tc.body, err, tc.name, tc.want)
		}
	}
}

func TestFiltersAndKeyFilters(t *testing.T) {
	p, _ := FromJSON([]byte(`{"event_collection":"c","latest":5,"filters":[
		{"property_name":"customer.id","operator":"eq","property_value":"c1"},
		{"property_name":"price","operator":"gt","property_value":2.5},
		{"operator":"or","operands":[{"property_name":"a","operator":"regex","property_value":"^x"},{"property_name":"b","operator":"exists","property_value":false}]},
		{"property_name":"keen.location.coordinates","operator":"within","property_value":{"coordinates":[-122.4,37.8],"max_distance_miles":10}},
		{"property_name":"n","operator":"lt","property_value":"5","property_type":"Number"},
		{"property_name":"keen.timestamp","operator":"gte","property_value":"2026-01-01T01:00:00+01:00","property_type":"Datetime"}]}`))
	q, err := Parse(Extraction, "p", p, []registry.Filter{{PropertyName: "tenant", Operator: "in", PropertyValue: []any{"a", 1.0}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Filter{
		{Path: []string{"customer", "id"}, Operator: "eq", Value: "c1"},
		{Path: []string{"price"}, Operator: "gt", Value: json.Number("2.5")},
		{Operator: "or", Or: []store.Filter{
			{Path: []string{"a"}, Operator: "regex", Value: "^x"},
			{Path: []string{"b"}, Operator: "exists", Value: false}}},
		{Path: []string{"keen", "location", "coordinates"}, Operator: "within", Value: store.Geo{Longitude: -122.4, Latitude: 37.8, MaxMiles: 10}},
		{Path: []string{"n"}, Operator: "lt", Value: json.Number("5")},
		{Path: []string{"keen", "timestamp"}, Operator: "gte", Value: "2026-01-01T00:00:00.000Z"},
		{Path: []string{"tenant"}, Operator: "in", Value: []any{"a", json.Number("1")}},
	}
	if !reflect.DeepEqual(q.Store.Filters, want) || q.Store.Latest != 5 {
		t.Fatalf("filters = %#v\nwant %#v", q.Store.Filters, want)
	}
}

// TestKeyFiltersEverywhere: an access key's filters are ANDed into every
// kind of query, every funnel step included.
func TestKeyFiltersEverywhere(t *testing.T) {
	kf := []registry.Filter{{PropertyName: "tenant", Operator: "eq", PropertyValue: "t1"}}
	last := func(fs []store.Filter) bool {
		return len(fs) > 0 && fs[len(fs)-1].Path[0] == "tenant" && fs[len(fs)-1].Value == "t1"
	}
	for analysis, body := range map[string]string{
		Count:         `{"event_collection":"c"}`,
		Sum:           `{"event_collection":"c","target_property":"x","filters":[{"property_name":"a","operator":"eq","property_value":1}]}`,
		MultiAnalysis: `{"event_collection":"c","analyses":{"n":{"analysis_type":"count"}}}`,
		Extraction:    `{"event_collection":"c"}`,
	} {
		p, _ := FromJSON([]byte(body))
		q, err := Parse(analysis, "p", p, kf, now)
		if err != nil || !last(q.Store.Filters) {
			t.Errorf("%s: %v %+v", analysis, err, q)
		}
	}
	p, _ := FromJSON([]byte(`{"steps":[{"event_collection":"a","actor_property":"u"},{"event_collection":"b","actor_property":"u","filters":[{"property_name":"x","operator":"eq","property_value":1}]}]}`))
	q, err := Parse(Funnel, "p", p, kf, now)
	if err != nil || !last(q.Steps[0].Query.Filters) || !last(q.Steps[1].Query.Filters) || len(q.Steps[1].Query.Filters) != 2 {
		t.Errorf("funnel: %v %+v", err, q)
	}
}

func TestParseShapes(t *testing.T) {
	q := mustParse(t, Percentile, `{"event_collection":"c","target_property":"item.price","percentile":99.5,"group_by":["customer.id","b"],
		"order_by":[{"property_name":"result","direction":"DESC"},"b"],"limit":3,"max_age":300}`)
	if q.Store.Analysis != store.Percentile || q.Store.Percentile != 99.5 || !reflect.DeepEqual(q.Store.Target, []string{"item", "price"}) ||
		!reflect.DeepEqual(q.GroupBy, []string{"customer.id", "b"}) || !reflect.DeepEqual(q.Store.GroupBy, [][]string{{"customer", "id"}, {"b"}}) ||
		!reflect.DeepEqual(q.OrderBy, []Order{{"result", true}, {"b", false}}) || q.Limit != 3 || !q.ZeroFill {
		t.Errorf("percentile: %+v", q)
	}
	// keen-analysis.js sends the analysis again, and a timezone, in every body.
	q = mustParse(t, Median, `{"analysis_type":"median","timezone":3600,"event_collection":"c","target_property":"x","group_by":"g","zero_fill":false,"order_by":{"property_name":"g"}}`)
	if q.Store.Analysis != store.Median || !reflect.DeepEqual(q.GroupBy, []string{"g"}) || q.ZeroFill || q.Limit != 0 {
		t.Errorf("median: %+v", q)
	}
	q = mustParse(t, MultiAnalysis, `{"event_collection":"c","analyses":{"total":{"analysis_type":"sum","target_property":"p"},"n":{"analysis_type":"count"},
		"p90":{"analysis_type":"percentile","target_property":"p","percentile":90}},"group_by":"g","order_by":{"property_name":"total","direction":"desc"}}`)
	want := []Labelled{{"n", store.Count, nil, 0}, {"p90", store.Percentile, []string{"p"}, 90}, {"total", store.Sum, []string{"p"}, 0}}
	if !reflect.DeepEqual(q.Analyses, want) || q.Store.Analysis != "" || !reflect.DeepEqual(q.OrderBy, []Order{{"total", true}}) {
		t.Errorf("multi_analysis: %+v", q)
	}
	// Nulls are no value; empty group_by and property_names are none.
	q = mustParse(t, Extraction, `{"event_collection":"c","property_names":[],"group_by":null,"interval":null}`)
	if q.PropertyNames != nil || q.GroupBy != nil {
		t.Errorf("empty property_names: %+v", q)
	}
	mustParse(t, Funnel, `{"filters":[],"analyses":{},"steps":[{"event_collection":"a","actor_property":"u"}]}`)
	q = mustParse(t, Count, `{"event_collection":"c","group_by":[]}`)
	if q.GroupBy != nil {
		t.Errorf("empty group_by: %+v", q)
	}
	q = mustParse(t, Extraction, `{"event_collection":"c","property_names":["price","customer.id"]}`)
	if !reflect.DeepEqual(q.PropertyNames, [][]string{{"price"}, {"customer", "id"}}) || q.Store.MaxEvents != limits.MaxExtractionEvents {
		t.Errorf("extraction: %+v", q)
	}
	q = mustParse(t, Funnel, `{"timeframe":"this_2_days","timezone":"US/Pacific","steps":[
		{"event_collection":"a","actor_property":"user.id"},
		{"event_collection":"b","actor_property":"user.id","timeframe":"previous_1_days","timezone":"UTC","optional":true,"with_actors":true},
		{"event_collection":"c","actor_property":"user.id","inverted":true}]}`)
	s0, s1 := q.Steps[0], q.Steps[1]
	if len(q.Steps) != 3 || s0.Query.Analysis != store.SelectUnique || !reflect.DeepEqual(s0.Query.Target, []string{"user", "id"}) ||
		s0.Query.Start.Format(time.RFC3339) != "2026-11-17T08:00:00Z" || s1.Query.Start.Format(time.RFC3339) != "2026-11-17T00:00:00Z" ||
		!s1.Optional || !s1.WithActors || s1.Inverted || !q.Steps[2].Inverted {
		t.Errorf("funnel: %+v", q.Steps)
	}
	echo, _ := json.Marshal(s0.Echo)
	if string(echo) != `{"actor_property":"user.id","event_collection":"a","filters":[],"inverted":false,"optional":false,"timeframe":"this_2_days","timezone":"US/Pacific","with_actors":false}` {
		t.Errorf("step echo = %s", echo)
	}
}

// TestFromURL: GET parameters, with JSON-valued ones decoded, as Keen's
// SDKs send them (Python json.dumps filters, group_by lists, order_by,
// steps, analyses, property_names; the gem sends a single group_by or
// property_names as plain text).
func TestFromURL(t *testing.T) {
	v := url.Values{
		"api_key":          {"secret"},
		"event_collection": {"123"},
		"target_property":  {"price"},
		"percentile":       {"90"},
		"timeframe":        {"this_2_days"},
		"timezone":         {"-28800"},
		"group_by":         {"customer.id"},
		"order_by":         {`[{"property_name":"result","direction":"DESC"}]`},
		"limit":            {"2"},
		"filters":          {`[{"property_name":"a","operator":"eq","property_value":"b"}]`},
		"zero_fill":        {"false"},
	}
	p, err := FromURL(v)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(Percentile, "p", p, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Store.Collection != "123" || q.Store.Percentile != 90 || q.Store.Start.Format(time.RFC3339) != "2026-11-17T08:00:00Z" ||
		!reflect.DeepEqual(q.GroupBy, []string{"customer.id"}) || q.Limit != 2 || len(q.Store.Filters) != 1 || q.ZeroFill || len(q.OrderBy) != 1 {
		t.Errorf("query = %+v", q)
	}
	p, _ = FromURL(url.Values{"event_collection": {"c"}, "timeframe": {`{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}`},
		"group_by": {`["a","b"]`}, "timezone": {"Europe/Paris"}})
	if q, err = Parse(Count, "p", p, nil, now); err != nil || len(q.GroupBy) != 2 || q.Store.End.Day() != 2 {
		t.Errorf("JSON timeframe and group_by: %v %+v", err, q)
	}
	if _, err := FromURL(url.Values{"group_by": {"a", "b"}}); err == nil || !strings.Contains(err.Error(), `"group_by" is given 2 times`) {
		t.Errorf("repeated parameter: %v", err)
	}
	p, _ = FromURL(url.Values{"event_collection": {"c"}, "percentile": {"ninety"}, "target_property": {"x"}})
	if _, err := Parse(Percentile, "p", p, nil, now); err == nil || !strings.Contains(err.Error(), "from 0 to 100") {
		t.Errorf("percentile as text: %v", err)
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
		body := `{"event_collection":"c"`
		if c.latest != "" {
			body += `,"latest":` + c.latest
		}
		q, err := parse(c.analysis, body+"}")
		if err != nil || q.Store.Latest != c.limit || q.Store.MaxEvents != c.max {
			t.Errorf("%s latest %q: %+v %v; want %d %d", c.analysis, c.latest, q, err, c.limit, c.max)
		}
	}
}
