package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// runPlan is a compiled analysis and how to read its rows.
type runPlan struct {
	sql      string
	buckets  bool       // the first column is the bucket index
	groups   [][]string // per GroupBy path, the leaf types of its columns
	analysis store.Analysis
	grouped  bool // a count() column follows the keys; rows without events are dropped
}

// compileRun compiles an analysis other than extraction over from (a
// table, FINAL when needed), whose leaf columns are cols; sum is the
// summing aggregate (sumFunction).
func compileRun(q store.Query, from string, cols map[string]string, sum string) (*runPlan, error) {
	p := &runPlan{analysis: q.Analysis, grouped: len(q.GroupBy) > 0 || len(q.Buckets) > 0}
	values, err := valueColumns(q, cols, sum)
	if err != nil {
		return nil, err
	}
	where, err := compileWhere(q, cols)
	if err != nil {
		return nil, err
	}
	var sel []string
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
			c := leafColumn(cols, joined, typ)
			if c == "" {
				continue
			}
			types = append(types, typ)
			if typ == leaf.StrArray {
				sel = append(sel, "has("+colKeys+", "+str(leaf.Key(joined, typ))+")")
			}
			sel = append(sel, c)
		}
		p.groups = append(p.groups, types)
	}
	nkeys := len(sel)
	if p.grouped {
		sel = append(sel, "count()")
	}
	sel = append(sel, values...)
	p.sql = "SELECT " + strings.Join(sel, ", ") + " FROM " + from + " WHERE " + where
	if nkeys > 0 {
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = sel[i]
		}
		p.sql += " GROUP BY " + strings.Join(keys, ", ")
	}
	return p, nil
}

// typedColumn is the leaf column, or a NULL of its type when the table has
// none (the analysis over no values).
func typedColumn(cols map[string]string, path, typ string) string {
	if c := leafColumn(cols, path, typ); c != "" {
		return c
	}
	ct, _ := columnType(typ)
	return "CAST(NULL AS " + ct + ")"
}

func valueColumns(q store.Query, cols map[string]string, sum string) ([]string, error) {
	switch q.Analysis {
	case store.Count:
		return []string{"count()"}, nil
	case store.CountUnique, store.SelectUnique, store.Sum, store.Average, store.Minimum, store.Maximum,
		store.StandardDeviation, store.Median, store.Percentile:
	default:
		return nil, fmt.Errorf("store: analysis %q is not supported", q.Analysis)
	}
	if len(q.Target) == 0 {
		return nil, fmt.Errorf("store: analysis %s needs a target property", q.Analysis)
	}
	target := strings.Join(q.Target, leaf.Sep)
	n := typedColumn(cols, target, leaf.Number)
	orNull := func(agg string) []string { return []string{"if(count(" + n + ") = 0, NULL, " + agg + ")"} }
	switch q.Analysis {
	case store.CountUnique:
		// Values of different types are different: the distinct values
		// of each type add up.
		// countIf(0): an aggregate 0, so that the query aggregates even
		// when the table has no column of the target.
		parts := []string{"countIf(0)"}
		for _, typ := range []string{leaf.String, leaf.Number, leaf.Bool} {
			if c := leafColumn(cols, target, typ); c != "" {
				parts = append(parts, "ifNull(uniqExact("+c+"), 0)") // NULL when all values are
			}
		}
		return []string{strings.Join(parts, " + ")}, nil
	case store.SelectUnique:
		var out []string
		for _, typ := range []string{leaf.String, leaf.Number, leaf.Bool} {
			out = append(out, "groupUniqArray("+typedColumn(cols, target, typ)+")")
		}
		return out, nil
	case store.Sum:
		return orNull(sum + "(" + n + ")"), nil
	case store.Average:
		return orNull(sum + "(" + n + ") / count(" + n + ")"), nil
	case store.Minimum:
		return orNull("min(" + n + ")"), nil
	case store.Maximum:
		return orNull("max(" + n + ")"), nil
	case store.StandardDeviation:
		// varPop sums squares (not Welford's method): over equal values
		// it rounds to a little above 0 (1.6e-5 for 1234.5678) or below
		// (whose square root is NaN). Equal values deviate by exactly 0.
		return orNull("if(min(" + n + ") = max(" + n + "), 0, sqrt(greatest(varPop(" + n + "), 0)))"), nil
	}
	pct := 50.0
	if q.Analysis == store.Percentile {
		pct = q.Percentile
		if math.IsNaN(pct) || pct < 0 || pct > 100 {
			return nil, fmt.Errorf("store: percentile %v is not between 0 and 100", q.Percentile)
		}
	}
	return orNull("arraySort(groupArray(" + n + "))[" + rankExpr(pct, "count("+n+")") + " + 1]"), nil
}

// rankExpr is floor(p/100 × (n−1)) for the count expression n, computed
// exactly with p taken as the decimal it prints as (the contract's rank;
// float64 arithmetic gives 28 for p = 29, n = 101).
func rankExpr(p float64, n string) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) <= 6 {
		num, err := strconv.ParseUint(intPart+frac, 10, 64)
		if err == nil {
			den := uint64(100)
			for range len(frac) {
				den *= 10
			}
			return "intDiv((" + n + " - 1) * " + strconv.FormatUint(num, 10) + ", " + strconv.FormatUint(den, 10) + ")"
		}
	}
	return "toUInt64(floor(" + strconv.FormatFloat(p/100, 'g', -1, 64) + " * (" + n + " - 1)))"
}

// compileBuckets returns the bucket index of an event (a binary search
// over the boundaries as nested ifs) and the condition keeping the events
// inside the buckets.
func compileBuckets(bounds []time.Time) (expr, where string, err error) {
	if len(bounds) < 2 {
		return "", "", fmt.Errorf("store: %d interval boundaries; buckets need at least 2", len(bounds))
	}
	ms := make([]string, len(bounds))
	for i, b := range bounds {
		if i > 0 && !bounds[i-1].Before(b) {
			return "", "", fmt.Errorf("store: interval boundaries %d and %d are not ascending (%s, %s)", i-1, i, bounds[i-1].Format(time.RFC3339Nano), b.Format(time.RFC3339Nano))
		}
		ms[i] = strconv.FormatInt(millisCeil(b), 10)
	}
	var rec func(lo, hi int) string
	rec = func(lo, hi int) string {
		if hi-lo == 1 {
			return "toUInt32(" + strconv.Itoa(lo) + ")"
		}
		mid := (lo + hi) / 2
		return "if(" + colTS + " < " + ms[mid] + ", " + rec(lo, mid) + ", " + rec(mid, hi) + ")"
	}
	n := len(bounds) - 1
	return rec(0, n), colTS + " >= " + ms[0] + " AND " + colTS + " < " + ms[n], nil
}

// Run answers q (store.Store).
func (s *Store) Run(ctx context.Context, q store.Query) (store.Result, error) {
	if q.Latest < 0 || q.MaxEvents < 0 || q.MaxBytes < 0 {
		return store.Result{}, fmt.Errorf("store: latest and the extraction bounds cannot be negative")
	}
	if q.Analysis == store.Extraction {
		if len(q.GroupBy) > 0 || len(q.Buckets) > 0 {
			return store.Result{}, fmt.Errorf("store: an extraction has no group_by or interval")
		}
		evs, err := s.extract(ctx, q)
		if err != nil {
			return store.Result{}, err
		}
		return store.Result{Events: evs}, nil
	}
	if q.Latest != 0 || q.MaxEvents != 0 || q.MaxBytes != 0 {
		return store.Result{}, fmt.Errorf("store: latest and the extraction bounds are for extractions, not %s", q.Analysis)
	}
	s.delMu.RLock()
	defer s.delMu.RUnlock()
	tbl, err := tableName(q.ProjectID, q.Collection)
	if err != nil {
		return store.Result{}, err
	}
	cols, err := s.columns(ctx, tbl)
	if err != nil {
		return store.Result{}, err
	}
	if cols == nil {
		// An unknown collection: the analysis over no events, checked as
		// any other query is.
		if _, err := compileRun(q, "t", nil, s.sumFunction()); err != nil {
			return store.Result{}, err
		}
		return emptyResult(q), nil
	}
	if _, err := compileRun(q, "t", cols, s.sumFunction()); err != nil {
		return store.Result{}, err
	}
	var out store.Result
	err = s.read(ctx, tbl, func(from string) error {
		p, err := compileRun(q, from, cols, s.sumFunction())
		if err != nil {
			return err
		}
		out = store.Result{Rows: []store.Row{}}
		return s.eachRow(ctx, p.sql, func(vals []any) error {
			r, keep, err := p.readRow(vals)
			if err != nil {
				return err
			}
			if keep {
				out.Rows = append(out.Rows, r)
			}
			return nil
		})
	})
	if err != nil {
		return store.Result{}, fmt.Errorf("clickhouse store: %s: %w", q.Analysis, err)
	}
	return out, nil
}

// sumFunction is the aggregate that sums: compensated (Kahan) on one
// server, so that a sum does not depend on the order of the values more
// than float64 must; plain sum over a Distributed table, where 18.16
// fails to ship sumKahan's state between servers.
func (s *Store) sumFunction() string {
	if s.cluster != "" {
		return "sum"
	}
	return "sumKahan"
}

func emptyResult(q store.Query) store.Result {
	if len(q.GroupBy) > 0 || len(q.Buckets) > 0 {
		return store.Result{Rows: []store.Row{}}
	}
	var v any
	switch q.Analysis {
	case store.Count, store.CountUnique:
		v = int64(0)
	case store.SelectUnique:
		v = []any{}
	}
	return store.Result{Rows: []store.Row{{Value: v}}}
}

// eachRow runs q and calls f with each row's values, pointers removed
// (a NULL is nil).
func (s *Store) eachRow(ctx context.Context, q string, f func([]any) error) error {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	ptrs := make([]any, len(types))
	vals := make([]any, len(types))
	for rows.Next() {
		for i, t := range types {
			ptrs[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, p := range ptrs {
			vals[i] = deref(reflect.ValueOf(p))
		}
		if err := f(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

func deref(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

func (p *runPlan) readRow(vals []any) (store.Row, bool, error) {
	var r store.Row
	i := 0
	if p.buckets {
		b, ok := vals[0].(uint32)
		if !ok {
			return r, false, fmt.Errorf("bucket index %v (%T)", vals[0], vals[0])
		}
		r.Bucket = int(b)
		i++
	}
	if len(p.groups) > 0 {
		r.Group = make([]any, len(p.groups))
	}
	for g, types := range p.groups {
		for _, typ := range types {
			if typ == leaf.StrArray {
				present := vals[i] == uint8(1)
				i++
				ss, _ := vals[i].([]string)
				i++
				if present {
					r.Group[g] = append([]string{}, ss...)
				}
				continue
			}
			v := vals[i]
			i++
			if v == nil {
				continue
			}
			switch typ {
			case leaf.Bool:
				r.Group[g] = v == uint8(1)
			case leaf.JSONArray:
				r.Group[g] = json.RawMessage(v.(string))
			default:
				r.Group[g] = v
			}
		}
	}
	if p.grouped {
		if n, _ := vals[i].(uint64); n == 0 {
			return r, false, nil
		}
		i++
	}
	v, err := p.value(vals[i:])
	r.Value = v
	return r, true, err
}

func (p *runPlan) value(vals []any) (any, error) {
	switch p.analysis {
	case store.Count, store.CountUnique:
		n, ok := vals[0].(uint64)
		if !ok {
			return nil, fmt.Errorf("%s gave %v (%T)", p.analysis, vals[0], vals[0])
		}
		return int64(n), nil
	case store.SelectUnique:
		out := []any{}
		for _, v := range vals[:3] {
			switch l := v.(type) {
			case []string:
				for _, e := range l {
					out = append(out, e)
				}
			case []float64:
				for _, e := range l {
					out = append(out, e)
				}
			case []uint8:
				for _, e := range l {
					out = append(out, e == 1)
				}
			case nil:
			default:
				return nil, fmt.Errorf("select_unique gave %T", v)
			}
		}
		return out, nil
	}
	if vals[0] == nil {
		return nil, nil
	}
	f, ok := vals[0].(float64)
	if !ok {
		return nil, fmt.Errorf("%s gave %v (%T)", p.analysis, vals[0], vals[0])
	}
	if f == 0 {
		f = 0 // no -0
	}
	return f, nil
}

// extract answers an extraction: the count and size are checked against
// the bounds before any JSON is returned.
func (s *Store) extract(ctx context.Context, q store.Query) ([]json.RawMessage, error) {
	s.delMu.RLock()
	defer s.delMu.RUnlock()
	tbl, err := tableName(q.ProjectID, q.Collection)
	if err != nil {
		return nil, err
	}
	cols, err := s.columns(ctx, tbl)
	if err != nil {
		return nil, err
	}
	where, err := compileWhere(q, cols)
	if err != nil {
		return nil, err
	}
	if cols == nil {
		return []json.RawMessage{}, nil
	}
	var out []json.RawMessage
	err = s.read(ctx, tbl, func(src string) error {
		inner := "SELECT " + colTS + ", " + colID + ", " + colJSON + " FROM " + src + " WHERE " + where
		if q.Latest > 0 {
			inner += " ORDER BY " + colTS + " DESC, " + colID + " DESC LIMIT " + strconv.Itoa(q.Latest)
		}
		if q.MaxEvents > 0 || q.MaxBytes > 0 {
			var n, size uint64
			err := s.each(ctx, "SELECT count(), sum(length("+colJSON+")) FROM ("+inner+")", func(scan func(...any) error) error {
				return scan(&n, &size)
			})
			if err != nil {
				return fmt.Errorf("clickhouse store: sizing an extraction: %w", err)
			}
			if q.MaxEvents > 0 && n > uint64(q.MaxEvents) {
				return &store.TooLargeError{Events: true, MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
			}
			if q.MaxBytes > 0 && size > uint64(q.MaxBytes) {
				return &store.TooLargeError{MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
			}
		}
		out = []json.RawMessage{}
		err := s.each(ctx, "SELECT "+colJSON+" FROM ("+inner+") ORDER BY "+colTS+", "+colID, func(scan func(...any) error) error {
			var js string
			if err := scan(&js); err != nil {
				return err
			}
			out = append(out, json.RawMessage(js))
			return nil
		})
		if err != nil {
			return fmt.Errorf("clickhouse store: extraction: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
