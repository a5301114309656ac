package query

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
)

// namedIntervals are Keen's interval names and the unit each steps by.
var namedIntervals = map[string]string{
	"minutely": "minute", "hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "yearly": "year",
}

var everyRE = regexp.MustCompile(`^every_(\d+)_(minutes?|hours?|days?|weeks?|months?|years?)$`)

// interval parses an interval: a unit and how many of it one bucket spans.
func interval(s string) (unit string, n int, err error) {
	if u, ok := namedIntervals[s]; ok {
		return u, 1, nil
	}
	m := everyRE.FindStringSubmatch(s)
	if m == nil {
		return "", 0, invalid(`"interval" %q is not an interval: use minutely, hourly, daily, weekly, monthly, yearly or every_N_units such as every_6_hours`, s)
	}
	n, err = strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > limits.MaxIntervalBuckets {
		return "", 0, invalid(`"interval" %q: N must be between 1 and %d`, s, limits.MaxIntervalBuckets)
	}
	return strings.TrimSuffix(m[2], "s"), n, nil
}

// Buckets divides [start, end) into interval buckets, returned as their
// n+1 boundaries. Boundaries fall on the unit's starts in loc (midnights
// for daily, Sundays for weekly, the 1st for monthly), every n units from
// the unit holding start; the first and last buckets are cut to the
// timeframe, as Keen's are (a weekly interval over Jan 1–25, 2015 gives
// Jan 1–4, 4–11, 11–18, 18–25). More than limits.MaxIntervalBuckets
// buckets are refused.
func Buckets(start, end time.Time, loc *time.Location, unit string, n int) ([]time.Time, error) {
	out := []time.Time{start}
	for t := truncate(start.In(loc), unit); ; {
		t = add(t, unit, n)
		if !t.Before(end) {
			break
		}
		if t.After(start) {
			if len(out) == limits.MaxIntervalBuckets {
				return nil, tooManyBuckets()
			}
			out = append(out, t.UTC())
		}
	}
	return append(out, end), nil
}

func tooManyBuckets() error {
	return invalid("this timeframe and interval make more than %d intervals; use a longer interval or a shorter timeframe", limits.MaxIntervalBuckets)
}
