package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

var runNow = time.Date(2026, 1, 4, 12, 0, 0, 0, time.UTC)

// seed stores events of the collections (collection → JSON bodies without
// keen; "ts" gives keen.timestamp and is removed).
func seed(t *testing.T, st store.Store, pid string, events map[string][]string) {
	t.Helper()
	var evs []store.Event
	n := 0
	for coll, bodies := range events {
		for _, b := range bodies {
			var doc map[string]any
			d := json.NewDecoder(strings.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			ts, _ := time.Parse(time.RFC3339, doc["ts"].(string))
			delete(doc, "ts")
			n++
			id := fmt.Sprintf("%024x", n)
			stamp := ts.Format("2006-01-02T15:04:05.000Z")
			doc["keen"] = map[string]any{"timestamp": stamp, "created_at": stamp, "id": id}
			js, _ := json.Marshal(doc)
			evs = append(evs, store.Event{ProjectID: pid, Collection: coll, ID: id, Timestamp: ts, CreatedAt: ts, JSON: js})
		}
	}
	if _, err := st.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func newStore(t *testing.T) store.Store {
	st := storetest.NewModel()
	seed(t, st, "P", map[string][]string{
		"purchases": {
			`{"ts":"2026-01-01T10:00:00Z","user":"u1","price":10,"customer":{"id":"c1"},"tags":["a","b"]}`,
			`{"ts":"2026-01-01T12:00:00Z","user":"u2","price":20,"customer":{"id":"c2"}}`,
			`{"ts":"2026-01-03T09:00:00Z","user":"u1","price":5.5,"customer":{"id":"c1"}}`,
			`{"ts":"2026-01-03T23:00:00Z","user":"u3","price":"free"}`,
		},
		"signups": {
			`{"ts":"2026-01-01T08:00:00Z","user":"u1"}`,
			`{"ts":"2026-01-01T09:00:00Z","user":"u2"}`,
			`{"ts":"2026-01-02T09:00:00Z","user":"u4"}`,
		},
		"returns": {
			`{"ts":"2026-01-03T10:00:00Z","user":"u1"}`,
		},
	})
	seed(t, st, "OTHER", map[string][]string{"purchases": {`{"ts":"2026-01-01T10:00:00Z","user":"x","price":1000}`}})
	return st
}

func run(t *testing.T, st store.Store, analysis, body string, kf ...registry.Filter) (string, error) {
	t.Helper()
	p, err := query.FromJSON([]byte(body))
	if err != nil {
		return "", err
	}
	q, err := query.Parse(analysis, "P", p, kf, runNow)
	if err != nil {
		return "", err
	}
	ans, err := query.Run(context.Background(), st, q)
	if err != nil {
		return "", err
	}
	var b []byte
	if analysis == query.Extraction {
		b, err = json.Marshal(ans.Events)
	} else {
		b, err = json.Marshal(ans.Body)
	}
	return string(b), err
}

const jan = `"timeframe":{"start":"2026-01-01T00:00:00Z","end":"2026-01-04T00:00:00Z"}`

func day(d int) string {
	return fmt.Sprintf(`"timeframe":{"start":"2026-01-%02dT00:00:00.000Z","end":"2026-01-%02dT00:00:00.000Z"}`, d, d+1)
}

// TestRun runs every analysis against the model store and checks Keen's
// exact answer.
func TestRun(t *testing.T) {
	st := newStore(t)
	const c = `"event_collection":"purchases"`
	cases := []struct {
		name, analysis, body, want string
	}{
		{"count", query.Count, `{` + c + `}`, `{"result":4}`},
		{"count, relative timeframe", query.Count, `{` + c + `,"timeframe":"previous_2_days"}`, `{"result":2}`},
		{"count, unknown collection", query.Count, `{"event_collection":"nothing"}`, `{"result":0}`},
		{"count_unique", query.CountUnique, `{` + c + `,"target_property":"user"}`, `{"result":3}`},
		{"sum skips strings", query.Sum, `{` + c + `,"target_property":"price"}`, `{"result":35.5}`},
		{"average", query.Average, `{` + c + `,"target_property":"price"}`, `{"result":11.833333333333334}`},
		{"minimum", query.Minimum, `{` + c + `,"target_property":"price"}`, `{"result":5.5}`},
		{"maximum", query.Maximum, `{` + c + `,"target_property":"price"}`, `{"result":20}`},
		{"median", query.Median, `{` + c + `,"target_property":"price"}`, `{"result":10}`},
		{"percentile 100", query.Percentile, `{` + c + `,"target_property":"price","percentile":100}`, `{"result":20}`},
		{"percentile 0", query.Percentile, `{` + c + `,"target_property":"price","percentile":0}`, `{"result":5.5}`},
		{"standard_deviation", query.StandardDeviation, `{` + c + `,"target_property":"price","filters":[{"property_name":"price","operator":"gte","property_value":10}]}`, `{"result":5}`},
		{"sum of nothing", query.Sum, `{` + c + `,"target_property":"nope"}`, `{"result":null}`},
		{"select_unique sorted", query.SelectUnique, `{` + c + `,"target_property":"user"}`, `{"result":["u1","u2","u3"]}`},
		{"select_unique mixed", query.SelectUnique, `{` + c + `,"target_property":"price"}`, `{"result":[5.5,10,20,"free"]}`},
		{"group_by nested", query.Count, `{` + c + `,"group_by":"customer.id"}`,
			`{"result":[{"customer.id":null,"result":1},{"customer.id":"c1","result":2},{"customer.id":"c2","result":1}]}`},
		{"group_by two, order_by, limit", query.Sum, `{` + c + `,"target_property":"price","group_by":["customer.id","user"],"order_by":{"property_name":"result","direction":"DESC"},"limit":2}`,
			`{"result":[{"customer.id":"c2","user":"u2","result":20},{"customer.id":"c1","user":"u1","result":15.5}]}`},
		{"interval", query.Count, `{` + c + `,` + jan + `,"interval":"daily"}`,
			`{"result":[{` + day(1) + `,"value":2},{` + day(2) + `,"value":0},{` + day(3) + `,"value":2}]}`},
		{"interval numeric", query.Maximum, `{` + c + `,"target_property":"price",` + jan + `,"interval":"daily"}`,
			`{"result":[{` + day(1) + `,"value":20},{` + day(2) + `,"value":null},{` + day(3) + `,"value":5.5}]}`},
		{"interval in a zone", query.Count, `{` + c + `,"timeframe":"previous_3_days","timezone":"US/Pacific","interval":"daily"}`,
			`{"result":[{"timeframe":{"start":"2026-01-01T08:00:00.000Z","end":"2026-01-02T08:00:00.000Z"},"value":2},` +
				`{"timeframe":{"start":"2026-01-02T08:00:00.000Z","end":"2026-01-03T08:00:00.000Z"},"value":0},` +
				`{"timeframe":{"start":"2026-01-03T08:00:00.000Z","end":"2026-01-04T08:00:00.000Z"},"value":2}]}`},
		{"interval and group_by", query.Count, `{` + c + `,` + jan + `,"interval":"daily","group_by":"user"}`,
			`{"result":[{` + day(1) + `,"value":[{"user":"u1","result":1},{"user":"u2","result":1},{"user":"u3","result":0}]},` +
				`{` + day(2) + `,"value":[{"user":"u1","result":0},{"user":"u2","result":0},{"user":"u3","result":0}]},` +
				`{` + day(3) + `,"value":[{"user":"u1","result":1},{"user":"u2","result":0},{"user":"u3","result":1}]}]}`},
		{"multi_analysis", query.MultiAnalysis, `{` + c + `,"analyses":{"n":{"analysis_type":"count"},"total":{"analysis_type":"sum","target_property":"price"},"p50":{"analysis_type":"percentile","target_property":"price","percentile":50}}}`,
			`{"result":{"n":4,"p50":10,"total":35.5}}`},
		{"multi_analysis group_by", query.MultiAnalysis, `{` + c + `,"group_by":"user","analyses":{"n":{"analysis_type":"count"},"max":{"analysis_type":"maximum","target_property":"price"}}}`,
			`{"result":[{"user":"u1","max":10,"n":2},{"user":"u2","max":20,"n":1},{"user":"u3","max":null,"n":1}]}`},
		{"multi_analysis interval", query.MultiAnalysis, `{` + c + `,` + jan + `,"interval":"daily","analyses":{"n":{"analysis_type":"count"}}}`,
			`{"result":[{` + day(1) + `,"value":{"n":2}},{` + day(2) + `,"value":{"n":0}},{` + day(3) + `,"value":{"n":2}}]}`},
		{"filters: regex", query.Count, `{` + c + `,"filters":[{"property_name":"user","operator":"regex","property_value":"^u[12]$"}]}`, `{"result":3}`},
		{"filters: or", query.Count, `{` + c + `,"filters":[{"operator":"or","operands":[{"property_name":"user","operator":"eq","property_value":"u3"},{"property_name":"price","operator":"gt","property_value":15}]}]}`, `{"result":2}`},
		{"filters: in, contains, exists", query.Count, `{` + c + `,"filters":[{"property_name":"user","operator":"in","property_value":["u1","u3"]},{"property_name":"customer.id","operator":"exists","property_value":true}]}`, `{"result":2}`},
		{"filters: array contains", query.Count, `{` + c + `,"filters":[{"property_name":"tags","operator":"contains","property_value":"b"}]}`, `{"result":1}`},
		{"filters: ne matches missing", query.Count, `{` + c + `,"filters":[{"property_name":"customer.id","operator":"ne","property_value":"c1"}]}`, `{"result":2}`},
		{"filters: property_type", query.Count, `{` + c + `,"filters":[{"property_name":"price","operator":"lt","property_value":"15","property_type":"Number"}]}`, `{"result":2}`},
		{"filters: keen.timestamp", query.Count, `{` + c + `,"filters":[{"property_name":"keen.timestamp","operator":"gte","property_value":"2026-01-03T00:00:00.000Z"}]}`, `{"result":2}`},
		{"extraction property_names", query.Extraction, `{` + c + `,"property_names":["price","customer.id"],"latest":2}`,
			`[{"customer":{"id":"c1"},"price":5.5},{"price":"free"}]`},
		{"extraction one property name", query.Extraction, `{` + c + `,"property_names":"user","filters":[{"property_name":"user","operator":"eq","property_value":"u1"}]}`,
			`[{"user":"u1"},{"user":"u1"}]`},
	}
	for _, tc := range cases {
		got, err := run(t, st, tc.analysis, tc.body)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v\n got %s\nwant %s", tc.name, err, got, tc.want)
		}
	}
}

// TestRunGeo: within measures miles from a point, on
// keen.location.coordinates only.
func TestRunGeo(t *testing.T) {
	st := storetest.NewModel()
	seed(t, st, "P", map[string][]string{"visits": {
		`{"ts":"2026-01-01T10:00:00Z","where":"nowhere"}`,
	}})
	// seed writes its own keen object: these two carry a location.
	ts := time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)
	for i, c := range []string{"[-122.42,37.77]", "[-118.24,34.05]"} { // San Francisco, Los Angeles
		id := fmt.Sprintf("g%023d", i)
		js := fmt.Sprintf(`{"keen":{"timestamp":"2026-01-01T11:00:00.000Z","created_at":"2026-01-01T11:00:00.000Z","id":%q,"location":{"coordinates":%s}}}`, id, c)
		if _, err := st.Insert(context.Background(), []store.Event{{ProjectID: "P", Collection: "visits", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(js)}}); err != nil {
			t.Fatal(err)
		}
	}
	within := func(miles int) string {
		return fmt.Sprintf(`{"event_collection":"visits","filters":[{"property_name":"keen.location.coordinates","operator":"within","property_value":{"coordinates":[-122.27,37.80],"max_distance_miles":%d}}]}`, miles)
	}
	for miles, want := range map[int]string{1: `{"result":0}`, 20: `{"result":1}`, 400: `{"result":2}`} {
		if got, err := run(t, st, query.Count, within(miles)); err != nil || got != want {
			t.Errorf("within %d miles of Oakland: %s %v, want %s", miles, got, err, want)
		}
	}
}

// TestRunFunnel: the steps' actor sets, with optional, inverted and
// with_actors.
func TestRunFunnel(t *testing.T) {
	st := newStore(t)
	step := func(coll string, extra string) string {
		return `{"event_collection":"` + coll + `","actor_property":"user"` + extra + `}`
	}
	echo := func(coll, tf string, optional, inverted, actors bool) string {
		return fmt.Sprintf(`{"actor_property":"user","event_collection":%q,"filters":[],"inverted":%t,"optional":%t,"timeframe":%s,"timezone":null,"with_actors":%t}`,
			coll, inverted, optional, tf, actors)
	}
	cases := []struct {
		name, body, want string
	}{
		// signups u1 u2 u4; purchases u1 u2 u3 (u1 twice); returns u1.
		{"keen-gem's funnel", `{"steps":[` + step("signups", "") + `,` + step("purchases", "") + `,` + step("returns", "") + `]}`,
			`{"result":[3,2,1],"steps":[` + echo("signups", "null", false, false, false) + `,` + echo("purchases", "null", false, false, false) + `,` + echo("returns", "null", false, false, false) + `]}`},
		{"inverted: signed up, never bought", `{"steps":[` + step("signups", "") + `,` + step("purchases", `,"inverted":true,"with_actors":true`) + `]}`,
			`{"actors":[null,["u4"]],"result":[3,1],"steps":[` + echo("signups", "null", false, false, false) + `,` + echo("purchases", "null", false, true, true) + `]}`},
		{"optional does not narrow", `{"steps":[` + step("signups", `,"with_actors":true`) + `,` + step("returns", `,"optional":true,"with_actors":true`) + `,` + step("purchases", `,"with_actors":true`) + `]}`,
			`{"actors":[["u1","u2","u4"],["u1"],["u1","u2"]],"result":[3,1,2],"steps":[` + echo("signups", "null", false, false, true) + `,` + echo("returns", "null", true, false, true) + `,` + echo("purchases", "null", false, false, true) + `]}`},
		{"root timeframe, step timeframe", `{"timeframe":"previous_3_days","steps":[` + step("signups", `,"timeframe":{"start":"2026-01-02T00:00:00Z","end":"2026-01-03T00:00:00Z"}`) + `,` + step("purchases", "") + `]}`,
			`{"result":[1,0],"steps":[` + echo("signups", `{"start":"2026-01-02T00:00:00Z","end":"2026-01-03T00:00:00Z"}`, false, false, false) + `,` + echo("purchases", `"previous_3_days"`, false, false, false) + `]}`},
	}
	for _, tc := range cases {
		got, err := run(t, st, query.Funnel, tc.body)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v\n got %s\nwant %s", tc.name, err, got, tc.want)
		}
	}
}

// TestFunnelBound: a step with more actors than the bound is refused,
// found by counting.
func TestFunnelBound(t *testing.T) {
	st := newStore(t)
	p, _ := query.FromJSON([]byte(`{"steps":[{"event_collection":"signups","actor_property":"user"},{"event_collection":"purchases","actor_property":"user"}]}`))
	q, err := query.Parse(query.Funnel, "P", p, nil, runNow)
	if err != nil {
		t.Fatal(err)
	}
	q.MaxActors = 3
	if _, err := query.Run(context.Background(), st, q); err != nil {
		t.Fatalf("3 actors a step: %v", err)
	}
	q.MaxActors = 2
	_, err = query.Run(context.Background(), st, q)
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Name != query.FunnelTooLarge || !strings.Contains(qe.Message, "step 0 has 3 distinct actors, more than the 2") {
		t.Fatalf("over the bound: %v", err)
	}
}

// TestRunKeyFilters: an access key's filters narrow every analysis and
// every funnel step, and the project's events only are seen.
func TestRunKeyFilters(t *testing.T) {
	st := newStore(t)
	kf := registry.Filter{PropertyName: "user", Operator: "eq", PropertyValue: "u1"}
	for _, tc := range []struct{ analysis, body, want string }{
		{query.Count, `{"event_collection":"purchases"}`, `{"result":2}`},
		{query.Sum, `{"event_collection":"purchases","target_property":"price","group_by":"user"}`, `{"result":[{"user":"u1","result":15.5}]}`},
		{query.MultiAnalysis, `{"event_collection":"purchases","analyses":{"n":{"analysis_type":"count"},"u":{"analysis_type":"select_unique","target_property":"user"}}}`, `{"result":{"n":2,"u":["u1"]}}`},
		{query.Extraction, `{"event_collection":"purchases","property_names":"price"}`, `[{"price":10},{"price":5.5}]`},
	} {
		if got, err := run(t, st, tc.analysis, tc.body, kf); err != nil || got != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.analysis, got, err, tc.want)
		}
	}
	got, err := run(t, st, query.Funnel, `{"steps":[{"event_collection":"signups","actor_property":"user"},{"event_collection":"purchases","actor_property":"user","inverted":true}]}`, kf)
	if err != nil || !strings.HasPrefix(got, `{"result":[1,0]`) {
		t.Errorf("funnel: %s %v", got, err)
	}
}

// TestSelectUniqueBound: select_unique is counted first; an answer of more
// values than the bound is refused before they are read.
func TestSelectUniqueBound(t *testing.T) {
	st := newStore(t)
	for _, tc := range []struct {
		analysis, body string
		max            int
		ok             bool
	}{
		{query.SelectUnique, `{"event_collection":"purchases","target_property":"user"}`, 3, true},
		{query.SelectUnique, `{"event_collection":"purchases","target_property":"user"}`, 2, false},
		// u1 on two days: 4 values over the intervals.
		{query.SelectUnique, `{"event_collection":"purchases","target_property":"user",` + jan + `,"interval":"daily"}`, 4, true},
		{query.SelectUnique, `{"event_collection":"purchases","target_property":"user",` + jan + `,"interval":"daily"}`, 3, false},
		{query.MultiAnalysis, `{"event_collection":"purchases","analyses":{"u":{"analysis_type":"select_unique","target_property":"user"}}}`, 2, false},
	} {
		p, _ := query.FromJSON([]byte(tc.body))
		q, err := query.Parse(tc.analysis, "P", p, nil, runNow)
		if err != nil {
			t.Fatal(err)
		}
		q.MaxResults = tc.max
		_, err = query.Run(context.Background(), st, q)
		var qe *query.Error
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &qe) || qe.Name != query.ResultTooLarge)) {
			t.Errorf("%s at most %d: %v", tc.body, tc.max, err)
		}
	}
}
