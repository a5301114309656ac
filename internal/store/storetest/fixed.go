package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// The fixed cases' expected answers are written out by hand from
// query.go's definitions, so that they check the Model too.

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixedEvents are five events (project "p", collection "fixed") whose
// properties have the types and shapes the cases need:
//
//	e1 2024-03-30T10:00Z price 10    country France  code "10"  tags [red blue] user {id 1, address {city Paris}} mobile true  Paris
//	e2 2024-03-31T10:00Z price 20    country Germany code 10    tags [red]      user {id 2}                      mobile false Berlin
//	e3 2024-04-01T10:00Z price "30"  country France  code null  tags []         user {}                          note null
//	e4 2024-04-01T22:30Z price -5.5  country france             tags [1, red]   user "anonymous"                              New York
//	e5 2024-04-02T00:30Z price 10.0  country Zed     code "abc"                                                  mobile true
func fixedEvents() []store.Event {
	coords := func(lon, lat string) member {
		return member{"keen", object{{"location", object{{"coordinates", []any{n(lon), n(lat)}}}}}}
	}
	return []store.Event{
		event("p", "fixed", "e1", ts("2024-03-30T10:00:00Z"), time.Time{},
			member{"price", n("10")}, member{"country", "France"}, member{"code", "10"}, member{"tags", []any{"red", "blue"}},
			member{"user", object{{"id", n("1")}, {"address", object{{"city", "Paris"}}}}}, member{"is_mobile", true}, coords("2.35", "48.85")),
		event("p", "fixed", "e2", ts("2024-03-31T10:00:00Z"), time.Time{},
			member{"price", n("20")}, member{"country", "Germany"}, member{"code", n("10")}, member{"tags", []any{"red"}},
			member{"user", object{{"id", n("2")}}}, member{"is_mobile", false}, coords("13.40", "52.52")),
		event("p", "fixed", "e3", ts("2024-04-01T10:00:00Z"), time.Time{},
			member{"price", "30"}, member{"country", "France"}, member{"code", nil}, member{"tags", []any{}},
			member{"user", object{}}, member{"note", nil}),
		event("p", "fixed", "e4", ts("2024-04-01T22:30:00Z"), time.Time{},
			member{"price", n("-5.5")}, member{"tags", []any{n("1"), "red"}}, member{"user", "anonymous"},
			member{"country", "france"}, coords("-74.0", "40.71")),
		event("p", "fixed", "e5", ts("2024-04-02T00:30:00Z"), time.Time{},
			member{"price", n("10.0")}, member{"country", "Zed"}, member{"code", "abc"}, member{"is_mobile", true}),
	}
}

// openFixed opens a store holding fixedEvents and the small collections
// some cases use.
func (s *suite) openFixed(t *testing.T) store.Store {
	st := s.open(t)
	evs := fixedEvents()
	// Keen's documented examples: the median of 10 and 20 is 10, their
	// percentile 100 is 20.
	evs = append(evs,
		event("p", "keen", "k1", ts("2024-03-01T00:00:00Z"), time.Time{}, member{"price", n("20")}),
		event("p", "keen", "k2", ts("2024-03-02T00:00:00Z"), time.Time{}, member{"price", n("10")}),
		event("p", "one", "o1", ts("2024-03-01T00:00:00Z"), time.Time{}, member{"price", n("7")}),
		// The same collection in another project is not seen.
		event("q", "fixed", "x1", ts("2024-03-30T10:00:00Z"), time.Time{}, member{"price", n("1000")}, member{"country", "France"}),
	)
	// 0 … 100 in a shuffled order: percentile p is p exactly.
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(101) {
		evs = append(evs, event("p", "ranks", fmt.Sprintf("r%03d", i), ts("2024-03-01T00:00:00Z").Add(time.Duration(i)*time.Minute), time.Time{},
			member{"v", n(fmt.Sprint(i))}))
	}
	mustInsert(t, st, evs, len(evs), 0, 0)
	return st
}

func f(p, op string, v any) store.Filter { return store.Filter{Path: path(p), Operator: op, Value: v} }

func or(fs ...store.Filter) store.Filter { return store.Filter{Operator: "or", Or: fs} }

func q(collection string, a store.Analysis, target string, filters ...store.Filter) store.Query {
	qq := store.Query{ProjectID: "p", Collection: collection, Analysis: a, Filters: filters}
	if target != "" {
		qq.Target = path(target)
	}
	return qq
}

// one is the single row of a query without group_by and buckets.
func one(v any) []store.Row { return []store.Row{{Value: v}} }

func (s *suite) analyses(t *testing.T) {
	st := s.openFixed(t)
	cases := []struct {
		name string
		q    store.Query
		want any
	}{
		{"count", q("fixed", store.Count, ""), int64(5)},
		{"count/unknown collection", q("nothing", store.Count, ""), int64(0)},
		{"count/start end", func() store.Query {
			qq := q("fixed", store.Count, "")
			qq.Start, qq.End = ts("2024-03-31T10:00:00Z"), ts("2024-04-01T22:30:00Z")
			return qq
		}(), int64(2)},
		{"count/start", func() store.Query {
			qq := q("fixed", store.Count, "")
			qq.Start = ts("2024-04-01T10:00:00Z")
			return qq
		}(), int64(3)},
		{"count_unique/numbers and strings", q("fixed", store.CountUnique, "price"), int64(4)}, // 10 = 10.0, "30" ≠ 30
		{"count_unique/null skipped", q("fixed", store.CountUnique, "code"), int64(3)},
		{"count_unique/arrays skipped", q("fixed", store.CountUnique, "tags"), int64(0)},
		{"count_unique/booleans", q("fixed", store.CountUnique, "is_mobile"), int64(2)},
		{"count_unique/missing", q("fixed", store.CountUnique, "nope"), int64(0)},
		{"count_unique/unknown collection", q("nothing", store.CountUnique, "price"), int64(0)},
		{"select_unique/strings", q("fixed", store.SelectUnique, "country"), []any{"France", "Germany", "france", "Zed"}},
		{"select_unique/mixed", q("fixed", store.SelectUnique, "code"), []any{"10", 10.0, "abc"}},
		{"select_unique/numbers", q("fixed", store.SelectUnique, "price"), []any{10.0, 20.0, "30", -5.5}},
		{"select_unique/booleans", q("fixed", store.SelectUnique, "is_mobile"), []any{true, false}},
		{"select_unique/missing", q("fixed", store.SelectUnique, "nope"), []any{}},
		{"sum", q("fixed", store.Sum, "price"), 34.5},
		{"sum/nested", q("fixed", store.Sum, "user.id"), 3.0},
		{"sum/no numbers", q("fixed", store.Sum, "country"), nil},
		{"sum/unknown collection", q("nothing", store.Sum, "price"), nil},
		{"average", q("fixed", store.Average, "price"), 8.625},
		{"average/no numbers", q("fixed", store.Average, "nope"), nil},
		{"minimum", q("fixed", store.Minimum, "price"), -5.5},
		{"minimum/no numbers", q("fixed", store.Minimum, "country"), nil},
		{"maximum", q("fixed", store.Maximum, "price"), 20.0},
		{"maximum/no numbers", q("fixed", store.Maximum, "tags"), nil},
		{"median", q("fixed", store.Median, "price"), 10.0}, // -5.5 10 10 20: rank floor(1.5) = 1
		{"median/keen example", q("keen", store.Median, "price"), 10.0},
		{"median/nested", q("fixed", store.Median, "user.id"), 1.0},
		{"median/no numbers", q("fixed", store.Median, "country"), nil},
		{"percentile/keen example", func() store.Query { qq := q("keen", store.Percentile, "price"); qq.Percentile = 100; return qq }(), 20.0},
		{"percentile/50 keen example", func() store.Query { qq := q("keen", store.Percentile, "price"); qq.Percentile = 50; return qq }(), 10.0},
		{"percentile/0", func() store.Query { qq := q("fixed", store.Percentile, "price"); qq.Percentile = 0; return qq }(), -5.5},
		{"percentile/75", func() store.Query { qq := q("fixed", store.Percentile, "price"); qq.Percentile = 75; return qq }(), 10.0},
		{"percentile/99", func() store.Query { qq := q("fixed", store.Percentile, "price"); qq.Percentile = 99; return qq }(), 10.0},
		// floor(29/100 × 100) is 29: in float64, 0.29 × 100 is 28.999999999999996.
		{"percentile/exact rank", func() store.Query { qq := q("ranks", store.Percentile, "v"); qq.Percentile = 29; return qq }(), 29.0},
		{"percentile/exact rank 57", func() store.Query { qq := q("ranks", store.Percentile, "v"); qq.Percentile = 57; return qq }(), 57.0},
		{"percentile/fraction", func() store.Query { qq := q("ranks", store.Percentile, "v"); qq.Percentile = 12.5; return qq }(), 12.0},
		{"percentile/no numbers", func() store.Query { qq := q("fixed", store.Percentile, "country"); qq.Percentile = 50; return qq }(), nil},
		{"standard_deviation", q("fixed", store.StandardDeviation, "price"), math.Sqrt(83.171875)}, // mean 8.625
		{"standard_deviation/population", q("fixed", store.StandardDeviation, "user.id"), 0.5},
		{"standard_deviation/one value", q("one", store.StandardDeviation, "price"), 0.0},
		{"standard_deviation/no numbers", q("fixed", store.StandardDeviation, "country"), nil},
	}
	for _, c := range cases {
		family := string(c.q.Analysis)
		if !s.has(family) {
			continue
		}
		name := c.name
		if name == family {
			name += "/basic"
		}
		t.Run(name, func(t *testing.T) {
			res := mustRun(t, st, c.q)
			wantRows(t, c.q, res.Rows, one(c.want))
		})
	}
}

func (s *suite) filters(t *testing.T) {
	if !s.has("count") {
		t.Skip("the filter cases count the matching events: family count is not run")
	}
	st := s.openFixed(t)
	cases := []struct {
		family string
		f      store.Filter
		want   int64
	}{
		{"filters", f("country", "eq", "France"), 2},
		{"filters", f("price", "eq", n("10")), 2}, // 10 and 10.0
		{"filters", f("price", "eq", "30"), 1},
		{"filters", f("code", "eq", "10"), 1},
		{"filters", f("code", "eq", n("10")), 1},
		{"filters", f("tags", "eq", "red"), 2}, // a member of an array of strings
		{"filters", f("tags", "eq", []any{"red"}), 1},
		{"filters", f("tags", "eq", []any{"red", "blue"}), 1},
		{"filters", f("tags", "eq", []any{"blue", "red"}), 0},
		{"filters", f("tags", "eq", []any{}), 1},
		{"filters", f("code", "eq", nil), 1},
		{"filters", f("note", "eq", nil), 1},
		{"filters", f("is_mobile", "eq", true), 2},
		{"filters", f("user", "eq", "anonymous"), 1},
		{"filters", f("user.address.city", "eq", "Paris"), 1},
		{"filters", f("user.id", "eq", n("1")), 1},
		{"filters", f("keen.id", "eq", "e2"), 1},
		{"filters", f("country", "ne", "France"), 3},
		{"filters", f("code", "ne", "10"), 4}, // e4 has no code
		{"filters", f("code", "ne", nil), 4},
		{"filters", f("price", "ne", n("10")), 3},
		{"filters", f("tags", "ne", "red"), 3},
		{"filters", f("price", "lt", n("10")), 1},
		{"filters", f("price", "lte", n("10")), 3},
		{"filters", f("price", "gt", n("10")), 1}, // "30" is a string
		{"filters", f("price", "gte", n("10")), 3},
		{"filters", f("country", "gt", "France"), 3}, // by bytes: "france" and "Zed" are after "France"
		{"filters", f("country", "lt", "France"), 0},
		{"filters", f("country", "lte", "France"), 2},
		{"filters", f("price", "gt", "100"), 1}, // "30" > "100"
		{"filters", f("code", "gt", n("5")), 1},
		{"filters", f("tags", "lt", "z"), 0},
		{"filters", f("keen.timestamp", "gte", "2024-04-01T00:00:00.000Z"), 3},
		{"filters", f("keen.created_at", "lt", "2024-03-31T10:00:00.000Z"), 1},
		{"filters", f("user", "exists", true), 3}, // e3's user is {}
		{"filters", f("user", "exists", false), 2},
		{"filters", f("user.address", "exists", true), 1},
		{"filters", f("note", "exists", true), 1}, // null is a value
		{"filters", f("tags", "exists", true), 4}, // [] is a value
		{"filters", f("nope", "exists", false), 5},
		{"filters", f("keen.location", "exists", true), 3},
		{"filters", f("keen.timestamp", "exists", true), 5},
		{"filters", f("country", "in", []any{"France", "Zed"}), 3},
		{"filters", f("price", "in", []any{n("20"), "30"}), 2},
		{"filters", f("code", "in", []any{"10", n("10")}), 2},
		{"filters", f("tags", "in", []any{"blue"}), 1},
		{"filters", f("tags", "in", []any{[]any{"red"}}), 0},
		{"filters", f("code", "in", []any{nil, true}), 1},
		{"filters", f("country", "contains", "ran"), 3},
		{"filters", f("tags", "contains", "blue"), 1},
		{"filters", f("tags", "contains", "bl"), 0}, // a member, not a substring of one
		{"filters", f("user", "contains", "anon"), 1},
		{"filters", f("country", "not_contains", "ran"), 2},
		{"filters", f("note", "not_contains", "x"), 5},
		{"filters", f("tags", "not_contains", "red"), 3},
		{"regex", f("country", "regex", "^[Ff]rance$"), 3},
		{"regex", f("country", "regex", "an"), 4},
		{"regex", f("country", "regex", "^Z"), 1},
		{"regex", f("price", "regex", "^3"), 1},
		{"regex", f("tags", "regex", "red"), 0},
		{"regex", f("code", "regex", "^[0-9]+$"), 1},
		{"within", f("keen.location.coordinates", "within", store.Geo{Longitude: 2.35, Latitude: 48.85, MaxMiles: 10}), 1},
		{"within", f("keen.location.coordinates", "within", store.Geo{Longitude: 2.35, Latitude: 48.85, MaxMiles: 700}), 2},  // Berlin: 545 mi
		{"within", f("keen.location.coordinates", "within", store.Geo{Longitude: 2.35, Latitude: 48.85, MaxMiles: 4000}), 3}, // New York: 3,630 mi
		{"within", f("keen.location.coordinates", "within", store.Geo{MaxMiles: 10}), 0},
		{"within", f("country", "within", store.Geo{Longitude: 2.35, Latitude: 48.85, MaxMiles: 10}), 0},
		{"or", or(f("country", "eq", "Zed"), f("code", "eq", n("10"))), 2},
		{"or", or(f("country", "eq", "France"), f("note", "exists", true)), 2},
		{"or", or(or(f("code", "eq", "abc"), f("user", "eq", "anonymous")), f("price", "lt", n("0"))), 2},
	}
	for _, c := range cases {
		if !s.has(c.family) {
			continue
		}
		name := c.f.Operator
		if len(c.f.Path) > 0 {
			name += "/" + strings.Join(c.f.Path, ".") + "=" + showValue(c.f.Value)
		}
		t.Run(c.family+"/"+name, func(t *testing.T) {
			qq := q("fixed", store.Count, "", c.f)
			wantRows(t, qq, mustRun(t, st, qq).Rows, one(c.want))
		})
	}
	if s.has("or") {
		t.Run("or/and", func(t *testing.T) {
			qq := q("fixed", store.Count, "", or(f("country", "eq", "France"), f("country", "eq", "Zed")), f("is_mobile", "eq", true))
			wantRows(t, qq, mustRun(t, st, qq).Rows, one(int64(2)))
		})
	}
	t.Run("filters/project", func(t *testing.T) {
		qq := q("fixed", store.Count, "", f("price", "eq", n("1000")))
		wantRows(t, qq, mustRun(t, st, qq).Rows, one(int64(0)))
	})
}

// g is a row of a grouped query.
func g(value any, group ...any) store.Row { return store.Row{Group: group, Value: value} }

func (s *suite) groupBy(t *testing.T) {
	if !s.has("group_by") {
		t.Skip("family group_by is not run")
	}
	st := s.openFixed(t)
	cases := []struct {
		name  string
		q     store.Query
		paths []string
		want  []store.Row
	}{
		{"count/string", q("fixed", store.Count, ""), []string{"country"},
			[]store.Row{g(int64(2), "France"), g(int64(1), "Germany"), g(int64(1), "france"), g(int64(1), "Zed")}},
		{"count/numbers and strings", q("fixed", store.Count, ""), []string{"code"}, // null and missing are nil
			[]store.Row{g(int64(1), "10"), g(int64(1), 10.0), g(int64(2), nil), g(int64(1), "abc")}},
		{"count/number text", q("fixed", store.Count, ""), []string{"price"}, // 10 and 10.0 are one group
			[]store.Row{g(int64(2), 10.0), g(int64(1), 20.0), g(int64(1), "30"), g(int64(1), -5.5)}},
		{"count/arrays", q("fixed", store.Count, ""), []string{"tags"},
			[]store.Row{g(int64(1), []string{"red", "blue"}), g(int64(1), []string{"red"}), g(int64(1), []string{}),
				g(int64(1), json.RawMessage(`[1,"red"]`)), g(int64(1), nil)}},
		{"count/number arrays", q("fixed", store.Count, ""), []string{"keen.location.coordinates"},
			[]store.Row{g(int64(1), json.RawMessage(`[2.35,48.85]`)), g(int64(1), json.RawMessage(`[13.40,52.52]`)),
				g(int64(1), json.RawMessage(`[-74.0,40.71]`)), g(int64(2), nil)}},
		{"count/objects", q("fixed", store.Count, ""), []string{"user"}, // objects are nil
			[]store.Row{g(int64(4), nil), g(int64(1), "anonymous")}},
		{"count/nested", q("fixed", store.Count, ""), []string{"user.address.city"},
			[]store.Row{g(int64(1), "Paris"), g(int64(4), nil)}},
		{"count/two paths", q("fixed", store.Count, ""), []string{"country", "is_mobile"},
			[]store.Row{g(int64(1), "France", true), g(int64(1), "Germany", false), g(int64(1), "France", nil),
				g(int64(1), "france", nil), g(int64(1), "Zed", true)}},
		{"count/three paths", q("fixed", store.Count, "", f("country", "eq", "France")), []string{"country", "user.id", "note"},
			[]store.Row{g(int64(1), "France", 1.0, nil), g(int64(1), "France", nil, nil)}},
		{"count/no events", q("fixed", store.Count, "", f("country", "eq", "nobody")), []string{"country"}, nil},
		{"count/unknown collection", q("nothing", store.Count, ""), []string{"country"}, nil},
		{"sum", q("fixed", store.Sum, "price"), []string{"country"},
			[]store.Row{g(10.0, "France"), g(20.0, "Germany"), g(-5.5, "france"), g(10.0, "Zed")}},
		{"sum/group without numbers", q("fixed", store.Sum, "price", f("code", "eq", nil)), []string{"country"},
			[]store.Row{g(nil, "France")}},
		{"count_unique", q("fixed", store.CountUnique, "country"), []string{"is_mobile"},
			[]store.Row{g(int64(2), true), g(int64(1), false), g(int64(2), nil)}},
		{"select_unique", q("fixed", store.SelectUnique, "code"), []string{"is_mobile"},
			[]store.Row{g([]any{"10", "abc"}, true), g([]any{10.0}, false), g([]any{}, nil)}},
		{"median", q("fixed", store.Median, "price"), []string{"is_mobile"},
			[]store.Row{g(10.0, true), g(20.0, false), g(-5.5, nil)}},
	}
	for _, c := range cases {
		if !s.has(string(c.q.Analysis)) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			qq := c.q
			for _, p := range c.paths {
				qq.GroupBy = append(qq.GroupBy, path(p))
			}
			wantRows(t, qq, mustRun(t, st, qq).Rows, c.want)
		})
	}
}

// b is a row of a bucketed query.
func b(bucket int, value any, group ...any) store.Row {
	return store.Row{Bucket: bucket, Group: group, Value: value}
}

// days returns the boundaries of n days from a date's midnight in loc.
func days(loc *time.Location, y int, m time.Month, d, n int) []time.Time {
	out := make([]time.Time, n+1)
	for i := range out {
		out[i] = time.Date(y, m, d+i, 0, 0, 0, 0, loc)
	}
	return out
}

func (s *suite) buckets(t *testing.T) {
	if !s.has("buckets") {
		t.Skip("family buckets is not run")
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	st := s.openFixed(t)
	// Paris moves to summer time on 2024-03-31: that day is 23 hours long,
	// and e4 (2024-04-01T22:30Z) is on April 2nd in Paris.
	dst := days(paris, 2024, 3, 30, 4)
	if got := dst[2].Sub(dst[1]); got != 23*time.Hour {
		t.Fatalf("2024-03-31 in Paris lasts %v, want 23h (time zone data?)", got)
	}
	e3 := ts("2024-04-01T10:00:00Z")
	cases := []struct {
		name    string
		q       store.Query
		buckets []time.Time
		groupBy []string
		want    []store.Row
	}{
		{"count/daily over a DST change", q("fixed", store.Count, ""), dst, nil,
			[]store.Row{b(0, int64(1)), b(1, int64(1)), b(2, int64(1)), b(3, int64(2))}},
		{"count/events outside the buckets", q("fixed", store.Count, ""), days(paris, 2024, 3, 31, 2), nil,
			[]store.Row{b(0, int64(1)), b(1, int64(1))}},
		{"count/no events", q("fixed", store.Count, ""), days(paris, 2024, 5, 1, 3), nil, nil},
		{"count/boundaries", q("fixed", store.Count, ""), []time.Time{e3.Add(-time.Hour), e3, e3.Add(time.Hour)}, nil,
			[]store.Row{b(1, int64(1))}},
		{"count/with a timeframe", func() store.Query {
			qq := q("fixed", store.Count, "")
			qq.Start = ts("2024-04-01T23:00:00Z")
			return qq
		}(), dst, nil, []store.Row{b(3, int64(1))}},
		{"count/with group_by", q("fixed", store.Count, ""), dst, []string{"country"},
			[]store.Row{b(0, int64(1), "France"), b(1, int64(1), "Germany"), b(2, int64(1), "France"), b(3, int64(1), "france"), b(3, int64(1), "Zed")}},
		{"sum", q("fixed", store.Sum, "price"), dst, nil,
			[]store.Row{b(0, 10.0), b(1, 20.0), b(2, nil), b(3, 4.5)}},
	}
	for _, c := range cases {
		if !s.has(string(c.q.Analysis)) || len(c.groupBy) > 0 && !s.has("group_by") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			qq := c.q
			qq.Buckets = c.buckets
			for _, p := range c.groupBy {
				qq.GroupBy = append(qq.GroupBy, path(p))
			}
			wantRows(t, qq, mustRun(t, st, qq).Rows, c.want)
		})
	}
}

func (s *suite) extraction(t *testing.T) {
	if !s.has("extraction") {
		t.Skip("family extraction is not run")
	}
	st := s.openFixed(t)
	fixed := fixedEvents()
	jsons := func(evs ...store.Event) []json.RawMessage {
		out := []json.RawMessage{}
		for _, e := range evs {
			out = append(out, e.JSON)
		}
		return out
	}
	var total int64
	for _, e := range fixed {
		total += int64(len(e.JSON))
	}
	// Ties on keen.timestamp are ordered by keen.id.
	at := ts("2024-03-01T00:00:00Z")
	ties := []store.Event{
		event("p", "ties", "b", at, time.Time{}, member{"v", n("1")}),
		event("p", "ties", "a", at, time.Time{}, member{"v", n("2")}),
		event("p", "ties", "c", at.Add(-time.Second), time.Time{}, member{"v", n("3")}),
	}
	mustInsert(t, st, ties, 3, 0, 0)
	ok := []struct {
		name string
		q    store.Query
		want []json.RawMessage
	}{
		{"all", q("fixed", store.Extraction, ""), jsons(fixed...)},
		{"ties", q("ties", store.Extraction, ""), jsons(ties[2], ties[1], ties[0])},
		{"latest", func() store.Query { qq := q("ties", store.Extraction, ""); qq.Latest = 2; return qq }(), jsons(ties[1], ties[0])},
		{"latest above", func() store.Query { qq := q("ties", store.Extraction, ""); qq.Latest = 10; return qq }(), jsons(ties[2], ties[1], ties[0])},
		{"timeframe", func() store.Query {
			qq := q("fixed", store.Extraction, "")
			qq.Start, qq.End = ts("2024-03-31T10:00:00Z"), ts("2024-04-01T22:30:00Z")
			return qq
		}(), jsons(fixed[1], fixed[2])},
		{"unknown collection", q("nothing", store.Extraction, ""), jsons()},
		{"max_events reached", func() store.Query { qq := q("fixed", store.Extraction, ""); qq.MaxEvents = 5; return qq }(), jsons(fixed...)},
		{"max_events with latest", func() store.Query {
			qq := q("fixed", store.Extraction, "")
			qq.Latest, qq.MaxEvents = 2, 2
			return qq
		}(), jsons(fixed[3], fixed[4])},
		{"max_bytes reached", func() store.Query { qq := q("fixed", store.Extraction, ""); qq.MaxBytes = total; return qq }(), jsons(fixed...)},
		{"max_bytes with latest", func() store.Query {
			qq := q("fixed", store.Extraction, "")
			qq.Latest, qq.MaxBytes = 1, int64(len(fixed[4].JSON))
			return qq
		}(), jsons(fixed[4])},
	}
	if s.has("filters") {
		ok = append(ok, struct {
			name string
			q    store.Query
			want []json.RawMessage
		}{"filters", q("fixed", store.Extraction, "", f("country", "eq", "France")), jsons(fixed[0], fixed[2])})
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			wantEvents(t, c.q, mustRun(t, st, c.q).Events, c.want)
		})
	}
	tooLargeCases := []struct {
		name   string
		q      store.Query
		events bool // the error is over MaxEvents; nil: either
		either bool
	}{
		{"over max_events", func() store.Query { qq := q("fixed", store.Extraction, ""); qq.MaxEvents = 4; return qq }(), true, false},
		{"over max_events with latest", func() store.Query {
			qq := q("fixed", store.Extraction, "")
			qq.Latest, qq.MaxEvents = 3, 2
			return qq
		}(), true, false},
		{"over max_bytes", func() store.Query { qq := q("fixed", store.Extraction, ""); qq.MaxBytes = total - 1; return qq }(), false, false},
		{"over both", func() store.Query {
			qq := q("fixed", store.Extraction, "")
			qq.MaxEvents, qq.MaxBytes = 1, 10
			return qq
		}(), false, true},
	}
	for _, c := range tooLargeCases {
		t.Run(c.name, func(t *testing.T) {
			res, err := st.Run(context.Background(), c.q)
			tl := tooLarge(err)
			switch {
			case tl == nil:
				t.Fatalf("Run(%s) = %d events, %v; want a *store.TooLargeError", describe(c.q), len(res.Events), err)
			case !c.either && tl.Events != c.events:
				t.Errorf("Run(%s): TooLargeError.Events = %v, want %v", describe(c.q), tl.Events, c.events)
			}
		})
	}
}

// outcome is an expected store.Outcome.
func outcome(s store.Status, json []byte) store.Outcome { return store.Outcome{Status: s, JSON: json} }

// diffOutcomes says how got differs from want.
func diffOutcomes(got, want []store.Outcome) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d outcomes, want %d", len(got), len(want))
	}
	var msgs []string
	for i := range want {
		g, w := got[i], want[i]
		if g.Status != w.Status || w.Status == store.Existing && string(g.JSON) != string(w.JSON) {
			msgs = append(msgs, fmt.Sprintf("event %d: status %d JSON %s, want status %d JSON %s", i, g.Status, g.JSON, w.Status, w.JSON))
		}
	}
	return strings.Join(msgs, "\n")
}

func (s *suite) insert(t *testing.T) {
	st := s.open(t)
	t0 := ts("2024-03-01T00:00:00Z")
	w := store.UniquenessWindow
	tok := func(e store.Event, token string) store.Event { e.UniquenessToken = token; return e }
	a := tok(event("p", "u", "a", t0, t0, member{"v", n("1")}), "t1")
	b := event("p", "u", "b", t0, t0, member{"v", n("2")})
	batch1 := []store.Event{a, b, a}
	res := mustInsert(t, st, batch1, 2, 1, 0)
	if s.has("outcomes") {
		if msg := diffOutcomes(res.Outcomes, []store.Outcome{outcome(store.Stored, nil), outcome(store.Stored, nil), outcome(store.Existing, a.JSON)}); msg != "" {
			t.Errorf("first Insert's outcomes:\n%s", msg)
		}
	}
	// a again, re-processed: a later keen.created_at, but the stored JSON
	// is the first one's.
	again := tok(event("p", "u", "a", t0, t0.Add(time.Hour), member{"v", n("1")}), "t1")
	batch2 := []store.Event{
		again,
		tok(event("p", "u", "c", t0, t0.Add(w-time.Millisecond)), "t1"), // within a's window
		tok(event("p", "u", "d", t0, t0.Add(w)), "t1"),                  // a's window is over: d holds t1
		tok(event("p", "u", "e", t0, t0.Add(w+time.Millisecond)), "t1"), // within d's window
		tok(event("p", "u2", "f", t0, t0), "t1"),                        // another collection
		tok(event("q", "u", "g", t0, t0), "t1"),                         // another project
		tok(event("p", "u", "h", t0, t0.Add(10*24*time.Hour)), "t2"),
		tok(event("p", "u", "i", t0, t0), "t2"), // created before h, which holds t2
	}
	res = mustInsert(t, st, batch2, 4, 1, 3)
	if s.has("outcomes") {
		if msg := diffOutcomes(res.Outcomes, []store.Outcome{
			outcome(store.Existing, a.JSON), outcome(store.Duplicate, nil), outcome(store.Stored, nil), outcome(store.Duplicate, nil),
			outcome(store.Stored, nil), outcome(store.Stored, nil), outcome(store.Stored, nil), outcome(store.Duplicate, nil),
		}); msg != "" {
			t.Errorf("second Insert's outcomes:\n%s", msg)
		}
	}
	if s.has("count") {
		qq := q("u", store.Count, "")
		wantRows(t, qq, mustRun(t, st, qq).Rows, one(int64(4))) // a b d h
	}
	if s.has("extraction") {
		qq := q("u", store.Extraction, "")
		// keen.timestamps tie: by keen.id.
		wantEvents(t, qq, mustRun(t, st, qq).Events, []json.RawMessage{a.JSON, b.JSON, batch2[2].JSON, batch2[6].JSON})
	}
}

func (s *suite) schema(t *testing.T) {
	if !s.has("schema") {
		t.Skip("family schema is not run")
	}
	st := s.open(t)
	at := ts("2024-03-01T00:00:00Z")
	mustInsert(t, st, []store.Event{
		event("s", "s1", "1", at, time.Time{}, member{"a", n("1")}, member{"b", object{{"c", "x"}, {"d", []any{n("1"), n("2")}}}}),
		event("s", "s1", "2", at, time.Time{}, member{"a", "y"}, member{"e", object{}}, member{"f", nil}, member{"g", []any{"x"}},
			member{"b", object{{"c", true}}}, member{"h", []any{}}),
		event("s", "s2", "3", at, time.Time{}, member{"x", n("1")}, member{"keen", object{{"location", object{{"coordinates", []any{n("1"), n("2")}}}}}}),
		event("other", "o1", "4", at, time.Time{}, member{"y", n("1")}),
	}, 4, 0, 0)
	want := map[string]map[string][]string{
		"s1": {"a": {"n", "s"}, "b.c": {"b", "s"}, "b.d": {"aj"}, "f": {"z"}, "g": {"as"}, "h": {"as"}},
		"s2": {"x": {"n"}, "keen.location.coordinates": {"aj"}},
	}
	for _, props := range want {
		props["keen.timestamp"] = []string{"s"}
		props["keen.created_at"] = []string{"s"}
	}
	if msg := diffSchema(mustSchema(t, st, "s"), want); msg != "" {
		t.Error(msg)
	}
	if got := mustSchema(t, st, "nobody"); len(got) != 0 {
		t.Errorf("Schema of a project without events = %v, want none", got)
	}
}

func mustSchema(t *testing.T, st store.Store, project string) []store.Collection {
	t.Helper()
	got, err := st.Schema(context.Background(), project)
	if err != nil {
		t.Fatalf("Schema(%q): %v", project, err)
	}
	return got
}

// diffSchema compares a Schema with want (collection → path → types).
// keen.id is not compared: query.go does not say whether it is listed.
func diffSchema(got []store.Collection, want map[string]map[string][]string) string {
	var msgs []string
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c.Name] {
			msgs = append(msgs, fmt.Sprintf("collection %q listed twice", c.Name))
			continue
		}
		seen[c.Name] = true
		wp, ok := want[c.Name]
		if !ok {
			msgs = append(msgs, fmt.Sprintf("unexpected collection %q", c.Name))
			continue
		}
		for p, types := range c.Properties {
			if p == "keen.id" {
				continue
			}
			ts := slices.Sorted(slices.Values(types))
			if w, ok := wp[p]; !ok {
				msgs = append(msgs, fmt.Sprintf("%s: unexpected property %s %v", c.Name, p, types))
			} else if !slices.Equal(ts, slices.Sorted(slices.Values(w))) {
				msgs = append(msgs, fmt.Sprintf("%s: property %s has types %v, want %v", c.Name, p, types, w))
			}
		}
		for p, w := range wp {
			if _, ok := c.Properties[p]; !ok {
				msgs = append(msgs, fmt.Sprintf("%s: missing property %s %v", c.Name, p, w))
			}
		}
	}
	for name := range want {
		if !seen[name] {
			msgs = append(msgs, fmt.Sprintf("missing collection %q", name))
		}
	}
	slices.Sort(msgs)
	return strings.Join(msgs, "\n")
}

func (s *suite) delete(t *testing.T) {
	if !s.has("delete", "count") {
		t.Skip("families delete and count are not both run")
	}
	st := s.open(t)
	ctx := context.Background()
	day := ts("2024-03-01T00:00:00Z")
	var d1 []store.Event
	for i := 1; i <= 6; i++ {
		e := event("d", "d1", fmt.Sprintf("k%d", i), day.Add(time.Duration(i)*24*time.Hour), time.Time{}, member{"n", n(fmt.Sprint(i))})
		if i == 2 {
			e.UniquenessToken = "tk"
		}
		d1 = append(d1, e)
	}
	d2 := []store.Event{
		event("d", "d2", "m1", day, time.Time{}, member{"user", object{{"name", "x"}, {"id", n("1")}}}),
		event("d", "d2", "m2", day, time.Time{}, member{"user", object{{"name", "y"}}}),
		event("d", "d2", "m3", day, time.Time{}, member{"other", n("1")}),
	}
	mustInsert(t, st, append(slices.Clone(d1), d2...), 9, 0, 0)
	count := func(t *testing.T, collection string, want int64, filters ...store.Filter) {
		t.Helper()
		qq := store.Query{ProjectID: "d", Collection: collection, Analysis: store.Count, Filters: filters}
		wantRows(t, qq, mustRun(t, st, qq).Rows, one(want))
	}
	del := func(t *testing.T, d store.Deletion, want int64) {
		t.Helper()
		got, err := st.Delete(ctx, d)
		if err != nil {
			t.Fatalf("Delete(%+v): %v", d, err)
		}
		if got.Events != want {
			t.Errorf("Delete(%+v) removed %d events, want %d", d, got.Events, want)
		}
	}

	t.Run("events", func(t *testing.T) {
		del(t, store.Deletion{ProjectID: "d", Collection: "d1", Events: &store.Query{Filters: []store.Filter{f("n", "gt", n("3"))}}}, 3)
		count(t, "d1", 3)
		del(t, store.Deletion{ProjectID: "d", Collection: "d1", Events: &store.Query{Start: day.Add(2 * 24 * time.Hour)}}, 2) // k2 k3
		count(t, "d1", 1)
		count(t, "d2", 3)
		// k2's uniqueness token stays held.
		e := event("d", "d1", "k7", day, day.Add(24*time.Hour), member{"n", n("7")})
		e.UniquenessToken = "tk"
		mustInsert(t, st, []store.Event{e}, 0, 0, 1)
		if s.has("extraction") {
			qq := store.Query{ProjectID: "d", Collection: "d1", Analysis: store.Extraction}
			wantEvents(t, qq, mustRun(t, st, qq).Events, []json.RawMessage{d1[0].JSON})
		}
	})
	t.Run("property", func(t *testing.T) {
		del(t, store.Deletion{ProjectID: "d", Collection: "d2", Property: path("user.name")}, 0)
		count(t, "d2", 3)
		count(t, "d2", 0, f("user.name", "exists", true))
		count(t, "d2", 1, f("user", "exists", true)) // m2's user is now {}
		count(t, "d2", 0, f("user.name", "eq", "x"))
		if s.has("group_by") {
			qq := store.Query{ProjectID: "d", Collection: "d2", Analysis: store.Count, GroupBy: [][]string{path("user.name")}}
			wantRows(t, qq, mustRun(t, st, qq).Rows, []store.Row{g(int64(3), nil)})
		}
		if s.has("extraction") {
			qq := store.Query{ProjectID: "d", Collection: "d2", Analysis: store.Extraction}
			want := []json.RawMessage{
				json.RawMessage(strings.Replace(string(d2[0].JSON), `"name":"x",`, "", 1)),
				json.RawMessage(strings.Replace(string(d2[1].JSON), `"name":"y"`, "", 1)),
				d2[2].JSON,
			}
			if msg := diffEvents(mustRun(t, st, qq).Events, want, true); msg != "" {
				t.Errorf("Run(%s) after deleting user.name:\n%s", describe(qq), msg)
			}
		}
		if s.has("schema") {
			got := mustSchema(t, st, "d")
			for _, c := range got {
				if _, ok := c.Properties["user.name"]; ok && c.Name == "d2" {
					t.Errorf("Schema still lists d2's user.name: %v", c.Properties)
				}
				if _, ok := c.Properties["user.id"]; !ok && c.Name == "d2" {
					t.Errorf("Schema lost d2's user.id: %v", c.Properties)
				}
			}
		}
	})
	t.Run("collection", func(t *testing.T) {
		del(t, store.Deletion{ProjectID: "d", Collection: "d1"}, 1)
		count(t, "d1", 0)
		count(t, "d2", 3)
		if s.has("schema") {
			for _, c := range mustSchema(t, st, "d") {
				if c.Name == "d1" {
					t.Errorf("Schema still lists the deleted collection d1: %v", c.Properties)
				}
			}
		}
		// The deleted collection's tokens are released.
		e := event("d", "d1", "k8", day, day.Add(48*time.Hour), member{"n", n("8")})
		e.UniquenessToken = "tk"
		mustInsert(t, st, []store.Event{e}, 1, 0, 0)
		count(t, "d1", 1)
	})
}
