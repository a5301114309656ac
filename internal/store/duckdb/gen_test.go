package duckdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file holds the tests' event generator and an evaluator of queries
// over the decoded events that is independent of the SQL compiler: it
// implements the semantics store.Filter and store.Analysis document directly
// on Go values.

// rawJSON is already-encoded JSON in the generator's builder.
type rawJSON string

// kv builds a JSON object with keys in the given order.
func kv(pairs ...any) rawJSON {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(pairs[i].(string))
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(string(enc(pairs[i+1])))
	}
	b.WriteByte('}')
	return rawJSON(b.String())
}

func enc(v any) rawJSON {
	switch x := v.(type) {
	case rawJSON:
		return x
	case json.Number:
		return rawJSON(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = string(enc(e))
		}
		return rawJSON("[" + strings.Join(parts, ",") + "]")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		return rawJSON(b)
	}
}

var (
	genCountries = []string{"France", "germany", "Zed", "apple", "", "Ünïcode", "émile", "a\"quote", "New York", "Fr"}
	genNumbers   = []string{"0", "1", "10", "10.0", "-3.25", "1e2", "100", "7", "12345678901234567890", "0.5", "-0"}
	genTags      = []string{"red", "green", "blue", "Red", "gr"}
	genCities    = []string{"Paris", "Berlin", "paris", "Rome"}
	genProjects  = []string{"p1", "p2"}
	genColls     = []string{"clicks", "views", "Purchases", "purchases"}
	genBase      = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	genSpan      = 60 * 24 * time.Hour
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// genEvents returns n random events spread over projects and collections.
func genEvents(r *rand.Rand, n int, idPrefix string) []store.Event {
	evs := make([]store.Event, 0, n)
	for i := 0; i < n; i++ {
		ts := genBase.Add(time.Duration(r.Int64N(int64(genSpan/time.Millisecond))) * time.Millisecond)
		if r.IntN(20) == 0 && len(evs) > 0 { // exact timestamp ties
			ts = evs[len(evs)-1].Timestamp
		}
		created := ts.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
		id := fmt.Sprintf("%s%06d", idPrefix, r.IntN(1_000_000_000))
		id = fmt.Sprintf("%s-%d", id, i)
		pairs := []any{"keen", kv(
			"timestamp", ts.Format("2006-01-02T15:04:05.000Z"),
			"created_at", created.Format("2006-01-02T15:04:05.000Z"),
			"id", id)}
		if r.IntN(5) > 0 {
			pairs = append(pairs, "country", pick(r, genCountries))
		}
		if r.IntN(10) == 0 {
			pairs = append(pairs, "Country", pick(r, genCountries)) // differs from "country" by case only
		}
		if r.IntN(4) > 0 {
			pairs = append(pairs, "price", json.Number(pick(r, genNumbers)))
		}
		if r.IntN(3) > 0 {
			pairs = append(pairs, "is_mobile", r.IntN(2) == 0)
		}
		switch r.IntN(6) { // a property of mixed types
		case 0, 1:
			pairs = append(pairs, "code", pick(r, genNumbers))
		case 2, 3:
			pairs = append(pairs, "code", json.Number(pick(r, genNumbers)))
		case 4:
			pairs = append(pairs, "code", nil)
		}
		switch r.IntN(6) {
		case 0, 1, 2:
			var tags []any
			for j := r.IntN(4); j > 0; j-- {
				tags = append(tags, pick(r, genTags))
			}
			if tags == nil {
				tags = []any{}
			}
			pairs = append(pairs, "tags", tags)
		case 3:
			pairs = append(pairs, "tags", []any{json.Number("1"), "red", true})
		}
		switch r.IntN(6) {
		case 0, 1, 2:
			addr := kv("city", pick(r, genCities))
			if r.IntN(4) == 0 {
				addr = kv()
			}
			pairs = append(pairs, "user", kv("id", json.Number(fmt.Sprint(r.IntN(50))), "name", fmt.Sprintf("user%d", r.IntN(20)), "address", addr))
		case 3:
			pairs = append(pairs, "user", kv())
		case 4:
			pairs = append(pairs, "user", "anonymous")
		}
		if r.IntN(8) == 0 {
			pairs = append(pairs, "note", nil)
		}
		switch r.IntN(5) { // a [longitude, latitude], or arrays that are not one
		case 0, 1:
			pairs = append(pairs, "loc", []any{json.Number(fmt.Sprintf("%.3f", 2+r.Float64()*2)), json.Number(fmt.Sprintf("%.3f", 48+r.Float64()*2))})
		case 2:
			pairs = append(pairs, "loc", pick(r, [][]any{{json.Number("2.35"), "48.85"}, {json.Number("2")}, {json.Number("2.35"), json.Number("48.85"), json.Number("0")}, {nil, json.Number("48")}, {"2.35", "48.85"}}))
		}
		evs = append(evs, store.Event{
			ProjectID:  pick(r, genProjects),
			Collection: pick(r, genColls),
			ID:         id,
			Timestamp:  ts,
			CreatedAt:  created,
			JSON:       []byte(kv(pairs...)),
		})
	}
	return evs
}

// model is the independent evaluator: the events, decoded.
type model struct {
	events []modelEvent
}

type modelEvent struct {
	ev  store.Event
	doc map[string]any
}

func newModel() *model { return &model{} }

func (m *model) add(evs ...store.Event) {
	for _, ev := range evs {
		d := json.NewDecoder(bytes.NewReader(ev.JSON))
		d.UseNumber()
		var doc map[string]any
		if err := d.Decode(&doc); err != nil {
			panic(err)
		}
		m.events = append(m.events, modelEvent{ev, doc})
	}
}

func (m *model) extract(q store.Query) []string {
	sel := m.matching(q)
	if q.Latest > 0 && len(sel) > q.Latest {
		sel = sel[len(sel)-q.Latest:]
	}
	out := make([]string, len(sel))
	for i, e := range sel {
		out[i] = string(e.ev.JSON)
	}
	return out
}

// matching returns the events q's collection, timeframe and filters
// select, oldest first (ties by keen.id).
func (m *model) matching(q store.Query) []modelEvent {
	var sel []modelEvent
	for _, e := range m.events {
		if e.ev.ProjectID != q.ProjectID || e.ev.Collection != q.Collection {
			continue
		}
		if !q.Start.IsZero() && e.ev.Timestamp.Before(q.Start) {
			continue
		}
		if !q.End.IsZero() && !e.ev.Timestamp.Before(q.End) {
			continue
		}
		ok := true
		for _, f := range q.Filters {
			if !evalFilter(e.doc, f) {
				ok = false
				break
			}
		}
		if ok {
			sel = append(sel, e)
		}
	}
	sort.Slice(sel, func(i, j int) bool {
		a, b := sel[i].ev, sel[j].ev
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		return a.ID < b.ID
	})
	return sel
}

func lookup(doc map[string]any, path []string) (any, bool) {
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func hasLeaf(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return true
	}
	for _, c := range m {
		if hasLeaf(c) {
			return true
		}
	}
	return false
}

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

func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil {
		// Out of range: ParseFloat's ±Inf, as the store keeps it.
		var x float64
		fmt.Sscan(string(n), &x)
		return x, true
	}
	return f, true
}

func evalEq(val any, present bool, fv any) bool {
	if !present {
		return false
	}
	switch x := fv.(type) {
	case json.Number:
		a, ok1 := num(val)
		b, ok2 := num(x)
		return ok1 && ok2 && a == b
	case string:
		if s, ok := val.(string); ok {
			return s == x
		}
		if arr, ok := strArray(val); ok {
			return slices.Contains(arr, x)
		}
		return false
	case bool:
		b, ok := val.(bool)
		return ok && b == x
	case nil:
		return val == nil
	case []any:
		want, ok1 := strArray(x)
		got, ok2 := strArray(val)
		return ok1 && ok2 && slices.Equal(want, got)
	}
	return false
}

func evalContains(val any, present bool, fv any) bool {
	s, ok := fv.(string)
	if !ok || !present {
		return false
	}
	if v, ok := val.(string); ok {
		return strings.Contains(v, s)
	}
	if arr, ok := strArray(val); ok {
		return slices.Contains(arr, s)
	}
	return false
}

func evalFilter(doc map[string]any, f store.Filter) bool {
	val, present := lookup(doc, f.Path)
	switch f.Operator {
	case "eq":
		return evalEq(val, present, f.Value)
	case "ne":
		return !evalEq(val, present, f.Value)
	case "lt", "lte", "gt", "gte":
		if !present {
			return false
		}
		var c int
		switch x := f.Value.(type) {
		case json.Number:
			a, ok := num(val)
			if !ok {
				return false
			}
			b, _ := num(x)
			switch {
			case a < b:
				c = -1
			case a > b:
				c = 1
			case a == b:
				c = 0
			default:
				return false
			}
		case string:
			s, ok := val.(string)
			if !ok {
				return false
			}
			c = strings.Compare(s, x)
		default:
			return false
		}
		switch f.Operator {
		case "lt":
			return c < 0
		case "lte":
			return c <= 0
		case "gt":
			return c > 0
		default:
			return c >= 0
		}
	case "exists":
		has := present && hasLeaf(val)
		return has == f.Value.(bool)
	case "in":
		for _, v := range f.Value.([]any) {
			if _, isArr := v.([]any); isArr {
				continue
			}
			if evalEq(val, present, v) {
				return true
			}
		}
		return false
	case "contains":
		return evalContains(val, present, f.Value)
	case "not_contains":
		return !evalContains(val, present, f.Value)
	case "regex":
		s, ok := val.(string)
		return present && ok && regexp.MustCompile(f.Value.(string)).MatchString(s)
	case "within":
		a, ok := val.([]any)
		if !present || !ok || len(a) != 2 {
			return false
		}
		lon, ok1 := num(a[0])
		lat, ok2 := num(a[1])
		g := f.Value.(store.Geo)
		return ok1 && ok2 && haversineMiles(lon, lat, g.Longitude, g.Latitude) <= g.MaxMiles
	case "or":
		for _, sub := range f.Or {
			if evalFilter(doc, sub) {
				return true
			}
		}
		return false
	}
	panic("unknown operator " + f.Operator)
}

// haversineMiles is the great-circle distance between two points, written
// independently of the SQL (atan2 form).
func haversineMiles(lon1, lat1, lon2, lat2 float64) float64 {
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat, dLon := rad(lat2-lat1), rad(lon2-lon1)
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(lat1))*math.Cos(rad(lat2))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return store.EarthRadiusMiles * 2 * math.Atan2(math.Sqrt(a), math.Sqrt(1-a))
}
