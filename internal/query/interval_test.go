package query

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func TestBuckets(t *testing.T) {
	cases := []struct {
		name       string
		start, end string
		loc        *time.Location
		interval   string
		want       string // boundaries, UTC, space-separated
	}{
		// Keen's Java SDK fixtures: weeks start on Sunday, the first and
		// last buckets are cut to the timeframe.
		{"weekly cut", "2015-01-01T00:00:00Z", "2015-01-25T00:00:00Z", time.UTC, "weekly",
			"2015-01-01T00:00:00Z 2015-01-04T00:00:00Z 2015-01-11T00:00:00Z 2015-01-18T00:00:00Z 2015-01-25T00:00:00Z"},
		{"weekly cut end", "2015-06-01T00:00:00Z", "2015-07-01T00:00:00Z", time.UTC, "weekly",
			"2015-06-01T00:00:00Z 2015-06-07T00:00:00Z 2015-06-14T00:00:00Z 2015-06-21T00:00:00Z 2015-06-28T00:00:00Z 2015-07-01T00:00:00Z"},
		// keen-dataviz's fixture: monthly in US/Pacific starts at 07:00Z
		// (PDT) or 08:00Z (PST).
		{"monthly named zone", "2013-10-01T07:00:00Z", "2014-01-01T08:00:00Z", zone("US/Pacific"), "monthly",
			"2013-10-01T07:00:00Z 2013-11-01T07:00:00Z 2013-12-01T08:00:00Z 2014-01-01T08:00:00Z"},
		// US DST starts 2026-03-08: that day is 23 hours long.
		{"daily across DST", "2026-03-07T08:00:00Z", "2026-03-10T07:00:00Z", zone("America/Los_Angeles"), "daily",
			"2026-03-07T08:00:00Z 2026-03-08T08:00:00Z 2026-03-09T07:00:00Z 2026-03-10T07:00:00Z"},
		// Paris falls back on 2026-10-25 at 01:00Z: hours stay hours.
		{"hourly across DST", "2026-10-25T00:00:00Z", "2026-10-25T03:00:00Z", zone("Europe/Paris"), "hourly",
			"2026-10-25T00:00:00Z 2026-10-25T01:00:00Z 2026-10-25T02:00:00Z 2026-10-25T03:00:00Z"},
		{"daily offset", "2026-11-16T08:00:00Z", "2026-11-18T08:00:00Z", time.FixedZone("", -28800), "daily",
			"2026-11-16T08:00:00Z 2026-11-17T08:00:00Z 2026-11-18T08:00:00Z"},
		{"daily offset unaligned", "2026-11-16T00:00:00Z", "2026-11-17T12:00:00Z", time.FixedZone("", -28800), "daily",
			"2026-11-16T00:00:00Z 2026-11-16T08:00:00Z 2026-11-17T08:00:00Z 2026-11-17T12:00:00Z"},
		{"every_6_hours", "2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z", time.UTC, "every_6_hours",
			"2026-11-18T00:00:00Z 2026-11-18T06:00:00Z 2026-11-18T12:00:00Z 2026-11-18T18:00:00Z 2026-11-19T00:00:00Z"},
		{"every_2_days unaligned", "2026-01-01T12:00:00Z", "2026-01-06T00:00:00Z", time.UTC, "every_2_days",
			"2026-01-01T12:00:00Z 2026-01-03T00:00:00Z 2026-01-05T00:00:00Z 2026-01-06T00:00:00Z"},
		{"every_1_month singular unit", "2026-01-15T00:00:00Z", "2026-03-01T00:00:00Z", time.UTC, "every_1_month",
			"2026-01-15T00:00:00Z 2026-02-01T00:00:00Z 2026-03-01T00:00:00Z"},
		{"minutely", "2026-11-18T15:01:00Z", "2026-11-18T15:04:00Z", time.UTC, "minutely",
			"2026-11-18T15:01:00Z 2026-11-18T15:02:00Z 2026-11-18T15:03:00Z 2026-11-18T15:04:00Z"},
		{"yearly", "2024-06-01T00:00:00Z", "2026-01-01T00:00:00Z", time.UTC, "yearly",
			"2024-06-01T00:00:00Z 2025-01-01T00:00:00Z 2026-01-01T00:00:00Z"},
		{"one bucket", "2026-11-18T00:00:00Z", "2026-11-18T05:00:00Z", time.UTC, "daily",
			"2026-11-18T00:00:00Z 2026-11-18T05:00:00Z"},
	}
	for _, tc := range cases {
		unit, n, err := interval(tc.interval)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, err := Buckets(utc(tc.start), utc(tc.end), tc.loc, unit, n)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, x := range b {
			got = append(got, x.UTC().Format(time.RFC3339))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, strings.Join(got, " "), tc.want)
		}
	}
}

// TestBucketBound: limits.MaxIntervalBuckets buckets are served, one more
// is refused.
func TestBucketBound(t *testing.T) {
	start := utc("2026-01-01T00:00:00Z")
	end := start.Add(limits.MaxIntervalBuckets * time.Minute)
	b, err := Buckets(start, end, time.UTC, "minute", 1)
	if err != nil || len(b) != limits.MaxIntervalBuckets+1 {
		t.Fatalf("%d buckets: %v", len(b)-1, err)
	}
	_, err = Buckets(start, end.Add(time.Minute), time.UTC, "minute", 1)
	var qe *Error
	if !errors.As(err, &qe) || qe.Name != "InvalidQueryError" {
		t.Fatalf("one more: %v", err)
	}
	// The relative timeframe and the interval come from the same zone.
	q := mustParse(t, Count, `{"event_collection":"c","timeframe":"this_7_days","interval":"hourly","timezone":"Asia/Kolkata"}`)
	if len(q.Store.Buckets) != 7*24+1 || q.Store.Buckets[1].Format(time.RFC3339) != "2026-11-11T19:30:00Z" {
		t.Errorf("hourly this_7_days in +05:30: %d boundaries, second %v", len(q.Store.Buckets), q.Store.Buckets[1])
	}
}
