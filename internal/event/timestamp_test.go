package event

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendKeenTime compares the hand-made formatting with the time
// package's, on times around every edge (days, leap years, centuries, the
// epoch, the years that fall back to AppendFormat) and at random.
func TestAppendKeenTime(t *testing.T) {
	var times []time.Time
	for _, s := range []string{
		"1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "2000-02-29T12:00:00Z", "1900-02-28T23:59:59Z",
		"1900-03-01T00:00:00Z", "2100-03-01T00:00:00Z", "1600-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-12-31T23:59:59.9995Z",
	} {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, tm, tm.Add(time.Millisecond), tm.Add(-time.Nanosecond), tm.In(time.FixedZone("", -5*3600)))
	}
	times = append(times, time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		times = append(times, time.Unix(rng.Int64N(500_000_000_000)-250_000_000_000, rng.Int64N(1e9)))
	}
	for _, tm := range times {
		want := normalizeTime(tm).Format(keenTimeLayout)
		if got := string(appendKeenTime(nil, tm)); got != want {
			t.Fatalf("appendKeenTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
