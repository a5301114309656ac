// Package dataset is Keen's cached datasets: the rules of a definition (a
// query with an interval and a relative timeframe, indexed by the values
// of index_by properties), Keen's definition document, the computation
// that keeps a dataset's results — every interval of its timeframe for
// every index value, from one store query grouped by the index_by
// properties (refresh.go) — and the answer of a results request from
// what was kept, or the query that computes it directly when nothing
// usable is kept.
package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/store"
)

// MaxDatasets bounds a project's datasets (internal/limits); ErrOverLimit
// is the refusal's name (sluice's own).
const (
	MaxDatasets  = limits.MaxDatasetsPerProject
	ErrOverLimit = "OverDatasetLimitError"
)

func refuse(format string, args ...any) error {
	return &query.Error{Name: saved.ErrInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// Definition is what a client sets of a dataset (PUT body).
type Definition struct {
	DisplayName string
	Query       json.RawMessage
	IndexBy     []string
}

// readOnly are the document's fields Keen sets.
var readOnly = []string{"project_id", "organization_id", "last_scheduled_date", "latest_subtimeframe_available", "milliseconds_behind"}

// analyses a dataset may not hold: they have no interval.
var noInterval = []string{query.Extraction, query.Funnel}

// ParseDefinition reads and validates a PUT body for dataset name of
// project pid at now.
func ParseDefinition(pid, name string, body []byte, now time.Time) (Definition, error) {
	var d Definition
	if err := saved.ValidName(name); err != nil {
		return d, refuse("%s", strings.Replace(err.Error(), "saved query", "dataset", 1))
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || dec.More() || fields == nil {
		return d, refuse(`the request body must be one JSON object: {"display_name": …, "query": {…}, "index_by": …}`)
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := fields[n]
		switch n {
		case "display_name":
			if err := json.Unmarshal(v, &d.DisplayName); err != nil {
				return d, refuse(`"display_name" must be a string`)
			}
		case "query":
			d.Query = v
		case "index_by":
			var one string
			if err := json.Unmarshal(v, &one); err == nil {
				d.IndexBy = []string{one}
			} else if err := json.Unmarshal(v, &d.IndexBy); err != nil {
				return d, refuse(`"index_by" must be a property name or an array of them`)
			}
		case "dataset_name":
			var same string
			if err := json.Unmarshal(v, &same); err != nil || same != name {
				return d, refuse(`"dataset_name" must be the path's name, %q (a dataset cannot be renamed)`, name)
			}
		default:
			if slices.Contains(readOnly, n) {
				return d, refuse("%q is set by sluice, not by the client; leave it out of the body", n)
			}
			return d, refuse("%q is not a field of a dataset; the fields are display_name, query and index_by", n)
		}
	}
	if strings.TrimSpace(d.DisplayName) == "" {
		return d, refuse(`"display_name" is required`)
	}
	if len(d.IndexBy) == 0 {
		return d, refuse(`"index_by" is required: the property (or properties) whose values results are asked for`)
	}
	for _, p := range d.IndexBy {
		if strings.TrimSpace(p) == "" {
			return d, refuse(`"index_by" holds an empty property name`)
		}
	}
	if isNull(d.Query) {
		return d, refuse(`"query" is required: the query's parameters, analysis_type, timeframe and interval included`)
	}
	q, err := stripProjectID(pid, d.Query)
	if err != nil {
		return d, err
	}
	d.Query = q
	params, err := query.FromJSON(q)
	if err != nil {
		return d, err
	}
	var analysis string
	_ = json.Unmarshal(params["analysis_type"], &analysis)
	if slices.Contains(noInterval, analysis) {
		return d, refuse("a dataset cannot hold a %s: it needs an interval", analysis)
	}
	if isNull(params["interval"]) {
		return d, refuse(`"query.interval" is required: a dataset's results are intervals`)
	}
	var tf string
	if err := json.Unmarshal(params["timeframe"], &tf); err != nil || tf == "" {
		return d, refuse(`"query.timeframe" is required and must be relative, such as "this_500_days": a dataset follows time`)
	}
	if _, err := saved.Parse(pid, d.Query, nil, now); err != nil {
		return d, err
	}
	return d, nil
}

// stripProjectID removes the "project_id" Keen echoes inside a dataset's
// query (a client may send back what it read); another project's is
// refused.
func stripProjectID(pid string, q json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(q, &m); err != nil || m == nil {
		return nil, refuse(`"query" must be a JSON object of query parameters`)
	}
	v, ok := m["project_id"]
	if !ok {
		return q, nil
	}
	var got string
	if err := json.Unmarshal(v, &got); err != nil || got != pid {
		return nil, refuse(`"query.project_id" must be this project's id, or left out`)
	}
	delete(m, "project_id")
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding a dataset's query: %w", err)
	}
	return b, nil
}

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}

// Keen's statuses of a dataset: created and not computed yet, computed
// (its results are served from what was kept), or (sluice's) its last
// computation failed, so that results are computed when asked.
const (
	StatusCreated = "Created"
	StatusOK      = "OK"
	StatusFailed  = "Failed"
)

// Document is Keen's dataset document, with the status of its results.
type Document struct {
	ProjectID                   string          `json:"project_id"`
	OrganizationID              string          `json:"organization_id"`
	DatasetName                 string          `json:"dataset_name"`
	DisplayName                 string          `json:"display_name"`
	Query                       json.RawMessage `json:"query"`
	IndexBy                     []string        `json:"index_by"`
	LastScheduledDate           string          `json:"last_scheduled_date"`
	LatestSubtimeframeAvailable string          `json:"latest_subtimeframe_available"`
	MillisecondsBehind          int64           `json:"milliseconds_behind"`
	Status                      string          `json:"status"`
	// Message is why the last computation failed (sluice's; absent
	// otherwise).
	Message string `json:"message,omitempty"`
}

const dateLayout = "2006-01-02T15:04:05.000Z"

// epoch is what Keen's dates read before a dataset's first computation.
var epoch = time.Unix(0, 0).UTC()

// NewDocument renders a dataset of project p at now with its last
// computation (nil: none yet). last_scheduled_date is when it ran,
// latest_subtimeframe_available the end of the timeframe it computed, and
// milliseconds_behind how long ago it ran: events since are not in its
// results. Before the first computation both dates are the epoch, as Keen
// shows them, and milliseconds_behind counts from the definition's write.
func NewDocument(p registry.Project, d registry.Dataset, run *registry.DatasetRun, now time.Time) Document {
	q := d.Query
	var m map[string]json.RawMessage
	if json.Unmarshal(d.Query, &m) == nil {
		m["project_id"], _ = json.Marshal(p.ID)
		if b, err := json.Marshal(m); err == nil {
			q = b
		}
	}
	doc := Document{
		ProjectID: p.ID, OrganizationID: p.OrgID, DatasetName: d.Name, DisplayName: d.DisplayName, Query: q, IndexBy: d.IndexBy,
		LastScheduledDate: epoch.Format(dateLayout), LatestSubtimeframeAvailable: epoch.Format(dateLayout),
		MillisecondsBehind: max(now.Sub(d.Modified).Milliseconds(), 0), Status: StatusCreated,
	}
	if run == nil {
		return doc
	}
	doc.LastScheduledDate = run.RunAt.UTC().Format(dateLayout)
	doc.MillisecondsBehind = max(now.Sub(run.RunAt).Milliseconds(), 0)
	if run.Status != 200 {
		doc.Status, doc.Message = StatusFailed, run.Message
		return doc
	}
	doc.Status = StatusOK
	if n := len(run.Buckets); n > 0 {
		doc.LatestSubtimeframeAvailable = run.Buckets[n-1].UTC().Format(dateLayout)
	}
	return doc
}

// Request is a results request, read: the index value asked for and the
// timeframe asked, cut to the dataset's own at the time of the request.
type Request struct {
	dataset registry.Dataset
	now     time.Time
	// Index is the index value: an eq filter per index_by property, in
	// their order; Key names it among kept results.
	Index      []registry.Filter
	Key        string
	Start, End time.Time
}

// ParseRequest reads a results request of dataset d at now. values are
// the URL's parameters: index_by and timeframe (both required; api_key
// aside, no other).
func ParseRequest(d registry.Dataset, values url.Values, now time.Time) (*Request, error) {
	for name, vs := range values {
		switch {
		case name == "api_key":
		case name != "index_by" && name != "timeframe":
			return nil, refuse("%q is not a parameter of dataset results; they take index_by and timeframe", name)
		case len(vs) != 1:
			return nil, refuse("%q is given %d times; give it once", name, len(vs))
		}
	}
	if values.Get("index_by") == "" {
		return nil, refuse(`"index_by" is required: the value of %s to get results for`, strings.Join(d.IndexBy, ", "))
	}
	if values.Get("timeframe") == "" {
		return nil, refuse(`"timeframe" is required`)
	}
	index, err := indexFilters(d.IndexBy, values.Get("index_by"))
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(index))
	for i, f := range index {
		vals[i] = f.PropertyValue
	}
	key, ok := IndexKey(vals)
	if !ok {
		return nil, refuse(`"index_by" values must be strings, numbers or booleans`)
	}
	params, analysis, own, err := parse(d, now)
	if err != nil {
		return nil, err
	}
	fromURL, err := query.FromURL(url.Values{"timeframe": {values.Get("timeframe")}})
	if err != nil {
		return nil, err
	}
	params["timeframe"] = fromURL["timeframe"]
	asked, err := query.Parse(analysis, d.ProjectID, params, nil, now)
	if err != nil {
		return nil, err
	}
	start, end := asked.Store.Start, asked.Store.End
	if start.Before(own.Store.Start) {
		start = own.Store.Start
	}
	if end.After(own.Store.End) {
		end = own.Store.End
	}
	if !start.Before(end) {
		return nil, refuse("the timeframe asked for (%s to %s) is outside the dataset's (%s to %s)",
			asked.Store.Start.UTC().Format(dateLayout), asked.Store.End.UTC().Format(dateLayout),
			own.Store.Start.UTC().Format(dateLayout), own.Store.End.UTC().Format(dateLayout))
	}
	return &Request{dataset: d, now: now, Index: index, Key: key, Start: start, End: end}, nil
}

// parameters are a dataset's query parameters and its analysis.
func parameters(d registry.Dataset) (query.Params, string, error) {
	params, err := query.FromJSON(d.Query)
	if err != nil {
		return nil, "", err
	}
	var analysis string
	_ = json.Unmarshal(params["analysis_type"], &analysis)
	return params, analysis, nil
}

// parse is parameters, and the dataset's query they make at now.
func parse(d registry.Dataset, now time.Time) (query.Params, string, *query.Query, error) {
	params, analysis, err := parameters(d)
	if err != nil {
		return nil, "", nil, err
	}
	q, err := query.Parse(analysis, d.ProjectID, params, nil, now)
	return params, analysis, q, err
}

// Query is the query that computes the request's results directly: the
// dataset's, over the request's timeframe, with an eq filter per index_by
// property and keyFilters (an access key's) ANDed in.
func (r *Request) Query(keyFilters []registry.Filter) (*query.Query, error) {
	params, analysis, err := parameters(r.dataset)
	if err != nil {
		return nil, err
	}
	params["timeframe"], _ = json.Marshal(map[string]string{"start": r.Start.UTC().Format(dateLayout), "end": r.End.UTC().Format(dateLayout)})
	var fs []json.RawMessage
	if !isNull(params["filters"]) {
		if err := json.Unmarshal(params["filters"], &fs); err != nil {
			return nil, refuse(`the dataset's "filters" are not an array`)
		}
	}
	for _, f := range r.Index {
		b, _ := json.Marshal(f)
		fs = append(fs, b)
	}
	params["filters"], _ = json.Marshal(fs)
	return query.Parse(analysis, r.dataset.ProjectID, params, keyFilters, r.now)
}

// Answer is the request's answer from a dataset's kept results: run is
// its last successful computation and res the index value's rows (nil
// when the index value had no events then). They are shaped as the query
// API shapes the direct query's rows (query.Shape), so the answer is the
// direct query's as of the run. ok is false when an interval of the
// request is not one the run computed (a timeframe not aligned on the
// dataset's intervals, or reaching past the run): then nothing kept
// answers it.
func (r *Request) Answer(run registry.DatasetRun, res *registry.DatasetResult) (body json.RawMessage, ok bool, err error) {
	q, err := r.Query(nil)
	if err != nil {
		return nil, false, err
	}
	// Every interval asked must be one the run computed: the start of the
	// run's bucket i → its end.
	ends := make(map[int64]time.Time, len(run.Buckets))
	for i := 0; i+1 < len(run.Buckets); i++ {
		ends[run.Buckets[i].UnixNano()] = run.Buckets[i+1]
	}
	at := map[int64]int{} // a bucket's start → its index in the request's
	for j := 0; j+1 < len(q.Store.Buckets); j++ {
		start := q.Store.Buckets[j].UnixNano()
		if end, found := ends[start]; !found || !end.Equal(q.Store.Buckets[j+1]) {
			return nil, false, nil
		}
		at[start] = j
	}
	rows := make([][]store.Row, len(storeQueries(q)))
	if res != nil {
		kept, err := decodeRows(res.Rows, func(start int64) (int, bool) { j, ok := at[start]; return j, ok })
		if err != nil {
			return nil, false, fmt.Errorf("reading the kept results of dataset %s: %w", r.dataset.Name, err)
		}
		copy(rows, kept)
	}
	result, err := query.Shape(q, rows)
	if err != nil {
		return nil, false, err
	}
	body, err = json.Marshal(map[string]any{"result": result})
	if err != nil {
		return nil, false, fmt.Errorf("encoding dataset results: %w", err)
	}
	return body, true, nil
}

// IndexKey names an index value among a dataset's kept results: the JSON
// array of its values, one per index_by property, numbers as float64 (as
// the store compares them). A value that is not a string, number or
// boolean names none (ok false): no results request can ask for it.
func IndexKey(vals []any) (key string, ok bool) {
	norm := make([]any, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case string, bool, float64:
			norm[i] = x
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return "", false
			}
			norm[i] = f
		default:
			return "", false
		}
	}
	b, err := json.Marshal(norm)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// indexFilters turns an index_by value into eq filters. With one index_by
// property the value is JSON when it reads as a JSON string, number or
// boolean, else the text itself; with several it is a JSON object naming
// each.
func indexFilters(props []string, text string) ([]registry.Filter, error) {
	if len(props) == 1 {
		var v any = text
		var j any
		if err := decode(text, &j); err == nil {
			switch j.(type) {
			case string, json.Number, bool:
				v = j
			}
		}
		return []registry.Filter{{PropertyName: props[0], Operator: "eq", PropertyValue: v}}, nil
	}
	var m map[string]any
	if err := decode(text, &m); err != nil || m == nil {
		return nil, refuse(`"index_by" must be a JSON object with a value for each of %s`, strings.Join(props, ", "))
	}
	var fs []registry.Filter
	for _, p := range props {
		v, ok := m[p]
		if !ok {
			return nil, refuse(`"index_by" has no value for %q`, p)
		}
		fs = append(fs, registry.Filter{PropertyName: p, Operator: "eq", PropertyValue: v})
	}
	if len(m) != len(props) {
		return nil, refuse(`"index_by" names a property the dataset is not indexed by; it is indexed by %s`, strings.Join(props, ", "))
	}
	return fs, nil
}

// decode reads one JSON value, numbers as json.Number (an id past 2^53
// keeps its digits).
func decode(text string, v any) error {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// Within reports whether the request's index value is one an access key
// may retrieve: pins are the key's (index_by property → the values it may
// ask for; nil pins nothing). A pinned property the dataset is not indexed
// by cannot be honoured, so it permits nothing.
func (r *Request) Within(pins map[string][]any) bool {
	for prop, vals := range pins {
		i := slices.Index(r.dataset.IndexBy, prop)
		if i < 0 {
			return false
		}
		asked, _ := IndexKey([]any{r.Index[i].PropertyValue})
		if !slices.ContainsFunc(vals, func(v any) bool { k, ok := IndexKey([]any{v}); return ok && k == asked }) {
			return false
		}
	}
	return true
}
