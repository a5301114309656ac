package store

import (
	"encoding/json"
	"math"
	"testing"
)

func TestDeletionCheck(t *testing.T) {
	events := &Query{}
	for _, c := range []struct {
		name string
		d    Deletion
		ok   bool
	}{
		{"collection", Deletion{ProjectID: "p", Collection: "c"}, true},
		{"events", Deletion{ProjectID: "p", Collection: "c", Events: events}, true},
		{"property", Deletion{ProjectID: "p", Collection: "c", Property: []string{"user", "name"}}, true},
		{"keen.location", Deletion{ProjectID: "p", Collection: "c", Property: []string{"keen", "location"}}, true},
		{"no project", Deletion{Collection: "c"}, false},
		{"no collection", Deletion{ProjectID: "p"}, false},
		{"both", Deletion{ProjectID: "p", Collection: "c", Property: []string{"a"}, Events: events}, false},
		{"empty name", Deletion{ProjectID: "p", Collection: "c", Property: []string{"a", ""}}, false},
		{"keen", Deletion{ProjectID: "p", Collection: "c", Property: []string{"keen"}}, false},
		{"keen.id", Deletion{ProjectID: "p", Collection: "c", Property: []string{"keen", "id"}}, false},
		{"keen.timestamp", Deletion{ProjectID: "p", Collection: "c", Property: []string{"keen", "timestamp"}}, false},
		{"keen.created_at", Deletion{ProjectID: "p", Collection: "c", Property: []string{"keen", "created_at"}}, false},
	} {
		if err := c.d.Check(); (err == nil) != c.ok {
			t.Errorf("%s: Check() = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestFilterNumber(t *testing.T) {
	for _, c := range []struct {
		v      any
		want   float64
		ok, er bool
	}{
		{json.Number("2.5"), 2.5, true, false},
		{json.Number("1e400"), math.Inf(1), true, false},
		{json.Number("x"), 0, true, true},
		{3, 3, true, false},
		{int64(-4), -4, true, false},
		{float32(0.5), 0.5, true, false},
		{"5", 0, false, false},
		{true, 0, false, false},
	} {
		f, ok, err := FilterNumber(c.v)
		if ok != c.ok || (err != nil) != c.er || (!c.er && f != c.want) {
			t.Errorf("FilterNumber(%#v) = %v, %v, %v", c.v, f, ok, err)
		}
	}
	if l, ok := FilterList([]string{"a", "b"}).([]any); !ok || len(l) != 2 || l[1] != "b" {
		t.Errorf("FilterList([a b]) = %#v", l)
	}
	if v := FilterList(7); v != 7 {
		t.Errorf("FilterList(7) = %#v", v)
	}
}
