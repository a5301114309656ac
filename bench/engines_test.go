package main

import (
	"slices"
	"testing"
)

func TestDemote(t *testing.T) {
	in := "# Title\n\ntext # not a heading\n## Sub\n```sh\n# a comment in a fence\n```\n### Deeper"
	want := "## Title\n\ntext # not a heading\n### Sub\n```sh\n# a comment in a fence\n```\n#### Deeper"
	if got := demote(in); got != want {
		t.Errorf("demote:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseNodes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"", nil, false},
		{"1,3", []int{1, 3}, false},
		{" 1, 3 ,1,3", []int{1, 3, 1, 3}, false},
		{"0", nil, true},
		{"1,x", nil, true},
		{"-2", nil, true},
	} {
		got, err := parseNodes(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("parseNodes(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct {
		in, db, want string
		err          bool
	}{
		{"clickhouse://127.0.0.1:9000/pipeline", "p_nodes1_3", "clickhouse://127.0.0.1:9000/p_nodes1_3", false},
		{"clickhouse://u:pw@a:9000,b:9000/db?cluster=sluice", "x", "clickhouse://u:pw@a:9000,b:9000/x?cluster=sluice", false},
		{"clickhouse://127.0.0.1:9000", "x", "", true},
	} {
		got, err := withDatabase(tc.in, tc.db)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("withDatabase(%q, %q) = %q, %v; want %q (error %v)", tc.in, tc.db, got, err, tc.want, tc.err)
		}
	}
}
