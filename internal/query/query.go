// Package query parses Keen's query API parameters (event_collection,
// timeframe, timezone, filters, latest) into a store query. It is pure:
// the clock is a parameter.
package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Analyses this package serves.
const (
	Count      = "count"
	Extraction = "extraction"
)

// Error is a refused query, with Keen's error name.
type Error struct{ Name, Message string }

func (e *Error) Error() string { return e.Message }

func bad(format string, args ...any) error {
	return &Error{Name: "InvalidQueryError", Message: fmt.Sprintf(format, args...)}
}

// Params are the query's parameters as the client sent them (JSON body, or
// URL parameters whose values are JSON for timeframe and filters).
type Params struct {
	EventCollection string          `json:"event_collection"`
	Timeframe       json.RawMessage `json:"timeframe"`
	Timezone        json.RawMessage `json:"timezone"`
	Filters         json.RawMessage `json:"filters"`
	Latest          json.RawMessage `json:"latest"`
}

// Parse builds the store query for an analysis of project pid at time now.
// keyFilters are the access key's query filters, ANDed in.
func Parse(analysis, pid string, p Params, keyFilters []registry.Filter, now time.Time) (store.Query, error) {
	q := store.Query{ProjectID: pid, Collection: p.EventCollection, Analysis: store.Analysis(analysis)}
	if analysis != Count && analysis != Extraction {
		return q, &Error{Name: "InvalidAnalysisTypeError", Message: fmt.Sprintf("analysis type %q is not supported; sluice serves count and extraction", analysis)}
	}
	if q.Collection == "" {
		return q, bad(`"event_collection" is required`)
	}
	loc, err := timezone(p.Timezone)
	if err != nil {
		return q, err
	}
	if q.Start, q.End, err = timeframe(p.Timeframe, now, loc); err != nil {
		return q, err
	}
	filters, err := parseFilters(p.Filters)
	if err != nil {
		return q, err
	}
	for _, f := range keyFilters {
		kf, err := filter(f.PropertyName, f.Operator, f.PropertyValue)
		if err != nil {
			return q, fmt.Errorf("the access key's query filter: %w", err)
		}
		filters = append(filters, kf)
	}
	q.Filters = filters
	if analysis != Extraction {
		return q, nil
	}
	// Keen's synchronous extraction returns at most 100,000 events.
	q.MaxEvents = limits.MaxExtractionEvents
	if !isNull(p.Latest) {
		n, err := strconv.Atoi(strings.TrimSpace(string(p.Latest)))
		if err != nil || n <= 0 {
			return q, bad(`"latest" must be a positive integer`)
		}
		if n > limits.MaxExtractionEvents {
			return q, bad(`"latest" is %d; an extraction returns at most %d events`, n, limits.MaxExtractionEvents)
		}
		q.Latest = n
	}
	return q, nil
}

var relativeRE = regexp.MustCompile(`^(this|previous)_(\d+)_(minutes?|hours?|days?|weeks?|months?|years?)$`)

// shortcuts are Keen's named relative timeframes.
var shortcuts = map[string]string{
	"this_minute": "this_1_minutes", "this_hour": "this_1_hours", "this_day": "this_1_days", "today": "this_1_days",
	"this_week": "this_1_weeks", "this_month": "this_1_months", "this_year": "this_1_years",
	"previous_minute": "previous_1_minutes", "previous_hour": "previous_1_hours", "yesterday": "previous_1_days",
	"previous_day": "previous_1_days", "previous_week": "previous_1_weeks", "previous_month": "previous_1_months",
	"previous_year": "previous_1_years",
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
	var abs struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		if err := json.Unmarshal(raw, &abs); err != nil {
			return zero, zero, bad(`"timeframe" must be {"start": ISO-8601, "end": ISO-8601} or a relative timeframe such as "this_7_days"`)
		}
		start, err1 := time.Parse(time.RFC3339Nano, abs.Start)
		end, err2 := time.Parse(time.RFC3339Nano, abs.End)
		if err1 != nil || err2 != nil {
			return zero, zero, bad(`"timeframe" start and end must be ISO-8601 date-times with a zone, e.g. 2024-01-01T00:00:00.000Z`)
		}
		if !end.After(start) {
			return zero, zero, bad(`"timeframe" end must be after its start`)
		}
		return start.UTC(), end.UTC(), nil
	}
	var rel string
	if err := json.Unmarshal(raw, &rel); err != nil {
		return zero, zero, bad(`"timeframe" must be an object or a string`)
	}
	if s, ok := shortcuts[rel]; ok {
		rel = s
	}
	m := relativeRE.FindStringSubmatch(rel)
	if m == nil {
		return zero, zero, bad(`"timeframe" %q is not a relative timeframe such as this_7_days or previous_2_hours`, rel)
	}
	n, err := strconv.Atoi(m[2])
	if err != nil || n <= 0 || n > 100000 {
		return zero, zero, bad(`"timeframe" %q: the count must be between 1 and 100000`, rel)
	}
	unit := strings.TrimSuffix(m[3], "s")
	local := now.In(loc)
	cur := truncate(local, unit)
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

func truncate(t time.Time, unit string) time.Time {
	y, mo, d := t.Date()
	switch unit {
	case "minute":
		return t.Truncate(time.Minute)
	case "hour":
		return time.Date(y, mo, d, t.Hour(), 0, 0, 0, t.Location())
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
			return time.FixedZone("", secs), nil
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, bad(`"timezone" %q is not a known time zone`, name)
		}
		return loc, nil
	}
	var secs int
	if json.Unmarshal(raw, &secs) == nil && secs > -86400 && secs < 86400 {
		return time.FixedZone("", secs), nil
	}
	return nil, bad(`"timezone" must be a zone name such as "US/Pacific" or an offset in seconds`)
}

func parseFilters(raw json.RawMessage) ([]store.Filter, error) {
	if isNull(raw) {
		return nil, nil
	}
	var in []struct {
		PropertyName  *string         `json:"property_name"`
		Operator      *string         `json:"operator"`
		PropertyValue json.RawMessage `json:"property_value"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, bad(`"filters" must be an array of {"property_name", "operator", "property_value"}`)
	}
	var out []store.Filter
	for i, f := range in {
		if f.PropertyName == nil || f.Operator == nil {
			return nil, bad(`filter %d needs "property_name" and "operator"`, i)
		}
		var v any
		if !isNull(f.PropertyValue) {
			dec := json.NewDecoder(bytes.NewReader(f.PropertyValue))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, bad(`filter %d: "property_value" is not JSON`, i)
			}
		}
		sf, err := filter(*f.PropertyName, *f.Operator, v)
		if err != nil {
			return nil, fmt.Errorf("filter %d: %w", i, err)
		}
		out = append(out, sf)
	}
	return out, nil
}

// Operators this package accepts.
var Operators = []string{"eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains"}

func filter(name, op string, v any) (store.Filter, error) {
	v = normalize(v)
	f := store.Filter{Operator: op, Value: v}
	if name == "" {
		return f, bad(`"property_name" must not be empty`)
	}
	f.Path = strings.Split(name, ".")
	if slices.Contains(f.Path, "") {
		return f, bad(`"property_name" %q has an empty part`, name)
	}
	if !slices.Contains(Operators, op) {
		return f, bad(`operator %q is not supported; use one of %s`, op, strings.Join(Operators, ", "))
	}
	switch op {
	case "exists":
		if _, ok := v.(bool); !ok {
			return f, bad(`operator "exists" takes true or false`)
		}
	case "in":
		if _, ok := v.([]any); !ok {
			return f, bad(`operator "in" takes an array`)
		}
	case "contains", "not_contains":
		if _, ok := v.(string); !ok {
			return f, bad(`operator %q takes a string`, op)
		}
	case "lt", "lte", "gt", "gte":
		switch v.(type) {
		case json.Number, string:
		default:
			return f, bad(`operator %q takes a number or a string`, op)
		}
	}
	return f, nil
}

// normalize gives numbers one type (json.Number), whether they came from a
// query body or from an access key document.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}
