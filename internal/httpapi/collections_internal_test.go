package httpapi

import (
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestRateSampler(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) sample { return sample{at: t0.Add(d)} }
	s := newRateSampler()
	steps := []struct {
		pid  string
		cur  time.Duration
		prev time.Duration
		ok   bool
	}{
		{"p", 0, 0, false},                             // first sample
		{"p", 200 * time.Millisecond, 0, false},        // too close to compare
		{"p", 2 * time.Second, 0, true},                // the oldest within the window
		{"q", 2 * time.Second, 0, false},               // projects are apart
		{"p", 11 * time.Second, 2 * time.Second, true}, // t0 and t0+200ms fell out of the window
		{"p", 11*time.Second + 100*time.Millisecond, 2 * time.Second, true},
		{"p", 30 * time.Second, 0, false}, // everything older than the window is gone
	}
	for i, st := range steps {
		prev, ok := s.add(st.pid, at(st.cur))
		if ok != st.ok || (ok && !prev.at.Equal(t0.Add(st.prev))) {
			t.Errorf("step %d: add(%s, +%s) = %s %v, want +%s %v", i, st.pid, st.cur, prev.at.Sub(t0), ok, st.prev, st.ok)
		}
	}
	// A project nobody asked about for a minute is forgotten.
	s.add("p", at(2*time.Minute))
	var left []string
	for p := range s.byProject {
		left = append(left, p)
	}
	sort.Strings(left)
	if !reflect.DeepEqual(left, []string{"p"}) {
		t.Errorf("projects kept: %v", left)
	}
}

func TestFlow(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	prev := sample{at: t0, ends: map[string]int64{"a": 10, "b": 5, "gone": 100}}
	cur := sample{at: t0.Add(4 * time.Second), ends: map[string]int64{"a": 30, "b": 5, "new": 8, "gone": 3}}
	rate := func(f float64) *float64 { return &f }
	cases := []struct {
		topics   []string
		havePrev bool
		want     flowDoc
	}{
		{[]string{"a", "b"}, true, flowDoc{Total: 35, PerSecond: rate(5)}},
		{[]string{"new"}, true, flowDoc{Total: 8, PerSecond: rate(2)}},  // created since: counted from 0
		{[]string{"gone"}, true, flowDoc{Total: 3, PerSecond: rate(0)}}, // recreated: no negative rate
		{nil, true, flowDoc{Total: 0, PerSecond: rate(0)}},              // no outbound topic yet
		{[]string{"a"}, false, flowDoc{Total: 30}},                      // first sample: no rate
		{[]string{"missing"}, true, flowDoc{Total: 0, PerSecond: rate(0)}},
	}
	for _, tc := range cases {
		got := flow(tc.topics, prev, tc.havePrev, cur)
		if got.Total != tc.want.Total || (got.PerSecond == nil) != (tc.want.PerSecond == nil) ||
			(got.PerSecond != nil && *got.PerSecond != *tc.want.PerSecond) {
			t.Errorf("flow(%v, %v) = %+v", tc.topics, tc.havePrev, got)
		}
	}
}

func TestProjectTopics(t *testing.T) {
	const pid, other = "0123456789abcdef01234567", "ffffffffffffffffffffffff"
	all := []string{
		"sluice.in." + pid + ".purchases",
		"sluice.inak." + pid + ".0123456789abcdef.purchases",
		"sluice.out." + pid + ".purchases",
		"sluice.inx." + pid + ".246d7920636f6c6c656374696f6e242025", // "$my collection$ %"
		"sluice.out." + pid + "._my_collection___-dlq",
		"sluice.in." + other + ".purchases",
		"sluice.out." + other + ".purchases-dlq",
		"sluice.registry",
	}
	got := projectTopics(pid, all)
	want := map[string]*collectionTopics{
		"purchases": {
			raw:      []string{"sluice.in." + pid + ".purchases", "sluice.inak." + pid + ".0123456789abcdef.purchases"},
			outbound: "purchases", dlq: "purchases-dlq", out: []string{"sluice.out." + pid + ".purchases"},
		},
		"$my collection$ %": {
			raw:      []string{"sluice.inx." + pid + ".246d7920636f6c6c656374696f6e242025"},
			outbound: "_my_collection___", dlq: "_my_collection___-dlq", dlqB: []string{"sluice.out." + pid + "._my_collection___-dlq"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range got {
			t.Logf("%q: %+v", k, *v)
		}
		t.Errorf("projectTopics differs")
	}
}
