package query

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var relativeRE = regexp.MustCompile(`^(this|previous)_(\d+)_(minutes?|hours?|days?|weeks?|months?|years?)$`)

// shortcuts are Keen's named relative timeframes.
var shortcuts = map[string]string{
	"this_minute": "this_1_minutes", "this_hour": "this_1_hours", "this_day": "this_1_days", "today": "this_1_days",
	"this_week": "this_1_weeks", "this_month": "this_1_months", "this_year": "this_1_years",
	"previous_minute": "previous_1_minutes", "previous_hour": "previous_1_hours", "yesterday": "previous_1_days",
	"previous_day": "previous_1_days", "previous_week": "previous_1_weeks", "previous_month": "previous_1_months",
	"previous_year": "previous_1_years",
}

// maxRelativeUnits bounds N of this_N_units: 100,000 years is already
// past any timestamp an event can have.
const maxRelativeUnits = 100_000

func badTimeframe(format string, args ...any) error {
	return refuse("TimeframeDefinitionError", format, args...)
}

// timeframe returns [start, end) on keen.timestamp; zero times mean
// unbounded. Relative timeframes: this_N_units includes the current,
// partial unit; previous_N_units only complete ones. Weeks start on Sunday,
// as Keen's do.
func timeframe(raw json.RawMessage, now time.Time, loc *time.Location) (time.Time, time.Time, error) {
	var zero time.Time
	if isNull(raw) {
		return zero, zero, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var abs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &abs); err != nil {
			return zero, zero, badTimeframe(`"timeframe" must be {"start": ISO-8601, "end": ISO-8601} or a relative timeframe such as "this_7_days"`)
		}
		for k := range abs {
			if k != "start" && k != "end" {
				return zero, zero, badTimeframe(`"timeframe" has %q; an absolute timeframe has only "start" and "end"`, k)
			}
		}
		var s, e string
		err1 := json.Unmarshal(abs["start"], &s)
		err2 := json.Unmarshal(abs["end"], &e)
		start, err3 := time.Parse(time.RFC3339Nano, s)
		end, err4 := time.Parse(time.RFC3339Nano, e)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return zero, zero, badTimeframe(`"timeframe" start and end must be ISO-8601 date-times with a zone, e.g. 2024-01-01T00:00:00.000Z`)
		}
		if !end.After(start) {
			return zero, zero, badTimeframe(`"timeframe" end must be after its start`)
		}
		return start.UTC(), end.UTC(), nil
	}
	var rel string
	if err := json.Unmarshal(raw, &rel); err != nil {
		return zero, zero, badTimeframe(`"timeframe" must be an object or a string`)
	}
	if s, ok := shortcuts[rel]; ok {
		rel = s
	}
	m := relativeRE.FindStringSubmatch(rel)
	if m == nil {
		return zero, zero, badTimeframe(`"timeframe" %q is not a relative timeframe such as this_7_days or previous_2_hours`, rel)
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n <= 0 || n > maxRelativeUnits {
		return zero, zero, badTimeframe(`"timeframe" %q: the count must be between 1 and %d`, rel, maxRelativeUnits)
	}
	unit := strings.TrimSuffix(m[3], "s")
	cur := truncate(now.In(loc), unit)
	var start, end time.Time
	if m[1] == "this" {
		end = add(cur, unit, 1)
		start = add(cur, unit, -(n - 1))
	} else {
		end = cur
		start = add(cur, unit, -n)
	}
	return start.UTC(), end.UTC(), nil
}

// truncate gives the start of t's unit in t's location.
func truncate(t time.Time, unit string) time.Time {
	y, mo, d := t.Date()
	switch unit {
	case "minute":
		return t.Truncate(time.Minute)
	case "hour":
		// By elapsed time, not time.Date: in the hour a DST change
		// repeats, time.Date may pick the other of the two.
		return t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	case "day":
		return time.Date(y, mo, d, 0, 0, 0, 0, t.Location())
	case "week":
		return time.Date(y, mo, d-int(t.Weekday()), 0, 0, 0, 0, t.Location())
	case "month":
		return time.Date(y, mo, 1, 0, 0, 0, 0, t.Location())
	default:
		return time.Date(y, 1, 1, 0, 0, 0, 0, t.Location())
	}
}

// add moves t by n units: minutes and hours as elapsed time, days and
// longer on the calendar of t's location (a day across a DST change is 23
// or 25 hours).
func add(t time.Time, unit string, n int) time.Time {
	switch unit {
	case "minute":
		return t.Add(time.Duration(n) * time.Minute)
	case "hour":
		return t.Add(time.Duration(n) * time.Hour)
	case "day":
		return t.AddDate(0, 0, n)
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	default:
		return t.AddDate(n, 0, 0)
	}
}

// timezone is a named zone ("US/Pacific") or an offset in seconds.
func timezone(raw json.RawMessage) (*time.Location, error) {
	if isNull(raw) {
		return time.UTC, nil
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if secs, err := strconv.Atoi(name); err == nil {
			return offset(secs)
		}
		if name == "" || strings.HasPrefix(name, "Local") {
			return nil, invalid(`"timezone" %q is not a known time zone`, name)
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, invalid(`"timezone" %q is not a known time zone`, name)
		}
		return loc, nil
	}
	var secs int
	if json.Unmarshal(raw, &secs) == nil {
		return offset(secs)
	}
	return nil, invalid(`"timezone" must be a zone name such as "US/Pacific" or an offset in seconds`)
}

func offset(secs int) (*time.Location, error) {
	if secs <= -86400 || secs >= 86400 {
		return nil, invalid(`"timezone" %d is not an offset in seconds within a day`, secs)
	}
	return time.FixedZone("", secs), nil
}
