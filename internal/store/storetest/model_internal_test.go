package storetest

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/sluice-io/sluice/internal/store"
)

func TestRemoveJSONPath(t *testing.T) {
	cases := []struct {
		doc  string
		path []string
		want string
	}{
		{`{"a":1,"b":2}`, []string{"a"}, `{"b":2}`},
		{`{"a":1,"b":2}`, []string{"b"}, `{"a":1}`},
		{`{"a":1}`, []string{"a"}, `{}`},
		{`{"a":1}`, []string{"x"}, `{"a":1}`},
		{`{"a":{"b":"}\"","c":[1,{"b":2}]},"d":"x"}`, []string{"a", "b"}, `{"a":{"c":[1,{"b":2}]},"d":"x"}`},
		{`{"a":"x","a":"y","b":1}`, []string{"a"}, `{"b":1}`},
		{`{"a":"x","b":{"c":1}}`, []string{"a", "c"}, `{"a":"x","b":{"c":1}}`},
		{` { "a" : 1 , "b" : [ 1, 2 ] } `, []string{"a"}, ` {"b" : [ 1, 2 ]} `},
		{`{"k\u00e9":1,"b":true}`, []string{"ké"}, `{"b":true}`},
	}
	for _, c := range cases {
		got, err := removeJSONPath([]byte(c.doc), c.path)
		if err != nil || string(got) != c.want {
			t.Errorf("removeJSONPath(%s, %v) = %s, %v; want %s", c.doc, c.path, got, err, c.want)
		}
	}
}

func TestPercentileRank(t *testing.T) {
	cases := []struct {
		p       float64
		n, want int
	}{
		{50, 2, 0}, {100, 2, 1}, {0, 5, 0}, {50, 5, 2}, {99, 5, 3}, {100, 5, 4}, {50, 1, 0}, {25, 4, 0}, {75, 4, 2}, {29, 101, 29}, {57, 101, 57}, {33.3, 1001, 333}, {12.5, 9, 1},
	}
	for _, c := range cases {
		if got := percentileRank(c.p, c.n); got != c.want {
			t.Errorf("percentileRank(%v, %d) = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

func TestSumIsCompensated(t *testing.T) {
	if got := sum([]float64{1e16, 1, 1, -1e16}); got != 2 {
		t.Errorf("sum = %v, want 2", got)
	}
}

// TestModelInvariants checks the Model's answers to random queries
// against each other: relations that hold whatever the data, so that the
// random part's reference is checked beyond the fixed cases.
func TestModelInvariants(t *testing.T) {
	ctx := context.Background()
	m := NewModel()
	r := rand.New(rand.NewPCG(3, 4))
	evs := randomEvents(r, 2000)
	if _, err := m.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	s := &suite{on: map[string]bool{}}
	for _, f := range Families {
		s.on[f] = true
	}
	g := &queryGen{r: rand.New(rand.NewPCG(5, 6)), s: s, docs: decodeAll(t, evs)}
	run := func(q store.Query) store.Result {
		t.Helper()
		res, err := m.Run(ctx, q)
		if err != nil {
			t.Fatalf("Run(%s): %v", describe(q), err)
		}
		return res
	}
	total := func(rows []store.Row) (n int64) {
		for _, row := range rows {
			n += row.Value.(int64)
		}
		return n
	}
	for i := 0; i < 300; i++ {
		q := g.query(store.Count)
		plain := q
		plain.GroupBy, plain.Buckets = nil, nil
		if len(q.Buckets) > 0 { // the buckets bound the events
			b0, bn := q.Buckets[0], q.Buckets[len(q.Buckets)-1]
			if plain.Start.IsZero() || plain.Start.Before(b0) {
				plain.Start = b0
			}
			if plain.End.IsZero() || plain.End.After(bn) {
				plain.End = bn
			}
			if !plain.Start.Before(plain.End) {
				continue
			}
		}
		n := total(run(plain).Rows)
		if got := total(run(q).Rows); got != n {
			t.Errorf("Run(%s): the rows count %d events, the query without group_by and buckets %d", describe(q), got, n)
		}
		// An extraction returns the events counted.
		x := plain
		x.Analysis = store.Extraction
		if got := len(run(x).Events); int64(got) != n {
			t.Errorf("Run(%s): %d events, counted %d", describe(x), got, n)
		}
		// count_unique is the number of select_unique's values; the
		// minimum, median and maximum are in order, the average between
		// the minimum and the maximum.
		q.Target = path(pick(g.r, rTargets))
		byKey := map[store.Analysis]map[string]any{}
		for _, a := range []store.Analysis{store.CountUnique, store.SelectUnique, store.Minimum, store.Median, store.Maximum, store.Average, store.Sum} {
			qa := q
			qa.Analysis = a
			byKey[a] = map[string]any{}
			for _, row := range run(qa).Rows {
				byKey[a][rowKey(row)] = row.Value
			}
		}
		for k, cu := range byKey[store.CountUnique] {
			if su := byKey[store.SelectUnique][k].([]any); int64(len(su)) != cu.(int64) {
				t.Errorf("Run(%s): row %s: count_unique %d, select_unique %d values", describe(q), k, cu, len(su))
			}
			lo, ok := byKey[store.Minimum][k].(float64)
			if !ok {
				if byKey[store.Maximum][k] != nil || byKey[store.Sum][k] != nil {
					t.Errorf("Run(%s): row %s: no minimum, but a maximum or a sum", describe(q), k)
				}
				continue
			}
			med, hi, avg := byKey[store.Median][k].(float64), byKey[store.Maximum][k].(float64), byKey[store.Average][k].(float64)
			if lo > med || med > hi || avg < lo-1e-9 || avg > hi+1e-9 {
				t.Errorf("Run(%s): row %s: minimum %v, median %v, maximum %v, average %v", describe(q), k, lo, med, hi, avg)
			}
		}
	}
}
