package pipeline

import (
	"testing"
	"time"
)

// TestKeyedLogDue: a key's first occurrence is logged at once; the next
// ones within failureLogEvery are counted, and the first after it is logged
// standing for all of them; keys do not share their interval.
func TestKeyedLogDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	steps := []struct {
		key    string
		at     time.Duration
		wantOK bool
		wantN  int
	}{
		{"a", 0, true, 1},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 1},
		{"a", failureLogEvery - time.Millisecond, false, 0},
		{"a", failureLogEvery, true, 3},
		{"a", failureLogEvery + time.Second, false, 0},
		{"b", failureLogEvery + time.Second, true, 1},
	}
	var l keyedLog[string]
	for i, s := range steps {
		n, ok := l.due(s.key, t0.Add(s.at))
		if ok != s.wantOK || n != s.wantN {
			t.Fatalf("step %d (%s at %v): due = %d, %v; want %d, %v", i, s.key, s.at, n, ok, s.wantN, s.wantOK)
		}
	}
}
