// Package query is Keen's query API on top of a store: Parse turns an
// analysis and its parameters into a Query (one or more store queries),
// and Run runs it and shapes Keen's result JSON. Parsing is pure: the
// clock is a parameter.
package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Keen's analysis types.
const (
	Count             = "count"
	CountUnique       = "count_unique"
	Sum               = "sum"
	Average           = "average"
	Minimum           = "minimum"
	Maximum           = "maximum"
	Median            = "median"
	Percentile        = "percentile"
	StandardDeviation = "standard_deviation"
	SelectUnique      = "select_unique"
	Extraction        = "extraction"
	MultiAnalysis     = "multi_analysis"
	Funnel            = "funnel"
)

// Analyses are the analysis types this package serves.
var Analyses = []string{Count, CountUnique, Sum, Average, Minimum, Maximum, Median, Percentile,
	StandardDeviation, SelectUnique, Extraction, MultiAnalysis, Funnel}

// simple are the analyses a store computes directly, with the store's name.
var simple = map[string]store.Analysis{
	Count: store.Count, CountUnique: store.CountUnique, Sum: store.Sum, Average: store.Average,
	Minimum: store.Minimum, Maximum: store.Maximum, Median: store.Median, Percentile: store.Percentile,
	StandardDeviation: store.StandardDeviation, SelectUnique: store.SelectUnique,
}

// Error is a refused query, with Keen's error name (error_code).
type Error struct{ Name, Message string }

func (e *Error) Error() string { return e.Message }

func refuse(name, format string, args ...any) error {
	return &Error{Name: name, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return refuse("InvalidQueryError", format, args...)
}

// prefix puts where a refusal was found before its message.
func prefix(where string, err error) error {
	var qe *Error
	if errors.As(err, &qe) {
		return &Error{Name: qe.Name, Message: where + qe.Message}
	}
	return fmt.Errorf("%s%w", where, err)
}

// Query is a parsed Keen query.
type Query struct {
	Analysis string // Keen's analysis type
	// Store is the store query (every analysis but funnel). For
	// multi_analysis its Analysis, Target and Percentile are unset: each
	// of Analyses sets them.
	Store store.Query
	// GroupBy are the group_by property names as given: the keys of
	// grouped results ("customer.id").
	GroupBy  []string
	OrderBy  []Order
	Limit    int  // 0: all groups
	ZeroFill bool // with interval and group_by: every group in every bucket
	// Analyses are multi_analysis's, sorted by label.
	Analyses []Labelled
	// PropertyNames are an extraction's property_names (nil: whole events).
	PropertyNames [][]string
	// MaxResults bounds the (bucket, group) results of the answer
	// (limits.MaxQueryResults).
	MaxResults int
	// Steps are a funnel's, and MaxActors bounds the distinct actors of
	// each (limits.MaxFunnelActors).
	Steps     []Step
	MaxActors int64
}

// Labelled is one analysis of a multi_analysis.
type Labelled struct {
	Label      string
	Analysis   store.Analysis
	Target     []string
	Percentile float64
}

// Order is one order_by clause: a group_by property or "result" (for
// multi_analysis, a label).
type Order struct {
	Property string
	Desc     bool
}

// Step is one funnel step.
type Step struct {
	Query                          store.Query // a select_unique of the actor property
	Optional, Inverted, WithActors bool
	// Echo is the step as the answer's "steps" repeats it.
	Echo map[string]any
}

// allowed lists the parameters each analysis takes (beyond its own, named
// in Parse).
var (
	// analysis_type: keen-analysis.js repeats the path's analysis in
	// the body.
	common   = []string{"analysis_type", "timeframe", "timezone", "max_age", "include_metadata"}
	analytic = []string{"event_collection", "filters", "group_by", "order_by", "limit", "interval", "zero_fill"}
)

func allowed(analysis string) []string {
	a := slices.Clone(common)
	switch analysis {
	case Count:
		a = append(a, analytic...)
	case Extraction:
		a = append(a, "event_collection", "filters", "latest", "property_names", "email")
	case MultiAnalysis:
		a = append(a, analytic...)
		a = append(a, "analyses")
	case Funnel:
		a = append(a, "steps")
	case Percentile:
		a = append(a, analytic...)
		a = append(a, "target_property", "percentile")
	default:
		a = append(a, analytic...)
		a = append(a, "target_property")
	}
	return a
}

// Parse builds the query of an analysis of project pid at time now.
// keyFilters are the access key's query filters, ANDed into every store
// query (every funnel step's too).
func Parse(analysis, pid string, p Params, keyFs []registry.Filter, now time.Time) (*Query, error) {
	if !slices.Contains(Analyses, analysis) {
		return nil, refuse("InvalidAnalysisTypeError", "%q is not an analysis type; use one of %s", analysis, strings.Join(Analyses, ", "))
	}
	ok := allowed(analysis)
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, known := params[name]; !known {
			return nil, invalid("%q is not a query parameter sluice knows", name)
		}
		// A null, [] or {} is no value (form-built queries send them).
		if !p.empty(name) && !slices.Contains(ok, name) {
			return nil, invalid("%q is not a parameter of %s", name, analysis)
		}
	}
	if typ, err := p.str("analysis_type"); err != nil {
		return nil, err
	} else if p.given("analysis_type") && typ != analysis {
		return nil, invalid(`"analysis_type" is %q but the query runs %s`, typ, analysis)
	}
	if p.given("email") {
		return nil, invalid(`"email" (an extraction e-mailed when it is ready) is not supported: sluice answers extractions synchronously, up to %d events`, limits.MaxExtractionEvents)
	}
	if meta, err := p.boolean("include_metadata"); err != nil {
		return nil, err
	} else if meta {
		return nil, invalid(`"include_metadata": true is not supported: sluice returns no execution metadata`)
	}
	if p.given("max_age") {
		// Every answer is computed when asked, so it is never staler
		// than any max_age.
		if _, err := p.integer("max_age"); err != nil {
			return nil, err
		}
	}
	kf, err := keyFilters(keyFs)
	if err != nil {
		return nil, err
	}
	q := &Query{Analysis: analysis, MaxResults: limits.MaxQueryResults}
	loc, err := timezone(p["timezone"])
	if err != nil {
		return nil, err
	}
	if analysis == Funnel {
		if q.Steps, err = parseSteps(pid, p, loc, kf, now); err != nil {
			return nil, err
		}
		q.MaxActors = limits.MaxFunnelActors
		return q, nil
	}

	s := &q.Store
	s.ProjectID = pid
	if s.Collection, err = p.str("event_collection"); err != nil {
		return nil, err
	}
	if s.Collection == "" {
		return nil, invalid(`"event_collection" is required`)
	}
	if s.Start, s.End, err = timeframe(p["timeframe"], now, loc); err != nil {
		return nil, err
	}
	if s.Filters, err = parseFilters(p["filters"]); err != nil {
		return nil, err
	}
	s.Filters = append(s.Filters, kf...)

	switch analysis {
	case Extraction:
		if err := parseExtraction(q, p); err != nil {
			return nil, err
		}
		return q, nil
	case MultiAnalysis:
		if q.Analyses, err = parseAnalyses(p["analyses"]); err != nil {
			return nil, err
		}
	default:
		s.Analysis = simple[analysis]
		if err := parseTarget(q, p); err != nil {
			return nil, err
		}
	}
	if err := parseGroupBy(q, p); err != nil {
		return nil, err
	}
	if err := parseOrderBy(q, p); err != nil {
		return nil, err
	}
	if err := parseInterval(q, p, loc); err != nil {
		return nil, err
	}
	return q, nil
}

func parseTarget(q *Query, p Params) error {
	target, err := p.str("target_property")
	if err != nil {
		return err
	}
	if q.Analysis == Count {
		return nil
	}
	if target == "" {
		return invalid(`"target_property" is required for %s`, q.Analysis)
	}
	if q.Store.Target, err = propertyPath("target_property", target); err != nil {
		return err
	}
	if q.Analysis == Percentile {
		if !p.given("percentile") {
			return invalid(`"percentile" is required for percentile: a number from 0 to 100`)
		}
		if q.Store.Percentile, err = percentile(p["percentile"]); err != nil {
			return err
		}
	}
	return nil
}

func percentile(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > 100 {
		return 0, invalid(`"percentile" must be a number from 0 to 100`)
	}
	return f, nil
}

func parseExtraction(q *Query, p Params) error {
	// Keen's synchronous extraction returns at most 100,000 events.
	q.Store.Analysis = store.Extraction
	q.Store.MaxEvents = limits.MaxExtractionEvents
	n, err := p.integer("latest")
	if err != nil {
		return err
	}
	if n > limits.MaxExtractionEvents {
		return invalid(`"latest" is %d; an extraction returns at most %d events`, n, limits.MaxExtractionEvents)
	}
	q.Store.Latest = n
	if !p.given("property_names") {
		return nil
	}
	names, err := names(p["property_names"], "property_names")
	if err != nil {
		return err
	}
	for _, name := range names {
		path, err := propertyPath("property_names", name)
		if err != nil {
			return err
		}
		q.PropertyNames = append(q.PropertyNames, path)
	}
	return nil
}

// names reads a parameter that is a property name or an array of them
// (empty: none, as Keen's explorer sends "no property_names").
func names(raw json.RawMessage, param string) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("%q must be a property name or an array of them", param)
	}
	return many, nil
}

func parseAnalyses(raw json.RawMessage) ([]Labelled, error) {
	if isNull(raw) {
		return nil, invalid(`"analyses" is required for multi_analysis: {"label": {"analysis_type": …, "target_property": …}, …}`)
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || len(in) == 0 {
		return nil, invalid(`"analyses" must be a non-empty object of label → {"analysis_type", "target_property", "percentile"}`)
	}
	out := make([]Labelled, 0, len(in))
	for label, def := range in {
		var a map[string]json.RawMessage
		if err := json.Unmarshal(def, &a); err != nil {
			return nil, invalid(`"analyses" %q must be an object {"analysis_type", "target_property", "percentile"}`, label)
		}
		sub := Params(a)
		for k := range a {
			if k != "analysis_type" && k != "target_property" && k != "percentile" {
				return nil, invalid(`"analyses" %q: %q is not a parameter of an analysis in a multi_analysis`, label, k)
			}
		}
		typ, err := sub.str("analysis_type")
		if err != nil {
			return nil, prefix(fmt.Sprintf(`"analyses" %q: `, label), err)
		}
		st, ok := simple[typ]
		if !ok {
			return nil, refuse("InvalidAnalysisTypeError", `"analyses" %q: %q is not an analysis a multi_analysis runs; use one of count, count_unique, sum, average, minimum, maximum, median, percentile, standard_deviation, select_unique`, label, typ)
		}
		l := Labelled{Label: label, Analysis: st}
		target, err := sub.str("target_property")
		if err != nil {
			return nil, prefix(fmt.Sprintf(`"analyses" %q: `, label), err)
		}
		switch {
		case typ == Count && target != "":
			return nil, invalid(`"analyses" %q: count takes no "target_property"`, label)
		case typ != Count && target == "":
			return nil, invalid(`"analyses" %q: "target_property" is required for %s`, label, typ)
		case typ != Count:
			if l.Target, err = propertyPath("target_property", target); err != nil {
				return nil, prefix(fmt.Sprintf(`"analyses" %q: `, label), err)
			}
		}
		switch {
		case typ == Percentile && !sub.given("percentile"):
			return nil, invalid(`"analyses" %q: "percentile" is required for percentile`, label)
		case typ == Percentile:
			if l.Percentile, err = percentile(sub["percentile"]); err != nil {
				return nil, prefix(fmt.Sprintf(`"analyses" %q: `, label), err)
			}
		case sub.given("percentile"):
			return nil, invalid(`"analyses" %q: "percentile" belongs to percentile analyses only`, label)
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out, nil
}

func parseGroupBy(q *Query, p Params) error {
	if !p.given("group_by") {
		return nil
	}
	gb, err := names(p["group_by"], "group_by")
	if err != nil {
		return err
	}
	for _, name := range gb {
		if slices.Contains(q.GroupBy, name) {
			return invalid(`"group_by" names %q twice`, name)
		}
		path, err := propertyPath("group_by", name)
		if err != nil {
			return err
		}
		q.GroupBy = append(q.GroupBy, name)
		q.Store.GroupBy = append(q.Store.GroupBy, path)
	}
	return nil
}

// parseOrderBy reads order_by (one {"property_name", "direction"} or an
// array of them; only with group_by) and limit (only with order_by), as
// Keen's Python SDK checks them.
func parseOrderBy(q *Query, p Params) error {
	if !p.given("order_by") {
		if p.given("limit") {
			return invalid(`"limit" is only allowed with "order_by"`)
		}
		return nil
	}
	if len(q.GroupBy) == 0 {
		return invalid(`"order_by" is only allowed with "group_by"`)
	}
	raw := p["order_by"]
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return invalid(`"order_by" must not be empty`)
	}
	for _, r := range list {
		var o struct {
			PropertyName *string `json:"property_name"`
			Direction    *string `json:"direction"`
		}
		var name string
		if json.Unmarshal(r, &name) == nil {
			// A bare property name, ascending.
			o.PropertyName = &name
		} else if err := strictJSON(r, &o); err != nil || o.PropertyName == nil {
			return invalid(`"order_by" is {"property_name": a group_by property or "result", "direction": "ASC" or "DESC"}, or an array of them`)
		}
		ord := Order{Property: *o.PropertyName}
		if o.Direction != nil {
			switch strings.ToUpper(*o.Direction) {
			case "ASC":
			case "DESC":
				ord.Desc = true
			default:
				return invalid(`"order_by" direction %q must be "ASC" or "DESC"`, *o.Direction)
			}
		}
		if !orderable(q, ord.Property) {
			return invalid(`"order_by" property_name %q must be one of the group_by properties or %s`, ord.Property, resultName(q))
		}
		q.OrderBy = append(q.OrderBy, ord)
	}
	n, err := p.integer("limit")
	q.Limit = n
	return err
}

func orderable(q *Query, name string) bool {
	if slices.Contains(q.GroupBy, name) {
		return true
	}
	if q.Analysis != MultiAnalysis {
		return name == "result"
	}
	return slices.ContainsFunc(q.Analyses, func(l Labelled) bool { return l.Label == name })
}

func resultName(q *Query) string {
	if q.Analysis == MultiAnalysis {
		return "one of the analyses' labels"
	}
	return `"result"`
}

func parseInterval(q *Query, p Params, loc *time.Location) error {
	zf := true
	if p.given("zero_fill") {
		var err error
		if zf, err = p.boolean("zero_fill"); err != nil {
			return err
		}
	}
	q.ZeroFill = zf
	if !p.given("interval") {
		return nil
	}
	s, err := p.str("interval")
	if err != nil {
		return err
	}
	unit, n, err := interval(s)
	if err != nil {
		return err
	}
	if q.Store.Start.IsZero() || q.Store.End.IsZero() {
		return badTimeframe(`"interval" needs a "timeframe": the intervals divide it`)
	}
	q.Store.Buckets, err = Buckets(q.Store.Start, q.Store.End, loc, unit, n)
	return err
}

func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
