package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// Answer is a query's answer: Body, Keen's JSON object ({"result": …}, and
// a funnel's "steps" and "actors"); for an extraction, Events instead, the
// events (or their property_names) as the answer's "result" array.
type Answer struct {
	Body   map[string]any
	Events []json.RawMessage
}

// Run runs a parsed query against st. An extraction over its bounds fails
// with the store's *store.TooLargeError; a refusal found while running (a
// funnel step over Query.MaxActors, an answer over Query.MaxResults) is an
// *Error.
func Run(ctx context.Context, st store.Store, q *Query) (*Answer, error) {
	switch q.Analysis {
	case Funnel:
		body, err := runFunnel(ctx, st, q)
		if err != nil {
			return nil, err
		}
		return &Answer{Body: body}, nil
	case Extraction:
		res, err := st.Run(ctx, q.Store)
		if err != nil {
			return nil, fmt.Errorf("running an extraction: %w", err)
		}
		if q.PropertyNames == nil {
			return &Answer{Events: res.Events}, nil
		}
		evs := make([]json.RawMessage, len(res.Events))
		for i, ev := range res.Events {
			if evs[i], err = project(ev, q.PropertyNames); err != nil {
				return nil, fmt.Errorf("picking the property_names of an extracted event: %w", err)
			}
		}
		return &Answer{Events: evs}, nil
	case MultiAnalysis:
		rows := make([][]store.Row, len(q.Analyses))
		for i, l := range q.Analyses {
			sq := q.Store
			sq.Analysis, sq.Target, sq.Percentile = l.Analysis, l.Target, l.Percentile
			var err error
			if rows[i], err = runRows(ctx, st, sq, q.MaxResults); err != nil {
				return nil, prefix(fmt.Sprintf("%q: ", l.Label), err)
			}
		}
		return answer(q, rows)
	default:
		rows, err := runRows(ctx, st, q.Store, q.MaxResults)
		if err != nil {
			return nil, err
		}
		return answer(q, [][]store.Row{rows})
	}
}

// runRows runs one store query. A select_unique is counted first: one
// whose values, over all its rows, are more than maxResults is refused
// (ResultTooLarge) before they are read.
func runRows(ctx context.Context, st store.Store, sq store.Query, maxResults int) ([]store.Row, error) {
	if sq.Analysis == store.SelectUnique && maxResults > 0 {
		cq := sq
		cq.Analysis = store.CountUnique
		res, err := st.Run(ctx, cq)
		if err != nil {
			return nil, fmt.Errorf("counting the values of select_unique: %w", err)
		}
		var n int64
		for _, r := range res.Rows {
			n += asInt(r.Value)
		}
		if n > int64(maxResults) {
			return nil, refuse(ResultTooLarge, "select_unique would answer %d values, more than the %d one answer holds; narrow the timeframe or the filters", n, maxResults)
		}
	}
	res, err := st.Run(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", sq.Analysis, err)
	}
	return res.Rows, nil
}

func answer(q *Query, rows [][]store.Row) (*Answer, error) {
	result, err := Shape(q, rows)
	if err != nil {
		return nil, err
	}
	return &Answer{Body: map[string]any{"result": result}}, nil
}

// ResultTooLarge is the error_code of a query whose answer would hold more
// than Query.MaxResults results (sluice's own name: Keen documents no such
// bound).
const ResultTooLarge = "ResultTooLargeError"

// empty is an analysis's value over no events: 0 for the counts, an empty
// list for select_unique, null for the numeric analyses (Keen's).
func empty(a store.Analysis) any {
	switch a {
	case store.Count, store.CountUnique:
		return int64(0)
	case store.SelectUnique:
		return []any{}
	}
	return nil
}

// Shape gives Keen's "result" for a query's rows: rows[i] are the rows of
// the query's i-th analysis (one, or multi_analysis's Analyses).
//
//   - Neither group_by nor interval: the value ({label: value} for a
//     multi_analysis).
//   - group_by: [{property: group value, …, "result": value}] (for a
//     multi_analysis, each label beside the properties), ordered by
//     order_by, else by the group values; cut to limit.
//   - interval: [{"timeframe": {"start", "end"}, "value": …}], one per
//     bucket, every bucket present (an empty one has the empty value);
//     with group_by, each value is the list above, listing, with
//     zero_fill (the default), every group found in any bucket.
//
// An answer of more than q.MaxResults (bucket, group) results is refused
// with ResultTooLarge.
func Shape(q *Query, rows [][]store.Row) (any, error) {
	labels := []string{"result"}
	analyses := []store.Analysis{q.Store.Analysis}
	if q.Analysis == MultiAnalysis {
		labels, analyses = labels[:0], analyses[:0]
		for _, l := range q.Analyses {
			labels = append(labels, l.Label)
			analyses = append(analyses, l.Analysis)
		}
	}
	nb := 1
	if len(q.Store.Buckets) > 1 {
		nb = len(q.Store.Buckets) - 1
	}
	// cells[bucket][group key][analysis] = value
	cells := make([]map[string][]any, nb)
	for b := range cells {
		cells[b] = map[string][]any{}
	}
	var groups []groupRow
	seen := map[string]bool{}
	for i, rs := range rows {
		for _, r := range rs {
			if r.Bucket < 0 || r.Bucket >= nb {
				continue
			}
			k := groupKey(r.Group)
			if !seen[k] {
				seen[k] = true
				groups = append(groups, groupRow{key: k, values: r.Group})
			}
			c := cells[r.Bucket][k]
			if c == nil {
				c = make([]any, len(rows))
				for j := range c {
					c[j] = missing{}
				}
				cells[r.Bucket][k] = c
			}
			c[i] = render(r.Value)
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return compareGroups(groups[i].values, groups[j].values) < 0 })
	results := 0
	for _, c := range cells {
		results += len(c)
	}
	if len(q.GroupBy) > 0 && len(q.Store.Buckets) > 0 && q.ZeroFill {
		results = len(groups) * nb
	}
	if q.MaxResults > 0 && results > q.MaxResults {
		return nil, refuse(ResultTooLarge, "this query's answer would hold %d results (groups × intervals), more than the %d one answer holds; use fewer intervals, a group_by with fewer values, filters, or zero_fill false", results, q.MaxResults)
	}

	value := func(c []any, i int) any {
		if c == nil {
			return empty(analyses[i])
		}
		if _, ok := c[i].(missing); ok {
			return empty(analyses[i])
		}
		return c[i]
	}
	bucketValue := func(b int) any {
		if len(q.GroupBy) == 0 {
			c := cells[b][groupKey(nil)]
			if q.Analysis != MultiAnalysis {
				return value(c, 0)
			}
			obj := object{}
			for i, l := range labels {
				obj = append(obj, field{l, value(c, i)})
			}
			return obj
		}
		list := []object{}
		for _, g := range groups {
			c, ok := cells[b][g.key]
			if !ok && !(q.ZeroFill && len(q.Store.Buckets) > 0) {
				continue
			}
			obj := object{}
			for i, name := range q.GroupBy {
				var gv any
				if i < len(g.values) {
					gv = g.values[i]
				}
				obj = append(obj, field{name, gv})
			}
			for i, l := range labels {
				obj = append(obj, field{l, value(c, i)})
			}
			list = append(list, obj)
		}
		return orderAndLimit(q, list)
	}
	if len(q.Store.Buckets) == 0 {
		return bucketValue(0), nil
	}
	out := make([]object, nb)
	for b := range out {
		out[b] = object{
			{"timeframe", object{{"start", stamp(q.Store.Buckets[b])}, {"end", stamp(q.Store.Buckets[b+1])}}},
			{"value", bucketValue(b)},
		}
	}
	return out, nil
}

// missing marks an analysis without a row in a cell another analysis has.
type missing struct{}

type groupRow struct {
	key    string
	values []any
}

// groupKey identifies a group (nil and an empty Group are the same: no
// group_by).
func groupKey(g []any) string {
	if len(g) == 0 {
		return ""
	}
	b, _ := json.Marshal(g)
	return string(b)
}

func compareGroups(a, b []any) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// orderAndLimit sorts grouped results by order_by (stably, so groups
// equal on every clause keep the group-value order) and cuts them to
// limit.
func orderAndLimit(q *Query, list []object) []object {
	if len(q.OrderBy) > 0 {
		sort.SliceStable(list, func(i, j int) bool {
			for _, o := range q.OrderBy {
				c := compareValues(list[i].get(o.Property), list[j].get(o.Property))
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	if q.Limit > 0 && len(list) > q.Limit {
		list = list[:q.Limit]
	}
	return list
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// object is a JSON object that keeps its keys' order (group_by properties
// first, then "result", as Keen writes them).
type object []field

type field struct {
	key   string
	value any
}

func (o object) get(key string) any {
	for _, f := range o {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// project keeps the properties of an event that paths name (Keen's
// property_names): {"customer": {"id": …}} for customer.id; a path the
// event lacks is left out, and keen is there only when named.
func project(ev json.RawMessage, paths [][]string) (json.RawMessage, error) {
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(ev))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, p := range paths {
		var cur any = in
		for _, k := range p {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			if cur, ok = m[k]; !ok {
				cur = nil
				break
			}
		}
		if cur == nil && !has(in, p) {
			continue
		}
		dst := out
		for _, k := range p[:len(p)-1] {
			next, ok := dst[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				dst[k] = next
			}
			dst = next
		}
		dst[p[len(p)-1]] = cur
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the event's text as stored
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// has reports whether path leads to a value (null included) in m.
func has(m map[string]any, path []string) bool {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[k]; !ok {
			return false
		}
	}
	return true
}
