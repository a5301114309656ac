package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// The model's analyses, written from store.Analysis's definitions on the
// decoded events.

// canon is a value's text for comparing and sorting results.
func canon(v any) string {
	switch x := v.(type) {
	case json.RawMessage:
		var b bytes.Buffer
		if err := json.Compact(&b, x); err != nil {
			return "raw!" + string(x)
		}
		return "raw:" + b.String()
	case float64:
		if x == 0 {
			x = 0 // -0 is 0
		}
		return "num:" + fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%T:%s", v, b)
}

// run is q's result on the model, rows sorted by rowKey.
func (m *model) run(q store.Query) []store.Row {
	rows := slices.Clone(m.result(q).Rows)
	sort.Slice(rows, func(i, j int) bool { return rowKey(rows[i]) < rowKey(rows[j]) })
	return rows
}

func rowKey(r store.Row) string {
	parts := []string{fmt.Sprintf("%06d", r.Bucket)}
	for _, g := range r.Group {
		parts = append(parts, canon(g))
	}
	return strings.Join(parts, "|")
}

// sameValue compares a result value with the model's: floats within a
// relative 1e-9 (the engine sums in another order), select_unique as sets.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		if !ok {
			return false
		}
		if math.IsInf(w, 0) || math.IsNaN(w) {
			return g == w || (math.IsNaN(g) && math.IsNaN(w))
		}
		return math.Abs(g-w) <= 1e-9*math.Max(1, math.Max(math.Abs(g), math.Abs(w)))
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		gs, ws := make([]string, len(g)), make([]string, len(w))
		for i := range g {
			gs[i], ws[i] = canon(g[i]), canon(w[i])
		}
		slices.Sort(gs)
		slices.Sort(ws)
		return slices.Equal(gs, ws)
	}
	return canon(got) == canon(want)
}

func compareRun(t *testing.T, s *DuckStore, m *model, q store.Query) {
	t.Helper()
	res, err := s.Run(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", runName(q), err)
	}
	want := m.run(q)
	got := slices.Clone(res.Rows)
	sort.Slice(got, func(i, j int) bool { return rowKey(got[i]) < rowKey(got[j]) })
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d\ngot  %v\nwant %v", runName(q), len(got), len(want), got, want)
		return
	}
	for i := range want {
		if rowKey(got[i]) != rowKey(want[i]) || !sameValue(got[i].Value, want[i].Value) {
			t.Errorf("%s: row %d: %s = %#v, want %s = %#v", runName(q), i, rowKey(got[i]), got[i].Value, rowKey(want[i]), want[i].Value)
			return
		}
	}
}

func runName(q store.Query) string {
	var g []string
	for _, p := range q.GroupBy {
		g = append(g, strings.Join(p, "."))
	}
	return fmt.Sprintf("%s(%s) p=%v by %v, %d buckets, %s", q.Analysis, strings.Join(q.Target, "."), q.Percentile, g, len(q.Buckets), qname(q))
}

// TestAnalysesAgainstModel: every analysis, on targets of every kind,
// grouped by paths of every kind and by several, in interval buckets,
// with filters, equals the model's.
func TestAnalysesAgainstModel(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	m := loadRandom(t, s, 43, 3000)
	targets := [][]string{{"price"}, {"code"}, {"country"}, {"is_mobile"}, {"tags"}, {"user", "id"}, {"user"}, {"nope"},
		{"keen", "id"}, {"keen", "timestamp"}, {"loc"}}
	groupBys := [][][]string{nil, {{"country"}}, {{"code"}}, {{"tags"}}, {{"loc"}}, {{"user"}}, {{"user", "address", "city"}},
		{{"is_mobile"}, {"country"}}, {{"nope"}}, {{"keen", "created_at"}}, {{"note"}}}
	var daily []time.Time
	for d := 0; d <= 61; d++ {
		daily = append(daily, genBase.Add(time.Duration(d-1)*24*time.Hour))
	}
	bucketSets := [][]time.Time{nil, daily, {genBase.Add(time.Hour + time.Nanosecond), genBase.Add(10 * 24 * time.Hour), genBase.Add(11 * 24 * time.Hour)}}
	analyses := []store.Analysis{store.Count, store.CountUnique, store.SelectUnique, store.Sum, store.Average, store.Minimum,
		store.Maximum, store.Median, store.Percentile, store.StandardDeviation}
	filters := [][]store.Filter{nil,
		{{Path: []string{"is_mobile"}, Operator: "eq", Value: true}},
		{{Operator: "or", Or: []store.Filter{{Path: []string{"country"}, Operator: "regex", Value: "^[A-Z]"}, {Path: []string{"price"}, Operator: "gt", Value: n("50")}}}},
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, a := range analyses {
		for _, target := range targets {
			if a == store.Count && len(target) > 1 {
				continue
			}
			for i := 0; i < 6; i++ {
				q := store.Query{ProjectID: pick(r, genProjects), Collection: pick(r, genColls), Analysis: a, GroupBy: pick(r, groupBys),
					Buckets: pick(r, bucketSets), Filters: pick(r, filters)}
				if a != store.Count {
					q.Target = target
				}
				if a == store.Percentile {
					q.Percentile = pick(r, []float64{0, 1, 25, 33.3, 90, 99.9, 100})
				}
				compareRun(t, s, m, q)
			}
		}
	}
	// Every group_by alone, every bucket set, on one collection.
	for _, g := range groupBys {
		for _, b := range bucketSets {
			compareRun(t, s, m, store.Query{ProjectID: "p1", Collection: "clicks", Analysis: store.Count, GroupBy: g, Buckets: b})
			compareRun(t, s, m, store.Query{ProjectID: "p1", Collection: "clicks", Analysis: store.Median, Target: []string{"price"}, GroupBy: g, Buckets: b})
		}
	}
	// A collection without events: one row without group_by and interval,
	// none with them.
	for _, a := range analyses {
		compareRun(t, s, m, store.Query{ProjectID: "p1", Collection: "none", Analysis: a, Target: []string{"price"}, Percentile: 50})
		compareRun(t, s, m, store.Query{ProjectID: "p1", Collection: "none", Analysis: a, Target: []string{"price"}, Percentile: 50, GroupBy: [][]string{{"x"}}})
	}
}

// TestNewFiltersAgainstModel: regex, within and or, alone and combined.
func TestNewFiltersAgainstModel(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	m := loadRandom(t, s, 44, 3000)
	var fs []store.Filter
	for _, p := range [][]string{{"country"}, {"code"}, {"tags"}, {"user", "name"}, {"keen", "id"}, {"keen", "timestamp"}, {"nope"}} {
		for _, re := range []string{"^F", "an", "^$", "(?i)^fr", "[0-9]+$", "ü", `^2024-01-1\d`, `"`} {
			fs = append(fs, store.Filter{Path: p, Operator: "regex", Value: re})
		}
	}
	for _, p := range [][]string{{"loc"}, {"tags"}, {"country"}, {"nope"}} {
		for _, g := range []store.Geo{{Longitude: 2.35, Latitude: 48.85, MaxMiles: 30}, {Longitude: 3, Latitude: 49, MaxMiles: 60}, {Longitude: 3, Latitude: 49, MaxMiles: 0}, {Longitude: -70, Latitude: 40, MaxMiles: 4000}} {
			fs = append(fs, store.Filter{Path: p, Operator: "within", Value: g})
		}
	}
	all := m.matching(store.Query{ProjectID: "p1", Collection: "clicks"})
	some := map[string]bool{}
	for _, f := range fs {
		q := store.Query{ProjectID: "p1", Collection: "clicks", Filters: []store.Filter{f}}
		compare(t, s, m, q, qname(q))
		if k := m.matching(q); k > 0 && k < all {
			some[f.Operator] = true
		}
	}
	if !some["regex"] || !some["within"] {
		t.Fatalf("the cases do not tell matching from not matching: %v", some)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 200; i++ {
		or := store.Filter{Operator: "or"}
		for j := 1 + r.IntN(3); j > 0; j-- {
			f := pick(r, fs)
			if r.IntN(3) == 0 {
				f = pick(r, testFilters())
			}
			if r.IntN(5) == 0 {
				f = store.Filter{Operator: "or", Or: []store.Filter{f, pick(r, testFilters())}}
			}
			or.Or = append(or.Or, f)
		}
		q := store.Query{ProjectID: pick(r, genProjects), Collection: pick(r, genColls), Filters: []store.Filter{or}}
		if r.IntN(2) == 0 {
			q.Filters = append(q.Filters, pick(r, fs))
		}
		compare(t, s, m, q, qname(q))
	}
	// Filters without a meaning are errors, not matches of nothing.
	for _, f := range []store.Filter{
		{Path: []string{"country"}, Operator: "regex", Value: "("},
		{Path: []string{"country"}, Operator: "regex", Value: n("1")},
		{Operator: "or"},
		{Path: []string{"loc"}, Operator: "within", Value: []any{n("1"), n("2")}},
		{Path: []string{"country"}, Operator: "lt", Value: true},
		{Path: []string{"country"}, Operator: "contains", Value: n("1")},
		{Path: []string{"country"}, Operator: "eq", Value: map[string]any{}},
	} {
		if _, err := s.Run(context.Background(), store.Query{ProjectID: "p1", Collection: "clicks", Analysis: store.Count,
			Filters: []store.Filter{f}}); err == nil {
			t.Errorf("filter %+v was accepted", f)
		}
	}
}

// TestPercentileRank: the contract's rank, floor(p/100 × (n−1)), where
// DuckDB's quantile_disc would take ceil(p/100 × n) − 1.
func TestPercentileRank(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	var evs []store.Event
	for i := 1; i <= 5; i++ {
		evs = append(evs, store.Event{ProjectID: "p", Collection: "c", ID: fmt.Sprint(i), Timestamp: genBase, CreatedAt: genBase,
			JSON: []byte(fmt.Sprintf(`{"v":%d}`, i*10))})
	}
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a    store.Analysis
		p    float64
		want float64
	}{
		{store.Percentile, 90, 40}, // floor(3.6) = 3; quantile_disc: 50
		{store.Percentile, 100, 50},
		{store.Percentile, 0, 10},
		{store.Percentile, 24.9, 10},
		{store.Percentile, 25, 20},
		{store.Median, 0, 30},
	} {
		res, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: c.a, Target: []string{"v"}, Percentile: c.p})
		if err != nil || len(res.Rows) != 1 || res.Rows[0].Value != c.want {
			t.Errorf("%s %v: %+v %v, want %v", c.a, c.p, res.Rows, err, c.want)
		}
	}
	if _, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Percentile, Target: []string{"v"}, Percentile: 101}); err == nil {
		t.Error("percentile 101 was accepted")
	}
	// Keen: the median of 10 and 20 is 10.
	if _, err := s.Insert(ctx, []store.Event{{ProjectID: "p", Collection: "two", ID: "a", Timestamp: genBase, CreatedAt: genBase, JSON: []byte(`{"v":20}`)},
		{ProjectID: "p", Collection: "two", ID: "b", Timestamp: genBase, CreatedAt: genBase, JSON: []byte(`{"v":10}`)}}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Run(ctx, store.Query{ProjectID: "p", Collection: "two", Analysis: store.Median, Target: []string{"v"}}); err != nil || res.Rows[0].Value != 10.0 {
		t.Errorf("median of 10 and 20: %+v %v", res.Rows, err)
	}
}

// TestCompileBuckets: the bucket expression is a binary search over the
// boundaries, and boundaries must ascend.
func TestCompileBuckets(t *testing.T) {
	b := []time.Time{genBase, genBase.Add(time.Hour), genBase.Add(2 * time.Hour), genBase.Add(3*time.Hour + 1500*time.Nanosecond)}
	expr, where, err := compileBuckets(b)
	if err != nil {
		t.Fatal(err)
	}
	wantExpr := "CASE WHEN _ts < TIMESTAMP '2024-01-01 01:00:00.000000' THEN 0 ELSE CASE WHEN _ts < TIMESTAMP '2024-01-01 02:00:00.000000' THEN 1 ELSE 2 END END"
	wantWhere := "_ts >= TIMESTAMP '2024-01-01 00:00:00.000000' AND _ts < TIMESTAMP '2024-01-01 03:00:00.000002'"
	if expr != wantExpr || where != wantWhere {
		t.Errorf("got\n%s\n%s\nwant\n%s\n%s", expr, where, wantExpr, wantWhere)
	}
	for _, bad := range [][]time.Time{nil, {genBase}, {genBase, genBase}, {genBase.Add(time.Hour), genBase}} {
		if _, _, err := compileBuckets(bad); err == nil {
			t.Errorf("boundaries %v accepted", bad)
		}
	}
}

// TestCompileRun: the SQL of an analysis reads only the columns the table
// has, groups by every typed column of each group_by path, and is one
// query.
func TestCompileRun(t *testing.T) {
	cols := map[string]string{
		"country" + "\x1f$s": "c1", "country" + "\x1f$n": "c2", "price" + "\x1f$n": "c3", "tags" + "\x1f$as": "c4",
	}
	day := []time.Time{genBase, genBase.Add(24 * time.Hour), genBase.Add(48 * time.Hour)}
	for _, c := range []struct {
		q      store.Query
		sql    string
		groups [][]string
	}{
		{store.Query{Analysis: store.Count}, `SELECT count(*) FROM t WHERE TRUE`, nil},
		{store.Query{Analysis: store.Count, GroupBy: [][]string{{"country"}, {"nope"}}},
			`SELECT c1, c2, count(*) FROM t WHERE TRUE GROUP BY 1, 2`, [][]string{{"s", "n"}, nil}},
		{store.Query{Analysis: store.Count, GroupBy: [][]string{{"nope"}}},
			`SELECT count(*) FROM t WHERE TRUE HAVING count(*) > 0`, [][]string{nil}},
		{store.Query{Analysis: store.Sum, Target: []string{"price"}, Buckets: day, GroupBy: [][]string{{"tags"}}},
			`SELECT CASE WHEN _ts < TIMESTAMP '2024-01-02 00:00:00.000000' THEN 0 ELSE 1 END, c4, fsum(c3) FROM t WHERE TRUE AND _ts >= TIMESTAMP '2024-01-01 00:00:00.000000' AND _ts < TIMESTAMP '2024-01-03 00:00:00.000000' GROUP BY 1, 2`,
			[][]string{{"as"}}},
		{store.Query{Analysis: store.CountUnique, Target: []string{"country"}},
			`SELECT CAST(count(DISTINCT c1) + count(DISTINCT c2) AS BIGINT) FROM t WHERE TRUE`, nil},
		{store.Query{Analysis: store.CountUnique, Target: []string{"nope"}},
			`SELECT CAST(count(DISTINCT NULL::VARCHAR) AS BIGINT) FROM t WHERE TRUE`, nil},
		{store.Query{Analysis: store.Average, Target: []string{"tags"}},
			`SELECT fsum(NULL::DOUBLE) / count(NULL::DOUBLE) FROM t WHERE TRUE`, nil},
		{store.Query{Analysis: store.Percentile, Percentile: 90, Target: []string{"price"}},
			`SELECT (list(c3 ORDER BY c3) FILTER (WHERE c3 IS NOT NULL))[CAST(floor(0.9 * (count(c3) - 1)) AS BIGINT) + 1] FROM t WHERE TRUE`, nil},
		{store.Query{Analysis: store.Count, GroupBy: [][]string{{"keen", "timestamp"}}},
			`SELECT strftime(_ts, '%Y-%m-%dT%H:%M:%S.%gZ'), count(*) FROM t WHERE TRUE GROUP BY 1`, [][]string{{"s"}}},
	} {
		p, err := compileRun(c.q, "t", cols)
		if err != nil {
			t.Errorf("%s: %v", runName(c.q), err)
			continue
		}
		if p.sql != c.sql || fmt.Sprint(p.groups) != fmt.Sprint(c.groups) {
			t.Errorf("%s:\n got %s %v\nwant %s %v", runName(c.q), p.sql, p.groups, c.sql, c.groups)
		}
	}
	for _, q := range []store.Query{
		{Analysis: store.Sum},
		{Analysis: "mode", Target: []string{"price"}},
		{Analysis: store.Percentile, Percentile: -1, Target: []string{"price"}},
		{Analysis: store.Count, GroupBy: [][]string{{}}},
		{Analysis: store.Count, Buckets: []time.Time{genBase}},
	} {
		if _, err := compileRun(q, "t", cols); err == nil {
			t.Errorf("%s: compiled", runName(q))
		}
	}
}
