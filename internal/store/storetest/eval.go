package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/store"
)

// Run answers q over the stored events, as query.go defines each analysis
// and filter.
func (m *Model) Run(ctx context.Context, q store.Query) (store.Result, error) {
	if err := ctx.Err(); err != nil {
		return store.Result{}, err
	}
	if err := checkQuery(q); err != nil {
		return store.Result{}, err
	}
	match, err := compileSelection(q)
	if err != nil {
		return store.Result{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return store.Result{}, errClosed
	}
	var sel []*modelEvent
	if p := m.projects[q.ProjectID]; p != nil {
		if c := p.colls[q.Collection]; c != nil {
			for _, e := range c.events {
				if match(e) {
					sel = append(sel, e)
				}
			}
		}
	}
	if q.Analysis == store.Extraction {
		evs, err := extract(q, sel)
		return store.Result{Events: evs}, err
	}
	return store.Result{Rows: analyse(q, sel)}, nil
}

// checkQuery refuses a query the contract gives no meaning to.
func checkQuery(q store.Query) error {
	switch q.Analysis {
	case store.Count, store.Extraction:
	case store.CountUnique, store.SelectUnique, store.Sum, store.Average, store.Minimum, store.Maximum,
		store.Median, store.Percentile, store.StandardDeviation:
		if len(q.Target) == 0 {
			return fmt.Errorf("storetest: %s needs a target property", q.Analysis)
		}
	default:
		return fmt.Errorf("storetest: unknown analysis %q", q.Analysis)
	}
	if q.Analysis == store.Percentile && (q.Percentile < 0 || q.Percentile > 100 || math.IsNaN(q.Percentile)) {
		return fmt.Errorf("storetest: percentile %v is not within 0–100", q.Percentile)
	}
	if q.Analysis == store.Extraction && (len(q.GroupBy) > 0 || len(q.Buckets) > 0) {
		return errors.New("storetest: an extraction has no group_by nor interval")
	}
	if q.Analysis != store.Extraction && (q.Latest != 0 || q.MaxEvents != 0 || q.MaxBytes != 0) {
		return fmt.Errorf("storetest: latest and the extraction bounds are for extractions, not %s", q.Analysis)
	}
	if q.Latest < 0 || q.MaxEvents < 0 || q.MaxBytes < 0 {
		return errors.New("storetest: latest and the extraction bounds are not negative")
	}
	if len(q.Buckets) == 1 {
		return errors.New("storetest: buckets need at least two boundaries")
	}
	for i := 1; i < len(q.Buckets); i++ {
		if !q.Buckets[i-1].Before(q.Buckets[i]) {
			return fmt.Errorf("storetest: bucket boundaries %d and %d are not ascending", i-1, i)
		}
	}
	for _, g := range q.GroupBy {
		if len(g) == 0 {
			return errors.New("storetest: an empty group_by path")
		}
	}
	return nil
}

// compileSelection returns whether an event is in q's timeframe and
// matches its filters.
func compileSelection(q store.Query) (func(*modelEvent) bool, error) {
	preds := make([]func(map[string]any) bool, len(q.Filters))
	for i, f := range q.Filters {
		p, err := compileFilter(f)
		if err != nil {
			return nil, err
		}
		preds[i] = p
	}
	start, end := q.Start, q.End
	return func(e *modelEvent) bool {
		if !start.IsZero() && e.ev.Timestamp.Before(start) {
			return false
		}
		if !end.IsZero() && !e.ev.Timestamp.Before(end) {
			return false
		}
		for _, p := range preds {
			if !p(e.doc) {
				return false
			}
		}
		return true
	}, nil
}

// lookup returns the value at path in doc.
func lookup(doc map[string]any, path []string) (any, bool) {
	var cur any = doc
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// hasLeaf tells whether v is a value or an object with a value somewhere
// inside (an empty object has none).
func hasLeaf(v any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return true
	}
	for _, c := range obj {
		if hasLeaf(c) {
			return true
		}
	}
	return false
}

// strArray returns the strings of an array of strings only (an empty array
// included).
func strArray(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// number returns a JSON number's float64 (a filter's value may also be a
// Go number). An out-of-range number is ±Inf, as ParseFloat gives it.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return f, true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// valueMatcher is a filter's test of the value at its path (present says
// there is one).
type valueMatcher func(v any, present bool) bool

func compileFilter(f store.Filter) (func(map[string]any) bool, error) {
	if f.Operator == "or" {
		if len(f.Or) == 0 {
			return nil, errors.New("storetest: an or filter without filters")
		}
		preds := make([]func(map[string]any) bool, len(f.Or))
		for i, g := range f.Or {
			p, err := compileFilter(g)
			if err != nil {
				return nil, err
			}
			preds[i] = p
		}
		return func(doc map[string]any) bool {
			for _, p := range preds {
				if p(doc) {
					return true
				}
			}
			return false
		}, nil
	}
	if len(f.Path) == 0 {
		return nil, fmt.Errorf("storetest: filter %s without a property", f.Operator)
	}
	vm, err := compileOperator(f)
	if err != nil {
		return nil, fmt.Errorf("storetest: filter %s %s: %w", strings.Join(f.Path, "."), f.Operator, err)
	}
	path := f.Path
	return func(doc map[string]any) bool {
		v, ok := lookup(doc, path)
		return vm(v, ok)
	}, nil
}

func compileOperator(f store.Filter) (valueMatcher, error) {
	switch f.Operator {
	case "eq", "ne":
		eq, err := eqMatcher(f.Value)
		if err != nil {
			return nil, err
		}
		if f.Operator == "ne" {
			return func(v any, ok bool) bool { return !eq(v, ok) }, nil
		}
		return eq, nil
	case "in":
		var list []any
		switch x := f.Value.(type) {
		case []any:
			list = x
		case []string:
			for _, s := range x {
				list = append(list, s)
			}
		default:
			return nil, fmt.Errorf("the value is %T, not a list", f.Value)
		}
		var eqs []valueMatcher
		for _, e := range list {
			switch e.(type) {
			case []any, []string:
				continue // an array inside in matches nothing
			}
			eq, err := eqMatcher(e)
			if err != nil {
				return nil, err
			}
			eqs = append(eqs, eq)
		}
		return func(v any, ok bool) bool {
			for _, eq := range eqs {
				if eq(v, ok) {
					return true
				}
			}
			return false
		}, nil
	case "lt", "lte", "gt", "gte":
		holds := map[string]func(int) bool{
			"lt": func(c int) bool { return c < 0 }, "lte": func(c int) bool { return c <= 0 },
			"gt": func(c int) bool { return c > 0 }, "gte": func(c int) bool { return c >= 0 },
		}[f.Operator]
		if s, ok := f.Value.(string); ok {
			return func(v any, _ bool) bool {
				x, ok := v.(string)
				return ok && holds(strings.Compare(x, s))
			}, nil
		}
		if n, ok := number(f.Value); ok {
			return func(v any, _ bool) bool {
				x, ok := v.(json.Number)
				if !ok {
					return false
				}
				a, _ := number(x)
				switch {
				case a < n:
					return holds(-1)
				case a > n:
					return holds(1)
				case a == n:
					return holds(0)
				}
				return false
			}, nil
		}
		return nil, fmt.Errorf("the value is %T, not a number or a string", f.Value)
	case "exists":
		want, ok := f.Value.(bool)
		if !ok {
			return nil, fmt.Errorf("the value is %T, not a boolean", f.Value)
		}
		return func(v any, ok bool) bool { return (ok && hasLeaf(v)) == want }, nil
	case "contains", "not_contains":
		s, ok := f.Value.(string)
		if !ok {
			return nil, fmt.Errorf("the value is %T, not a string", f.Value)
		}
		contains := func(v any, _ bool) bool {
			if x, ok := v.(string); ok {
				return strings.Contains(x, s)
			}
			if a, ok := strArray(v); ok {
				return slices.Contains(a, s)
			}
			return false
		}
		if f.Operator == "not_contains" {
			return func(v any, ok bool) bool { return !contains(v, ok) }, nil
		}
		return contains, nil
	case "regex":
		s, ok := f.Value.(string)
		if !ok {
			return nil, fmt.Errorf("the value is %T, not a string", f.Value)
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, err
		}
		return func(v any, _ bool) bool {
			x, ok := v.(string)
			return ok && re.MatchString(x)
		}, nil
	case "within":
		var g store.Geo
		switch x := f.Value.(type) {
		case store.Geo:
			g = x
		case *store.Geo:
			g = *x
		default:
			return nil, fmt.Errorf("the value is %T, not a store.Geo", f.Value)
		}
		return func(v any, _ bool) bool {
			a, ok := v.([]any)
			if !ok || len(a) != 2 {
				return false
			}
			lon, ok1 := a[0].(json.Number)
			lat, ok2 := a[1].(json.Number)
			if !ok1 || !ok2 {
				return false
			}
			lo, _ := number(lon)
			la, _ := number(lat)
			return haversine(g.Longitude, g.Latitude, lo, la) <= g.MaxMiles
		}, nil
	}
	return nil, fmt.Errorf("unknown operator %q", f.Operator)
}

// eqMatcher is eq with value fv: the type of fv picks what it equals.
func eqMatcher(fv any) (valueMatcher, error) {
	switch x := fv.(type) {
	case string:
		return func(v any, _ bool) bool {
			if s, ok := v.(string); ok {
				return s == x
			}
			a, ok := strArray(v)
			return ok && slices.Contains(a, x)
		}, nil
	case bool:
		return func(v any, _ bool) bool { b, ok := v.(bool); return ok && b == x }, nil
	case nil:
		return func(v any, present bool) bool { return present && v == nil }, nil
	case []string:
		return func(v any, _ bool) bool { a, ok := strArray(v); return ok && slices.Equal(a, x) }, nil
	case []any:
		want, ok := strArray(x)
		if !ok {
			return func(any, bool) bool { return false }, nil
		}
		return func(v any, _ bool) bool { a, ok := strArray(v); return ok && slices.Equal(a, want) }, nil
	}
	if n, ok := number(fv); ok {
		return func(v any, _ bool) bool {
			x, ok := v.(json.Number)
			if !ok {
				return false
			}
			a, _ := number(x)
			return a == n
		}, nil
	}
	return nil, fmt.Errorf("the value is %T, not a number, string, boolean, null or array of strings", fv)
}

// haversine is the distance in miles between two points (degrees) on a
// sphere of radius store.EarthRadiusMiles.
func haversine(lon1, lat1, lon2, lat2 float64) float64 {
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * store.EarthRadiusMiles * math.Asin(math.Min(1, math.Sqrt(a)))
}

// extract returns the selected events' JSON, oldest first, within q's
// Latest and bounds.
func extract(q store.Query, sel []*modelEvent) ([]json.RawMessage, error) {
	sort.Slice(sel, func(i, j int) bool {
		a, b := sel[i].ev, sel[j].ev
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		return a.ID < b.ID
	})
	if q.Latest > 0 && len(sel) > q.Latest {
		sel = sel[len(sel)-q.Latest:]
	}
	if q.MaxEvents > 0 && len(sel) > q.MaxEvents {
		return nil, &store.TooLargeError{Events: true, MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
	}
	var n int64
	for _, e := range sel {
		n += int64(len(e.ev.JSON))
	}
	if q.MaxBytes > 0 && n > q.MaxBytes {
		return nil, &store.TooLargeError{MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
	}
	out := make([]json.RawMessage, len(sel))
	for i, e := range sel {
		out[i] = slices.Clone(e.ev.JSON)
	}
	return out, nil
}

// groupValue is the Row.Group form of a value at a group_by path: nil
// (missing, null or an object), string, float64, bool, []string or
// json.RawMessage (another array, as compact JSON).
func groupValue(v any) any {
	switch x := v.(type) {
	case string, bool:
		return x
	case json.Number:
		f, _ := number(x)
		return f
	case []any:
		if a, ok := strArray(x); ok {
			return a
		}
		return json.RawMessage(encodeJSON(x))
	}
	return nil
}

// encodeJSON encodes a decoded JSON value compactly, without HTML escapes.
func encodeJSON(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("storetest: encoding decoded JSON: %v", err))
	}
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// valueKey is a key that two Row.Group values (or two unique values) have
// in common exactly when they are the same value: types differ ("1" and
// 1), numbers compare as float64 (-0 is 0), arrays by content.
func valueKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "z"
	case string:
		return "s" + x
	case bool:
		return "b" + strconv.FormatBool(x)
	case float64:
		if x == 0 {
			x = 0 // -0
		}
		return "n" + strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		return "as" + string(encodeJSON(x))
	case json.RawMessage:
		return "aj" + canonicalJSON(x)
	}
	return fmt.Sprintf("?%T:%v", v, v)
}

// canonicalJSON re-encodes JSON so that equal values have equal text
// (numbers by their float64 value).
func canonicalJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid:" + string(b)
	}
	return string(encodeJSON(v))
}

// uniqueValue is the value counted by count_unique and listed by
// select_unique (string, float64 or bool), or false.
func uniqueValue(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool:
		return x, true
	case json.Number:
		f, _ := number(x)
		if f == 0 {
			f = 0
		}
		return f, true
	}
	return nil, false
}

// cell is one (bucket, group)'s events' target values.
type cell struct {
	bucket int
	group  []any
	events int64
	values []any // the target's values, present ones only
}

// analyse computes q's rows over the selected events.
func analyse(q store.Query, sel []*modelEvent) []store.Row {
	cells := map[string]*cell{}
	var order []string
	if len(q.GroupBy) == 0 && len(q.Buckets) == 0 {
		cells[""] = &cell{}
		order = append(order, "")
	}
	for _, e := range sel {
		bucket := 0
		if len(q.Buckets) > 0 {
			bucket = sort.Search(len(q.Buckets), func(i int) bool { return e.ev.Timestamp.Before(q.Buckets[i]) }) - 1
			if bucket < 0 || bucket >= len(q.Buckets)-1 {
				continue // outside every bucket
			}
		}
		group := make([]any, len(q.GroupBy))
		var key strings.Builder
		key.WriteString(strconv.Itoa(bucket))
		for i, path := range q.GroupBy {
			v, _ := lookup(e.doc, path)
			group[i] = groupValue(v)
			k := valueKey(group[i])
			key.WriteString("\x00" + strconv.Itoa(len(k)) + ":" + k)
		}
		k := key.String()
		if len(q.GroupBy) == 0 && len(q.Buckets) == 0 {
			k = ""
		}
		c := cells[k]
		if c == nil {
			c = &cell{bucket: bucket, group: group}
			cells[k] = c
			order = append(order, k)
		}
		c.events++
		if len(q.Target) > 0 {
			if v, ok := lookup(e.doc, q.Target); ok {
				c.values = append(c.values, v)
			}
		}
	}
	rows := make([]store.Row, 0, len(order))
	for _, k := range order {
		c := cells[k]
		if c.group == nil && len(q.GroupBy) > 0 {
			c.group = make([]any, len(q.GroupBy))
		}
		rows = append(rows, store.Row{Bucket: c.bucket, Group: c.group, Value: compute(q, c)})
	}
	return rows
}

// compute is q's analysis over one cell.
func compute(q store.Query, c *cell) any {
	switch q.Analysis {
	case store.Count:
		return c.events
	case store.CountUnique, store.SelectUnique:
		seen := map[string]bool{}
		uniq := []any{}
		for _, v := range c.values {
			u, ok := uniqueValue(v)
			if !ok {
				continue
			}
			if k := valueKey(u); !seen[k] {
				seen[k] = true
				uniq = append(uniq, u)
			}
		}
		if q.Analysis == store.CountUnique {
			return int64(len(uniq))
		}
		return uniq
	}
	var xs []float64
	for _, v := range c.values {
		if n, ok := v.(json.Number); ok {
			f, _ := number(n)
			xs = append(xs, f)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	switch q.Analysis {
	case store.Sum:
		return sum(xs)
	case store.Average:
		return sum(xs) / float64(len(xs))
	case store.Minimum:
		return slices.Min(xs)
	case store.Maximum:
		return slices.Max(xs)
	case store.Median, store.Percentile:
		p := 50.0
		if q.Analysis == store.Percentile {
			p = q.Percentile
		}
		slices.Sort(xs)
		return xs[percentileRank(p, len(xs))]
	case store.StandardDeviation:
		mean := sum(xs) / float64(len(xs))
		d := make([]float64, len(xs))
		for i, x := range xs {
			d[i] = (x - mean) * (x - mean)
		}
		return math.Sqrt(sum(d) / float64(len(xs)))
	}
	panic("storetest: unhandled analysis " + string(q.Analysis))
}

// percentileRank is the 0-based rank, among n ascending values, of
// percentile p: floor(p/100 × (n−1)), not interpolated. It is computed
// exactly, p taken as the decimal it prints as: in float64, 29/100 × 100
// is 28.999999999999996, whose floor is one rank short.
func percentileRank(p float64, n int) int {
	if n <= 1 {
		return 0
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(p, 'g', -1, 64))
	if !ok {
		panic(fmt.Sprintf("storetest: percentile %v", p))
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(n-1)))
	r.Quo(r, big.NewRat(100, 1))
	rank := new(big.Int).Quo(r.Num(), r.Denom()) // truncation is floor: r ≥ 0
	return int(max(0, min(rank.Int64(), int64(n-1))))
}

// sum adds xs with Neumaier's compensation, so that the model's sums are
// as exact as float64 allows whatever the order.
func sum(xs []float64) float64 {
	var s, comp float64
	for _, x := range xs {
		t := s + x
		if math.Abs(s) >= math.Abs(x) {
			comp += (s - t) + x
		} else {
			comp += (x - t) + s
		}
		s = t
	}
	return s + comp
}
