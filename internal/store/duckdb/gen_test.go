package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// This file holds the tests' event generator and the model they compare
// the engine with: storetest's, which implements the semantics store.Filter
// and store.Analysis document directly on Go values, independently of the
// SQL compiler.

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

// model is the reference the engine's own tests compare with: storetest's
// Model, an independent in-memory store.Store (the conformance suite's),
// and the events decoded, for tests that pick filter values from them.
type model struct {
	ref    *storetest.Model
	events []modelEvent
}

type modelEvent struct {
	ev  store.Event
	doc map[string]any
}

func newModel() *model { return &model{ref: storetest.NewModel()} }

func (m *model) add(evs ...store.Event) {
	if _, err := m.ref.Insert(context.Background(), evs); err != nil {
		panic(err)
	}
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

// result is q's result on the model.
func (m *model) result(q store.Query) store.Result {
	res, err := m.ref.Run(context.Background(), q)
	if err != nil {
		panic(fmt.Sprintf("the model refuses %s: %v", qname(q), err))
	}
	return res
}

// extract is q's extraction on the model, each event's JSON.
func (m *model) extract(q store.Query) []string {
	q.Analysis = store.Extraction
	var out []string
	for _, ev := range m.result(q).Events {
		out = append(out, string(ev))
	}
	return out
}

// matching counts the events q's collection, timeframe and filters select.
func (m *model) matching(q store.Query) int64 {
	q.Analysis = store.Count
	return m.result(q).Rows[0].Value.(int64)
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
