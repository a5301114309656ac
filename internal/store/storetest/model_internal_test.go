package storetest

import (
	"testing"
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
		if got := PercentileRank(c.p, c.n); got != c.want {
			t.Errorf("PercentileRank(%v, %d) = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

func TestSumIsCompensated(t *testing.T) {
	if got := sum([]float64{1e16, 1, 1, -1e16}); got != 2 {
		t.Errorf("sum = %v, want 2", got)
	}
}
