package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the bucket cases load named zones wherever the tests run

	"github.com/sluice-io/sluice/internal/store"
)

// Families are the parts of the contract the suite checks, each named so
// that an engine can run the ones it serves (Options.Families). An
// analysis family checks that analysis alone (fixed cases, and random
// queries of it); the feature families add what they name to them.
var Families = []string{
	// Analyses.
	"count", "count_unique", "select_unique", "sum", "average", "minimum", "maximum",
	"median", "percentile", "standard_deviation", "extraction",
	// Filters: eq, ne, lt, lte, gt, gte, exists, in, contains,
	// not_contains; then the operators or, regex and within.
	"filters", "or", "regex", "within",
	// Query shapes: GroupBy paths and interval Buckets.
	"group_by", "buckets",
	// Insert's per-event Outcomes (its counters are checked everywhere),
	// Schema and Delete.
	"outcomes", "schema", "delete",
}

// Options are what RunOptions runs.
type Options struct {
	// Families lists the families to run (nil: all). A query or case that
	// needs a family not listed is not run; the suite logs which families
	// it left out.
	Families []string
}

// Run runs the whole suite against the stores open returns (a new, empty
// one at each call; open registers its closing with t.Cleanup if needed).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	RunOptions(t, open, Options{})
}

// RunOptions runs the families o lists.
func RunOptions(t *testing.T, open func(t *testing.T) store.Store, o Options) {
	on := map[string]bool{}
	if o.Families == nil {
		for _, f := range Families {
			on[f] = true
		}
	}
	for _, f := range o.Families {
		if !slices.Contains(Families, f) {
			t.Fatalf("storetest: unknown family %q (the families are %v)", f, Families)
		}
		on[f] = true
	}
	var off []string
	for _, f := range Families {
		if !on[f] {
			off = append(off, f)
		}
	}
	if len(off) > 0 {
		t.Logf("storetest: families not run (not listed in Options.Families): %s", strings.Join(off, ", "))
	}
	s := &suite{open: open, on: on}
	t.Run("Analyses", s.analyses)
	t.Run("Filters", s.filters)
	t.Run("GroupBy", s.groupBy)
	t.Run("Buckets", s.buckets)
	t.Run("Extraction", s.extraction)
	t.Run("Insert", s.insert)
	t.Run("Schema", s.schema)
	t.Run("Delete", s.delete)
	t.Run("Random", s.random)
}

type suite struct {
	open func(t *testing.T) store.Store
	on   map[string]bool
}

// has tells whether every family named is run.
func (s *suite) has(families ...string) bool {
	for _, f := range families {
		if !s.on[f] {
			return false
		}
	}
	return true
}

// mustInsert inserts events and fails unless the counters are as given.
func mustInsert(t *testing.T, st store.Store, evs []store.Event, inserted, existing, duplicates int) store.InsertResult {
	t.Helper()
	res, err := st.Insert(context.Background(), evs)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if res.Count(store.Stored) != inserted || res.Count(store.Existing) != existing || res.Count(store.Duplicate) != duplicates || res.Count(store.Refused) != 0 {
		t.Fatalf("Insert: inserted %d, existing %d, duplicates %d, refused %d; want %d, %d, %d, none",
			res.Count(store.Stored), res.Count(store.Existing), res.Count(store.Duplicate), res.Count(store.Refused), inserted, existing, duplicates)
	}
	return res
}

func mustRun(t *testing.T, st store.Store, q store.Query) store.Result {
	t.Helper()
	res, err := st.Run(context.Background(), q)
	if err != nil {
		t.Fatalf("Run(%s): %v", describe(q), err)
	}
	return res
}

// describe renders a query for a failure message: its fields as JSON,
// zero ones left out.
func describe(q store.Query) string {
	type shown struct {
		ProjectID, Collection string
		Analysis              store.Analysis
		Target                []string       `json:",omitempty"`
		Percentile            float64        `json:",omitempty"`
		Start, End            *time.Time     `json:",omitempty"`
		Filters               []store.Filter `json:",omitempty"`
		GroupBy               [][]string     `json:",omitempty"`
		Buckets               []time.Time    `json:",omitempty"`
		Latest, MaxEvents     int            `json:",omitempty"`
		MaxBytes              int64          `json:",omitempty"`
	}
	v := shown{q.ProjectID, q.Collection, q.Analysis, q.Target, q.Percentile, nil, nil, q.Filters, q.GroupBy, q.Buckets, q.Latest, q.MaxEvents, q.MaxBytes}
	if !q.Start.IsZero() {
		v.Start = &q.Start
	}
	if !q.End.IsZero() {
		v.End = &q.End
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", q)
	}
	return string(b)
}

// wantRows fails unless rows are want (any order): same (bucket, group)
// keys, values equal as compareValue says.
func wantRows(t *testing.T, q store.Query, got []store.Row, want []store.Row) {
	t.Helper()
	if msg := diffRows(q, got, want); msg != "" {
		t.Errorf("Run(%s):\n%s", describe(q), msg)
	}
}

// rowKey is a row's (bucket, group) identity.
func rowKey(r store.Row) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Bucket))
	for _, g := range r.Group {
		k := valueKey(g)
		fmt.Fprintf(&b, "|%d:%s", len(k), k)
	}
	return b.String()
}

// showRow renders a row for a failure message.
func showRow(r store.Row) string {
	gs := make([]string, len(r.Group))
	for i, g := range r.Group {
		gs[i] = showValue(g)
	}
	return fmt.Sprintf("bucket %d group [%s] value %s", r.Bucket, strings.Join(gs, ", "), showValue(r.Value))
}

func showValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case json.RawMessage:
		return "json" + string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showValue(e)
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// diffRows says how got differs from want ("" when it does not).
func diffRows(q store.Query, got, want []store.Row) string {
	var msgs []string
	wantBy := map[string]store.Row{}
	for _, r := range want {
		wantBy[rowKey(r)] = r
	}
	seen := map[string]bool{}
	for _, r := range got {
		k := rowKey(r)
		switch {
		case len(r.Group) != len(q.GroupBy):
			msgs = append(msgs, fmt.Sprintf("row %s has %d group values for %d group_by paths", showRow(r), len(r.Group), len(q.GroupBy)))
			continue
		case seen[k]:
			msgs = append(msgs, fmt.Sprintf("row %s appears twice", showRow(r)))
			continue
		case len(q.Buckets) == 0 && r.Bucket != 0 || len(q.Buckets) > 0 && (r.Bucket < 0 || r.Bucket >= len(q.Buckets)-1):
			msgs = append(msgs, fmt.Sprintf("row %s: no such bucket", showRow(r)))
			continue
		}
		seen[k] = true
		w, ok := wantBy[k]
		if !ok {
			msgs = append(msgs, fmt.Sprintf("unexpected row %s", showRow(r)))
			continue
		}
		if why := compareValue(q.Analysis, r.Value, w.Value); why != "" {
			msgs = append(msgs, fmt.Sprintf("row %s: want value %s (%s)", showRow(r), showValue(w.Value), why))
		}
	}
	for _, r := range want {
		if !seen[rowKey(r)] {
			msgs = append(msgs, fmt.Sprintf("missing row %s", showRow(r)))
		}
	}
	if len(msgs) > 20 {
		msgs = append(msgs[:20], fmt.Sprintf("… and %d more differences", len(msgs)-20))
	}
	return strings.Join(msgs, "\n")
}

// Tolerance is the relative difference allowed between two float results.
// Two results both within Tolerance of zero are equal (a sum whose terms
// cancel is exact only up to the rounding of its terms).
const Tolerance = 1e-9

// FloatsClose tells whether two float results are equal within Tolerance.
func FloatsClose(a, b float64) bool {
	if a == b {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	if math.Abs(a) <= Tolerance && math.Abs(b) <= Tolerance {
		return true
	}
	return math.Abs(a-b) <= Tolerance*math.Max(math.Abs(a), math.Abs(b))
}

// compareValue says how a row's value differs from the expected one.
func compareValue(a store.Analysis, got, want any) string {
	switch a {
	case store.Count, store.CountUnique:
		g, ok := got.(int64)
		if !ok {
			return fmt.Sprintf("%s gives an int64, not %T", a, got)
		}
		if w := want.(int64); g != w {
			return "count differs"
		}
	case store.SelectUnique:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("select_unique gives []any, not %T", got)
		}
		gk := map[string]bool{}
		for _, v := range g {
			switch v.(type) {
			case string, float64, bool:
			default:
				return fmt.Sprintf("select_unique values are strings, float64s and bools, not %T", v)
			}
			k := valueKey(v)
			if gk[k] {
				return fmt.Sprintf("value %s listed twice", showValue(v))
			}
			gk[k] = true
		}
		var missing, extra []any
		wk := map[string]bool{}
		for _, v := range want.([]any) {
			wk[valueKey(v)] = true
			if !gk[valueKey(v)] {
				missing = append(missing, v)
			}
		}
		for _, v := range g {
			if !wk[valueKey(v)] {
				extra = append(extra, v)
			}
		}
		if len(missing)+len(extra) > 0 {
			return fmt.Sprintf("missing %s, extra %s", showValue(missing), showValue(extra))
		}
	default:
		if want == nil {
			if got != nil {
				return "nil expected: no number values"
			}
			return ""
		}
		g, ok := got.(float64)
		if !ok {
			return fmt.Sprintf("%s gives a float64 (or nil), not %T", a, got)
		}
		if !FloatsClose(g, want.(float64)) {
			return fmt.Sprintf("differs by more than %g relative", Tolerance)
		}
	}
	return ""
}

// wantEvents fails unless an extraction returned the events want (JSON
// byte for byte, in order).
func wantEvents(t *testing.T, q store.Query, got []json.RawMessage, want []json.RawMessage) {
	t.Helper()
	if msg := diffEvents(got, want, false); msg != "" {
		t.Errorf("Run(%s):\n%s", describe(q), msg)
	}
}

// diffEvents says how got differs from want; semantic compares decoded
// JSON instead of bytes.
func diffEvents(got, want []json.RawMessage, semantic bool) string {
	var msgs []string
	if len(got) != len(want) {
		msgs = append(msgs, fmt.Sprintf("%d events, want %d", len(got), len(want)))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		same := string(got[i]) == string(want[i])
		if semantic && !same {
			same = canonicalJSON(got[i]) == canonicalJSON(want[i])
		}
		if !same {
			msgs = append(msgs, fmt.Sprintf("event %d is %s\n  want %s", i, got[i], want[i]))
			if len(msgs) > 5 {
				break
			}
		}
	}
	return strings.Join(msgs, "\n")
}

// tooLarge returns the *store.TooLargeError in err, or nil.
func tooLarge(err error) *store.TooLargeError {
	var tl *store.TooLargeError
	if errors.As(err, &tl) {
		return tl
	}
	return nil
}

// stamp is keen.timestamp's and keen.created_at's format.
const stamp = "2006-01-02T15:04:05.000Z"

// member is one member of an ordered JSON object.
type member struct {
	k string
	v any
}

// object is a JSON object that keeps its members' order.
type object []member

func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(m.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// event builds a stored event: keen.timestamp ts, keen.created_at
// created (ts when zero), keen.id id, then props (a prop named "keen", an
// object, adds its members to the keen object).
func event(project, collection, id string, ts, created time.Time, props ...member) store.Event {
	if created.IsZero() {
		created = ts
	}
	keen := object{{"timestamp", ts.UTC().Format(stamp)}, {"created_at", created.UTC().Format(stamp)}, {"id", id}}
	doc := object{{"keen", nil}}
	for _, p := range props {
		if p.k == "keen" { // more members of the keen object
			keen = append(keen, p.v.(object)...)
			continue
		}
		doc = append(doc, p)
	}
	doc[0].v = keen
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return store.Event{ProjectID: project, Collection: collection, ID: id, Timestamp: ts.UTC(), CreatedAt: created.UTC(), JSON: b, ValidUTF8: true}
}

// n is a JSON number.
func n(s string) json.Number { return json.Number(s) }

// path splits a dotted property name.
func path(s string) []string { return strings.Split(s, ".") }
