package store

import (
	"encoding/json"
	"time"
)

// Analysis is what a Query computes (Keen's analysis types that an engine
// answers; funnel and multi_analysis are built from these by package query).
type Analysis string

// The analyses. "Values" below are the target property's values in the
// matching events of one result row.
const (
	// Count: the number of matching events (int64).
	Count Analysis = "count"
	// CountUnique: the number of distinct values (int64). A value is a
	// string, number or boolean leaf; values of different types are
	// different ("1" and 1); null, arrays and objects are not values.
	CountUnique Analysis = "count_unique"
	// SelectUnique: the distinct values ([]any of string, float64, bool;
	// any order; package query sorts them), as for CountUnique.
	SelectUnique Analysis = "select_unique"
	// The numeric analyses use the number values only (others are
	// skipped) and give a float64, or nil when there are none.
	Sum     Analysis = "sum"
	Average Analysis = "average"
	Minimum Analysis = "minimum"
	Maximum Analysis = "maximum"
	// Median is Percentile 50. Percentile p (0–100) is not interpolated:
	// of the n values in ascending order, the one at 0-based rank
	// floor(p/100 × (n−1)) (Keen: the median of 10 and 20 is 10).
	Median     Analysis = "median"
	Percentile Analysis = "percentile"
	// StandardDeviation is the population standard deviation
	// (sqrt(Σ(x−mean)²/n); 0 for one value).
	StandardDeviation Analysis = "standard_deviation"
	// Extraction: the matching events (Result.Events).
	Extraction Analysis = "extraction"
)

// Query selects the events of one collection and computes an analysis over
// them, per interval bucket and per group.
type Query struct {
	ProjectID  string
	Collection string
	Analysis   Analysis
	// Target is the target property's path (every analysis but Count and
	// Extraction has one): "item.price" → ["item", "price"].
	Target     []string
	Percentile float64   // Percentile only: 0–100
	Start, End time.Time // on keen.timestamp, [Start, End); zero = unbounded
	Filters    []Filter  // ANDed
	// GroupBy are property paths: each Row has one value per path, the
	// path's value in the row's events (nil where the event has none or
	// null there). An event whose value at a path is an object has nil
	// there too.
	GroupBy [][]string
	// Buckets, when not empty, are n+1 ascending instants bounding n
	// interval buckets [Buckets[i], Buckets[i+1]) on keen.timestamp; each
	// Row is one bucket's (Row.Bucket), and events outside all buckets
	// are not counted. Package query computes them from Keen's interval
	// and timezone.
	Buckets []time.Time

	// Extraction only.
	Latest int // the Latest most recent events (by keen.timestamp, then keen.id); 0 = all
	// MaxEvents and MaxBytes bound an extraction (0: unbounded). One that
	// would return more events, or more bytes of JSON, fails with a
	// *TooLargeError, found before any event's JSON is read.
	MaxEvents int
	MaxBytes  int64
}

// Filter is a Keen query filter on a property path, or an "or" of filters.
//
// What each operator matches (engines must agree with storetest's model):
//
//   - The type of the filter's value picks the values compared: eq 5
//     matches the number 5 only, eq "5" the string only.
//   - eq: number, string, boolean or null equality; a string also matches
//     an array of strings that contains it; an array of strings matches an
//     equal array of strings; any other array or object value matches
//     nothing.
//   - ne and not_contains are the negations of eq and contains, so they
//     match events where the property is missing (Keen/Mongo style).
//   - lt, lte, gt, gte: numbers numerically, strings lexicographically (by
//     bytes); other values match nothing.
//   - exists true: the path has a value of any type, or has a child path
//     with one (an empty object does not count); exists false: the reverse.
//   - in: the values are split by type, each compared as eq does; an
//     array value inside "in" matches nothing.
//   - contains: a substring of a string, or a member of an array of
//     strings.
//   - regex: a string value matching Value, an RE2 expression (unanchored:
//     anchor it with ^ and $).
//   - within: Value is a Geo; matches an event whose value at Path is an
//     array [longitude, latitude] of two numbers no farther than
//     MaxMiles from the Geo's point (haversine distance, EarthRadiusMiles).
//   - or: matches when any of Or matches (Path, Value unused).
//   - Numbers are compared as float64; keen.timestamp and keen.created_at
//     are strings (UTC, milliseconds, "Z"), so they compare in time order.
type Filter struct {
	Path     []string // "customer.id" → ["customer", "id"]
	Operator string
	Value    any      // decoded JSON (json.Number for numbers); a Geo for within
	Or       []Filter // operator "or" only
}

// Geo is the value of a within filter.
type Geo struct {
	Longitude, Latitude float64
	MaxMiles            float64
}

// EarthRadiusMiles is the radius within filters measure distances with.
const EarthRadiusMiles = 3958.8

// Result is what a Run returns.
type Result struct {
	// Rows, for every analysis but Extraction. Without GroupBy and
	// Buckets, exactly one Row (its analysis over no events when none
	// match: count 0, numeric nil). Otherwise one Row per (bucket, group)
	// holding at least one matching event, in any order.
	Rows []Row
	// Events, for Extraction: the matching events' JSON, oldest
	// keen.timestamp first (ties by keen.id).
	Events []json.RawMessage
}

// Row is one (bucket, group)'s result.
type Row struct {
	Bucket int   // index into Query.Buckets; 0 without them
	Group  []any // one per Query.GroupBy: nil, string, float64, bool, []string (an array of strings), json.RawMessage (another array)
	Value  any   // int64 (Count, CountUnique), float64 or nil (numeric), []any (SelectUnique)
}

// Collection is a collection's schema: its properties' paths ("a.b") and,
// for each, the leaf types (package leaf) its values have had.
// keen.timestamp and keen.created_at are listed with type leaf.String.
type Collection struct {
	Name       string
	Properties map[string][]string
}

// Deletion names what Delete removes: a whole collection (Property and
// Events unset), a property from every event of a collection (Property), or
// the events of a collection matching Events' timeframe and filters
// (Events; its Analysis and the other fields are unused). A deleted
// collection's uniqueness tokens are released with it; the tokens of
// events deleted by filter stay held for the rest of their window (a
// deleted event was recorded). Deleting does not change what Kafka
// Outbound already streamed.
type Deletion struct {
	ProjectID  string
	Collection string
	Property   []string
	Events     *Query
}

// Deleted says what a Delete removed.
type Deleted struct {
	Events int64 // events removed (whole collection or matching events)
}
