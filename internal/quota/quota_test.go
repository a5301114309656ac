package quota

import (
	"testing"
	"time"
)

func TestCharge(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	type step struct {
		key   string
		after time.Duration // since t0
		bytes int
		want  time.Duration
	}
	for _, tc := range []struct {
		name  string
		rate  int64
		burst time.Duration
		steps []step
	}{
		{"unlimited", 0, time.Second, []step{{"a", 0, 1 << 30, 0}}},
		{"within the burst", 1000, time.Second, []step{{"a", 0, 600, 0}, {"a", 0, 400, 0}}},
		{"over the burst owes the excess", 1000, time.Second, []step{{"a", 0, 1000, 0}, {"a", 0, 500, 500 * time.Millisecond}}},
		{"the debt is repaid at the rate", 1000, time.Second, []step{{"a", 0, 1500, 500 * time.Millisecond}, {"a", 250 * time.Millisecond, 0, 250 * time.Millisecond}, {"a", time.Second, 0, 0}}},
		{"refills up to the burst only", 1000, time.Second, []step{{"a", 0, 0, 0}, {"a", time.Hour, 1500, 500 * time.Millisecond}}},
		{"keys are independent", 1000, time.Second, []step{{"a", 0, 3000, 2 * time.Second}, {"b", 0, 1000, 0}}},
		{"a throttle is bounded", 1000, time.Second, []step{{"a", 0, 1 << 30, MaxThrottle}, {"a", MaxThrottle, 1000, time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.rate, tc.burst)
			for i, s := range tc.steps {
				if got := l.Charge(s.key, s.bytes, t0.Add(s.after)); got != s.want {
					t.Fatalf("step %d (%s +%v, %d bytes): throttle %v, want %v", i, s.key, s.after, s.bytes, got, s.want)
				}
			}
		})
	}
}

func TestThrottledDoesNotCharge(t *testing.T) {
	t0 := time.Now()
	l := New(1000, time.Second)
	l.Charge("a", 2000, t0)
	for range 3 {
		if got := l.Throttled("a", t0); got != time.Second {
			t.Fatalf("throttled %v, want 1s", got)
		}
	}
	if got := l.Throttled("b", t0); got != 0 {
		t.Fatalf("an unknown key is throttled %v", got)
	}
}

func TestTidyForgetsFullBuckets(t *testing.T) {
	t0 := time.Now()
	l := New(1000, time.Second)
	l.Charge("a", 10, t0)
	l.Charge("b", 5000, t0)
	l.Charge("c", 0, t0.Add(2*time.Minute)) // a has refilled, b (owes 4 s) too
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets kept, want only c's", len(l.buckets))
	}
	l.Charge("d", 5000, t0.Add(2*time.Minute))
	l.Charge("e", 0, t0.Add(2*time.Minute+time.Second)) // too soon to tidy
	if len(l.buckets) != 3 {
		t.Fatalf("%d buckets, want c, d, e", len(l.buckets))
	}
}
