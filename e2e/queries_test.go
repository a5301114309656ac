package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// qEvent is a generated event: its JSON as produced, and decoded for the
// test's own evaluation of the queries.
type qEvent struct {
	n   int
	ts  time.Time
	doc map[string]any // decoded with UseNumber
}

// genQueryEvents builds events with mixed and missing properties: most with
// a keen.timestamp in March 2026, some in the last three days (half past
// an hour, never in the future) for relative timeframes.
func genQueryEvents(r *rand.Rand, n int, now time.Time) ([]qEvent, [][]byte) {
	countries := []string{"FR", "DE", "US", "GB", "Ünïcode"}
	tags := []string{"red", "green", "blue"}
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	hour := now.UTC().Truncate(time.Hour)
	var evs []qEvent
	var raws [][]byte
	for i := 0; i < n; i++ {
		doc := map[string]any{"n": i, "tenant": []string{"a", "b"}[r.IntN(2)]}
		var ts time.Time
		if r.IntN(4) == 0 {
			ts = hour.Add(-time.Duration(1+r.IntN(72))*time.Hour + 30*time.Minute)
		} else {
			ts = march.Add(time.Duration(r.Int64N(int64(10*24*time.Hour/time.Millisecond))) * time.Millisecond)
		}
		doc["keen"] = map[string]any{"timestamp": ts.Format("2006-01-02T15:04:05.000Z")}
		if r.IntN(10) > 0 {
			doc["country"] = countries[r.IntN(len(countries))]
		}
		switch r.IntN(20) {
		case 0:
			doc["price"] = fmt.Sprint(r.IntN(100)) // a string: type mix
		case 1: // missing
		default:
			doc["price"] = float64(r.IntN(2000)) / 2
		}
		if r.IntN(5) > 0 {
			picked := []string{}
			for _, t := range tags {
				if r.IntN(2) == 0 {
					picked = append(picked, t)
				}
			}
			doc["tags"] = picked
		}
		if r.IntN(3) > 0 {
			doc["user"] = map[string]any{"plan": []string{"free", "pro"}[r.IntN(2)], "age": 18 + r.IntN(60)}
		}
		raw, _ := json.Marshal(doc)
		var decoded map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&decoded)
		evs = append(evs, qEvent{i, ts, decoded})
		raws = append(raws, raw)
	}
	return evs, raws
}

// qFilter is a Keen filter as sent and as the test evaluates it.
type qFilter struct {
	Prop  string `json:"property_name"`
	Op    string `json:"operator"`
	Value any    `json:"property_value"`
}

// lookupPath finds a dotted property in a decoded event.
func lookupPath(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// evalFilter is the test's own reading of Keen's operators on the values
// it generates: the filter value's type picks what it compares with (a
// number never equals a string); eq on an array of strings is membership;
// ne and not_contains match a missing property; contains is a substring of
// a string or a member of an array.
func evalFilter(doc map[string]any, f qFilter) bool {
	v, ok := lookupPath(doc, f.Prop)
	eq := func(want any) bool {
		if !ok {
			return false
		}
		switch w := want.(type) {
		case string:
			if s, isStr := v.(string); isStr {
				return s == w
			}
			if a, isArr := v.([]any); isArr {
				return slices.Contains(a, any(w))
			}
		case float64:
			if num, isNum := v.(json.Number); isNum {
				x, _ := num.Float64()
				return x == w
			}
		}
		return false
	}
	contains := func(want string) bool {
		switch x := v.(type) {
		case string:
			return ok && strings.Contains(x, want)
		case []any:
			return slices.Contains(x, any(want))
		}
		return false
	}
	cmp := func() (int, bool) {
		if !ok {
			return 0, false
		}
		switch w := f.Value.(type) {
		case float64:
			num, isNum := v.(json.Number)
			if !isNum {
				return 0, false
			}
			x, _ := num.Float64()
			switch {
			case x < w:
				return -1, true
			case x > w:
				return 1, true
			}
			return 0, true
		case string:
			s, isStr := v.(string)
			return strings.Compare(s, w), isStr
		}
		return 0, false
	}
	switch f.Op {
	case "eq":
		return eq(f.Value)
	case "ne":
		return !eq(f.Value)
	case "in":
		return slices.ContainsFunc(f.Value.([]any), eq)
	case "contains":
		return contains(f.Value.(string))
	case "not_contains":
		return !contains(f.Value.(string))
	case "exists":
		return ok == f.Value.(bool)
	case "lt", "lte", "gt", "gte":
		c, comparable := cmp()
		if !comparable {
			return false
		}
		return map[string]bool{"lt": c < 0, "lte": c <= 0, "gt": c > 0, "gte": c >= 0}[f.Op]
	}
	panic("operator " + f.Op)
}

// relativeWindow is the test's reading of this_N_<unit> (the current,
// partial unit included) and previous_N_<unit> (complete units only), in
// UTC, for hours and days.
func relativeWindow(tf string, now time.Time) (time.Time, time.Time) {
	var which, unit string
	var n int
	fmt.Sscanf(strings.ReplaceAll(tf, "_", " "), "%s %d %s", &which, &n, &unit)
	cur := now.UTC().Truncate(time.Hour)
	step := func(k int) time.Time { return cur.Add(time.Duration(k) * time.Hour) }
	if unit == "days" {
		cur = time.Date(cur.Year(), cur.Month(), cur.Day(), 0, 0, 0, 0, time.UTC)
		step = func(k int) time.Time { return cur.AddDate(0, 0, k) }
	}
	if which == "this" {
		return step(-(n - 1)), step(1)
	}
	return step(-n), cur
}

// TestCountAndExtractionMatchExpectation: events with mixed, nested and
// missing properties through the Inbound listener; count and extraction
// over HTTP, with absolute and relative timeframes, filters, and an access
// key whose query filters are ANDed in, each equal to what the test computes
// from the events it generated.
func TestCountAndExtractionMatchExpectation(t *testing.T) {
	e := startPipeEnv(t, "queries")
	now := time.Now()
	evs, raws := genQueryEvents(rand.New(rand.NewPCG(4, 2)), 500, now)
	e.produce(t, "orders", raws...)
	e.waitCount(t, "orders", len(evs))

	st, body := httpDo(t, "POST", e.base+"/keys", e.proj.APIKeys["master"],
		`{"name":"tenant a","permitted":["queries"],"options":{"queries":{"filters":[{"property_name":"tenant","operator":"eq","property_value":"a"}]}}}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	var tenantKey struct{ Key string }
	_ = json.Unmarshal([]byte(body), &tenantKey)
	tenantFilter := qFilter{"tenant", "eq", "a"}

	absolute := map[string]any{"start": "2026-03-03T00:00:00.000Z", "end": "2026-03-07T12:00:00.000Z"}
	timeframes := []any{nil, absolute, "this_24_hours", "previous_2_days", "this_3_days", "previous_6_hours"}
	filterSets := [][]qFilter{
		nil,
		{{"country", "eq", "FR"}},
		{{"country", "ne", "FR"}},
		{{"price", "gt", 500.0}},
		{{"price", "lte", 20.0}, {"country", "in", []any{"DE", "Ünïcode", 7.0}}},
		{{"price", "lt", "5"}}, // strings only: the events whose price is a string
		{{"tags", "eq", "red"}, {"tags", "not_contains", "blue"}},
		{{"tags", "contains", "green"}},
		{{"country", "contains", "nï"}},
		{{"user.plan", "eq", "pro"}, {"user.age", "gte", 40.0}},
		{{"user", "exists", false}},
		{{"country", "exists", true}, {"price", "eq", 250.0}},
	}
	type keyCase struct {
		name    string
		key     string
		filters []qFilter // ANDed in by the key
	}
	keys := []keyCase{{"read key", e.proj.APIKeys["read"], nil}, {"access key with a query filter", tenantKey.Key, []qFilter{tenantFilter}}}

	nonEmpty := 0
	for _, k := range keys {
		for _, tf := range timeframes {
			for _, fs := range filterSets {
				if k.filters != nil && len(fs) > 1 {
					continue // the key's filter with each single filter is enough
				}
				params := map[string]any{"event_collection": "orders"}
				if tf != nil {
					params["timeframe"] = tf
				}
				if fs != nil {
					params["filters"] = fs
				}
				pj, _ := json.Marshal(params)
				name := fmt.Sprintf("%s %s", k.name, pj)
				for attempt := 0; ; attempt++ {
					before := time.Now()
					want := expected(evs, tf, append(slices.Clone(fs), k.filters...), before)
					var got int
					_ = json.Unmarshal(e.query(t, k.key, "count", string(pj)), &got)
					extracted := e.query(t, k.key, "extraction", string(pj))
					if before.UTC().Truncate(time.Hour) != time.Now().UTC().Truncate(time.Hour) && attempt == 0 {
						continue // an hour began during the queries: relative windows moved
					}
					if got != len(want) {
						t.Errorf("%s: count %d, want %d", name, got, len(want))
					}
					checkExtraction(t, name, extracted, want)
					if len(want) > 0 {
						nonEmpty++
					}
					break
				}
			}
		}
	}
	// The expectations must not be trivially empty.
	if nonEmpty < 40 {
		t.Errorf("only %d queries expected any event: the generated events do not exercise the filters", nonEmpty)
	}
}

// expected returns the n of the events a query matches, by the test's own
// evaluation.
func expected(evs []qEvent, tf any, fs []qFilter, now time.Time) []int {
	var start, end time.Time
	switch x := tf.(type) {
	case map[string]any:
		start, _ = time.Parse(time.RFC3339, x["start"].(string))
		end, _ = time.Parse(time.RFC3339, x["end"].(string))
	case string:
		start, end = relativeWindow(x, now)
	}
	var out []int
	for _, ev := range evs {
		if !start.IsZero() && (ev.ts.Before(start) || !ev.ts.Before(end)) {
			continue
		}
		if !slices.ContainsFunc(fs, func(f qFilter) bool { return !evalFilter(ev.doc, f) }) {
			out = append(out, ev.n)
		}
	}
	return out
}

// checkExtraction: the extraction returns exactly the expected events,
// oldest keen.timestamp first, each with its keen object.
func checkExtraction(t *testing.T, name string, raw json.RawMessage, want []int) {
	t.Helper()
	var evs []struct {
		N    int `json:"n"`
		Keen struct {
			ID        string `json:"id"`
			Timestamp string `json:"timestamp"`
			CreatedAt string `json:"created_at"`
		} `json:"keen"`
	}
	if err := json.Unmarshal(raw, &evs); err != nil {
		t.Fatalf("%s: extraction %.200s: %v", name, raw, err)
	}
	var got []int
	for i, ev := range evs {
		got = append(got, ev.N)
		if len(ev.Keen.ID) != 24 || ev.Keen.CreatedAt == "" {
			t.Errorf("%s: event n=%d keen object %+v", name, ev.N, ev.Keen)
		}
		if i > 0 && ev.Keen.Timestamp < evs[i-1].Keen.Timestamp {
			t.Errorf("%s: extraction not oldest first: %s after %s", name, ev.Keen.Timestamp, evs[i-1].Keen.Timestamp)
		}
	}
	sort.Ints(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: extraction returned %d events %v, want %d %v", name, len(got), got, len(want), want)
	}
}
