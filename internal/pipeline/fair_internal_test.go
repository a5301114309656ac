package pipeline

import (
	"reflect"
	"testing"
)

func TestFairCut(t *testing.T) {
	const share = 5000
	for _, c := range []struct {
		name   string
		parts  []pollPart
		active int
		turn   int
		want   []bool
	}{
		{"one project takes the whole poll", []pollPart{{"a", 4000}, {"a", 4000}, {"a", 4000}}, 1,
			0, []bool{true, true, true}},
		{"a project alone in the poll, another active recently: capped", []pollPart{{"a", 2000}, {"a", 2000}, {"a", 2000}}, 2,
			0, []bool{true, true, false}},
		{"a flood next to a quiet project", []pollPart{{"a", 4000}, {"b", 3}, {"a", 4000}, {"a", 4000}}, 2,
			0, []bool{true, true, false, false}},
		{"the flood's turn moves to its next partition", []pollPart{{"a", 4000}, {"b", 3}, {"a", 4000}, {"a", 4000}}, 2,
			1, []bool{false, true, true, false}},
		{"the turn wraps", []pollPart{{"a", 4000}, {"b", 3}, {"a", 4000}, {"a", 4000}}, 2,
			5, []bool{false, true, false, true}},
		{"a partition over the share is taken alone", []pollPart{{"a", 30000}, {"a", 10}, {"b", 3}}, 2,
			0, []bool{true, false, true}},
		{"small partitions fill the share", []pollPart{{"a", 1000}, {"a", 3000}, {"a", 1000}, {"a", 1}}, 3,
			0, []bool{true, true, true, false}},
		{"two floods each get a share", []pollPart{{"a", 4000}, {"c", 4000}, {"a", 4000}, {"c", 4000}}, 2,
			0, []bool{true, true, false, false}},
		{"topics of no project are kept", []pollPart{{"", 9000}, {"a", 4000}, {"a", 4000}, {"b", 1}}, 2,
			0, []bool{true, true, false, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fairCut(c.parts, c.active, share, c.turn); !reflect.DeepEqual(got, c.want) {
				t.Errorf("fairCut = %v, want %v", got, c.want)
			}
		})
	}
}
