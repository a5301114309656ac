package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// An analysis is one SQL query over the narrow typed columns of the
// collection's table: one scan, whatever the buckets and groups
// (docs/store.md, "Analyses"). compileRun builds it; Run reads its rows.

// runPlan is a compiled analysis: its SQL, and how to read its rows.
type runPlan struct {
	sql  string
	args []any
	// buckets says the first column is the bucket index.
	buckets bool
	// groups are, per GroupBy path, the leaf types of its columns, in
	// the columns' order (none: the path is nil in every event).
	groups [][]string
	// analysis picks how the value columns are read.
	analysis store.Analysis
	// grouped says rows are per (bucket, group) and only those holding an
	// event are returned; otherwise there is exactly one row.
	grouped bool
}

// compileRun compiles an analysis other than extraction over table tbl,
// whose typed columns are cols.
func compileRun(q store.Query, tbl string, cols map[string]string) (*runPlan, error) {
	p := &runPlan{analysis: q.Analysis, grouped: len(q.GroupBy) > 0 || len(q.Buckets) > 0}
	values, err := valueColumns(q, cols)
	if err != nil {
		return nil, err
	}
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return nil, err
	}
	var sel, keys []string
	if len(q.Buckets) > 0 {
		bexpr, bwhere, err := compileBuckets(q.Buckets)
		if err != nil {
			return nil, err
		}
		p.buckets = true
		sel = append(sel, bexpr)
		where += " AND " + bwhere
	}
	for _, path := range q.GroupBy {
		if len(path) == 0 {
			return nil, fmt.Errorf("store: a group_by property has no name")
		}
		joined := strings.Join(path, leaf.Sep)
		var types []string
		for _, typ := range store.GroupTypes {
			if c := leafColumn(cols, joined, typ); c != "" {
				types = append(types, typ)
				sel = append(sel, c)
			}
		}
		p.groups = append(p.groups, types)
	}
	for i := range sel {
		keys = append(keys, strconv.Itoa(i+1))
	}
	sel = append(sel, values)
	p.sql = `SELECT ` + strings.Join(sel, ", ") + ` FROM ` + tbl + ` WHERE ` + where
	switch {
	case len(keys) > 0:
		p.sql += ` GROUP BY ` + strings.Join(keys, ", ")
	case p.grouped:
		// Grouped by paths no event has: one group, if any event matches.
		p.sql += ` HAVING count(*) > 0`
	}
	p.args = args
	return p, nil
}

// leafColumn is the SQL expression of the leaf of type typ at path (parts
// joined by leaf.Sep), or "" if the table has none.
func leafColumn(cols map[string]string, path, typ string) string {
	k := leaf.Key(path, typ)
	if c, ok := keenColumns[k]; ok {
		return c // also in tables of earlier versions, which have a column for it
	}
	return cols[k]
}

// typedColumn is column, or a NULL of the column's SQL type when the table
// has none (so that an analysis over a property no event has is the
// analysis over no values).
func typedColumn(cols map[string]string, path, typ string) string {
	if c := leafColumn(cols, path, typ); c != "" {
		return c
	}
	return "NULL::" + sqlTypes[typ]
}

// valueColumns are the select expressions of q's analysis.
func valueColumns(q store.Query, cols map[string]string) (string, error) {
	if q.Analysis == store.Count {
		return "count(*)", nil
	}
	if len(q.Target) == 0 {
		return "", fmt.Errorf("store: analysis %s needs a target property", q.Analysis)
	}
	target := strings.Join(q.Target, leaf.Sep)
	str, num, boo := typedColumn(cols, target, leaf.String), typedColumn(cols, target, leaf.Number), typedColumn(cols, target, leaf.Bool)
	switch q.Analysis {
	case store.CountUnique:
		// One event has at most one value at a path, and values of
		// different types are different: the distinct values of each type
		// add up.
		// Only the columns the table has: each count(DISTINCT) is a hash
		// table of its own.
		var parts []string
		for _, typ := range []string{leaf.String, leaf.Number, leaf.Bool} {
			if c := leafColumn(cols, target, typ); c != "" {
				parts = append(parts, "count(DISTINCT "+c+")")
			}
		}
		if len(parts) == 0 {
			parts = []string{"count(DISTINCT NULL::VARCHAR)"} // 0, as an aggregate
		}
		return "CAST(" + strings.Join(parts, " + ") + " AS BIGINT)", nil
	case store.SelectUnique:
		list := func(c string) string { return "list(DISTINCT " + c + ") FILTER (WHERE " + c + " IS NOT NULL)" }
		return list(str) + ", " + list(num) + ", " + list(boo), nil
	// Sums are compensated (Kahan), so that they do not depend on the
	// order DuckDB's threads add the values in more than float64 must.
	case store.Sum:
		return "fsum(" + num + ")", nil
	case store.Average:
		return "fsum(" + num + ") / count(" + num + ")", nil
	case store.Minimum:
		return "min(" + num + ")", nil
	case store.Maximum:
		return "max(" + num + ")", nil
	case store.StandardDeviation:
		return "stddev_pop(" + num + ")", nil
	case store.Median, store.Percentile:
		p := 50.0
		if q.Analysis == store.Percentile {
			p = q.Percentile
			if math.IsNaN(p) || p < 0 || p > 100 {
				return "", fmt.Errorf("store: percentile %v is not between 0 and 100", q.Percentile)
			}
		}
		// Not DuckDB's quantile_disc, whose rank is ceil(q × n) − 1: the
		// contract's rank is floor(p/100 × (n−1)), computed here in the
		// same floating-point steps (p/100 in Go, × (n−1) in DOUBLE).
		return fmt.Sprintf("(list(%[1]s ORDER BY %[1]s) FILTER (WHERE %[1]s IS NOT NULL))[CAST(floor(%[2]s * (count(%[1]s) - 1)) AS BIGINT) + 1]",
			num, strconv.FormatFloat(p/100, 'g', -1, 64)), nil
	}
	return "", fmt.Errorf("store: analysis %q is not supported", q.Analysis)
}

// compileBuckets returns the expression of an event's bucket index (a
// binary search over the boundaries, as nested CASEs: log2(n) comparisons
// per event, vectorized) and the condition that keeps the events inside
// the buckets.
func compileBuckets(bounds []time.Time) (expr, where string, err error) {
	if len(bounds) < 2 {
		return "", "", fmt.Errorf("store: %d interval boundaries; buckets need at least 2", len(bounds))
	}
	lits := make([]string, len(bounds))
	for i, b := range bounds {
		if i > 0 && !bounds[i-1].Before(b) {
			return "", "", fmt.Errorf("store: interval boundaries %d and %d are not ascending (%s, %s)", i-1, i, bounds[i-1].Format(time.RFC3339Nano), b.Format(time.RFC3339Nano))
		}
		lits[i] = timestampLiteral(b)
	}
	var rec func(lo, hi int) string
	rec = func(lo, hi int) string {
		if hi-lo == 1 {
			return strconv.Itoa(lo)
		}
		mid := (lo + hi) / 2
		return "CASE WHEN _ts < " + lits[mid] + " THEN " + rec(lo, mid) + " ELSE " + rec(mid, hi) + " END"
	}
	n := len(bounds) - 1
	return rec(0, n), "_ts >= " + lits[0] + " AND _ts < " + lits[n], nil
}

// timestampLiteral is t as a DuckDB TIMESTAMP literal (UTC, microseconds:
// _ts's precision). A t between two microseconds is rounded up, so that
// _ts >= t and _ts < t keep their meaning.
func timestampLiteral(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()%1000 != 0 {
		t = t.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return "TIMESTAMP '" + t.Format("2006-01-02 15:04:05.000000") + "'"
}

// readRow turns a row of p's query into a store.Row.
func (p *runPlan) readRow(vals []any) (store.Row, error) {
	var r store.Row
	i := 0
	if p.buckets {
		b, ok := vals[0].(int32)
		if !ok {
			return r, fmt.Errorf("store: bucket index %v (%T)", vals[0], vals[0])
		}
		r.Bucket = int(b)
		i++
	}
	if len(p.groups) > 0 {
		r.Group = make([]any, len(p.groups))
	}
	for g, types := range p.groups {
		for _, typ := range types {
			v := vals[i]
			i++
			if v == nil {
				continue
			}
			gv, err := groupValue(typ, v)
			if err != nil {
				return r, err
			}
			r.Group[g] = gv
		}
	}
	v, err := p.value(vals[i:])
	if err != nil {
		return r, err
	}
	r.Value = v
	return r, nil
}

// groupValue is the group value of a column of leaf type typ.
func groupValue(typ string, v any) (any, error) {
	switch typ {
	case leaf.Number:
		return positiveZero(v), nil
	case leaf.String, leaf.Bool:
		return v, nil
	case leaf.StrArray:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("store: a string array column gave %T", v)
		}
		out := make([]string, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("store: a string array column gave an element %T", e)
			}
			out[i] = s
		}
		return out, nil
	case leaf.JSONArray:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("store: a JSON array column gave %T", v)
		}
		return json.RawMessage(s), nil
	}
	return nil, fmt.Errorf("store: no group value of leaf type %q", typ)
}

// value reads the value columns of an analysis.
func (p *runPlan) value(vals []any) (any, error) {
	switch p.analysis {
	case store.Count, store.CountUnique:
		n, ok := vals[0].(int64)
		if !ok {
			return nil, fmt.Errorf("store: %s gave %v (%T)", p.analysis, vals[0], vals[0])
		}
		return n, nil
	case store.SelectUnique:
		out := []any{}
		for _, v := range vals[:3] {
			if v == nil {
				continue
			}
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("store: select_unique gave %T", v)
			}
			for _, e := range list {
				out = append(out, positiveZero(e))
			}
		}
		return out, nil
	default:
		if vals[0] == nil {
			return nil, nil
		}
		f, ok := vals[0].(float64)
		if !ok {
			return nil, fmt.Errorf("store: %s gave %v (%T)", p.analysis, vals[0], vals[0])
		}
		return positiveZero(f), nil
	}
}

// positiveZero turns a -0 into 0: DuckDB groups and deduplicates them as
// one number, keeping whichever it met first, and a result should not
// depend on that.
func positiveZero(v any) any {
	if f, ok := v.(float64); ok && f == 0 {
		return 0.0
	}
	return v
}

// emptyTable stands for the table of a collection without events: the
// fixed columns keenColumns and the timeframe read, and no row.
const emptyTable = `(SELECT NULL::VARCHAR AS _id, NULL::TIMESTAMP AS _ts, NULL::TIMESTAMP AS _created WHERE FALSE)`

// Run answers q (see store.Query).
func (s *DuckStore) Run(ctx context.Context, q store.Query) (store.Result, error) {
	if q.Latest < 0 || q.MaxEvents < 0 || q.MaxBytes < 0 {
		return store.Result{}, fmt.Errorf("store: latest and the extraction bounds cannot be negative")
	}
	if q.Analysis == store.Extraction {
		if len(q.GroupBy) > 0 || len(q.Buckets) > 0 {
			return store.Result{}, fmt.Errorf("store: an extraction has no group_by or interval")
		}
		evs, err := s.Extract(ctx, q)
		if err != nil {
			return store.Result{}, err
		}
		return store.Result{Events: evs}, nil
	}
	if q.Latest != 0 || q.MaxEvents != 0 || q.MaxBytes != 0 {
		return store.Result{}, fmt.Errorf("store: latest and the extraction bounds are for extractions, not %s", q.Analysis)
	}
	s.delMu.RLock() // no table or column it names is dropped while it runs
	defer s.delMu.RUnlock()
	tbl, cols := s.snapshot(q.ProjectID, q.Collection)
	if tbl == "" {
		tbl = emptyTable // an unknown collection: the analysis over no events
	}
	p, err := compileRun(q, tbl, cols)
	if err != nil {
		return store.Result{}, err
	}
	db, err := s.readDB()
	if err != nil {
		return store.Result{}, err
	}
	rows, err := db.QueryContext(ctx, p.sql, p.args...)
	if err != nil {
		return store.Result{}, fmt.Errorf("store: %s: %w", q.Analysis, err)
	}
	defer rows.Close()
	ncol, err := rows.Columns()
	if err != nil {
		return store.Result{}, fmt.Errorf("store: %s: %w", q.Analysis, err)
	}
	out := store.Result{Rows: []store.Row{}}
	vals := make([]any, len(ncol))
	ptrs := make([]any, len(ncol))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return store.Result{}, fmt.Errorf("store: %s: %w", q.Analysis, err)
		}
		r, err := p.readRow(vals)
		if err != nil {
			return store.Result{}, err
		}
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return store.Result{}, fmt.Errorf("store: %s: %w", q.Analysis, err)
	}
	return out, nil
}
