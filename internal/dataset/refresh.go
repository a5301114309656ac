package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Computed is a dataset's results as computed at one time: for each index
// value, the store rows the dataset's query, with an eq filter per
// index_by property, would have found over the dataset's timeframe then.
// A results request is answered by shaping them (query.Shape, as the query
// API does), so the answer is the direct query's.
type Computed struct {
	// Buckets bound the intervals computed.
	Buckets []time.Time
	// Rows are the encoded rows (encodeRows) by IndexKey.
	Rows map[string]json.RawMessage
}

// TooLargeError is a computation whose results would be more than sluice
// keeps: limits.MaxDatasetResultBytes in all, or
// limits.MaxDatasetIndexBytes for one index value (Index set).
type TooLargeError struct {
	Bytes int
	Index string
}

func (e *TooLargeError) Error() string {
	if e.Index != "" {
		return fmt.Sprintf("the results of index value %s would have %d bytes, more than the %d sluice keeps of one index value; they are computed when asked", e.Index, e.Bytes, limits.MaxDatasetIndexBytes)
	}
	return fmt.Sprintf("the dataset's results would have more than %d bytes (%d so far), more than sluice keeps of one dataset; they are computed when asked", limits.MaxDatasetResultBytes, e.Bytes)
}

// Compute computes dataset d's results at now with one store query per
// analysis: the dataset's, grouped by its index_by properties before its
// own group_by. Each row goes to the index value its first group values
// name, the rest of its group values being the dataset's own groups. An
// event whose index_by property is missing, null, an object or an array
// of other than strings is in no index value's results (no request's eq
// filter matches it); one whose index_by property is an array of strings
// fails the computation (keepable).
func Compute(ctx context.Context, st store.Store, d registry.Dataset, now time.Time) (*Computed, error) {
	params, analysis, own, err := parse(d, now)
	if err != nil {
		return nil, err
	}
	if len(own.Store.Buckets) < 2 {
		return nil, refuse(`the dataset's query has no interval: its results are intervals`)
	}
	gp := maps.Clone(params)
	gp["group_by"], _ = json.Marshal(append(slices.Clone(d.IndexBy), own.GroupBy...))
	grouped, err := query.Parse(analysis, d.ProjectID, gp, nil, now)
	if err != nil {
		return nil, err
	}
	sqs := storeQueries(grouped)
	k := len(d.IndexBy)
	byIndex := map[string][][]store.Row{}
	for i, sq := range sqs {
		res, err := st.Run(ctx, sq)
		if err != nil {
			return nil, fmt.Errorf("computing dataset %s: %w", d.Name, err)
		}
		for _, row := range res.Rows {
			if err := keepable(d.IndexBy, row.Group[:k]); err != nil {
				return nil, err
			}
			key, ok := IndexKey(row.Group[:k])
			if !ok {
				continue
			}
			rows := byIndex[key]
			if rows == nil {
				rows = make([][]store.Row, len(sqs))
				byIndex[key] = rows
			}
			rows[i] = append(rows[i], store.Row{Bucket: row.Bucket, Group: row.Group[k:], Value: row.Value})
		}
	}
	c := &Computed{Buckets: own.Store.Buckets, Rows: make(map[string]json.RawMessage, len(byIndex))}
	total := 0
	for key, rows := range byIndex {
		b, err := encodeRows(rows, own.Store.Buckets)
		if err != nil {
			return nil, fmt.Errorf("encoding the results of dataset %s: %w", d.Name, err)
		}
		if len(b) > limits.MaxDatasetIndexBytes {
			return nil, &TooLargeError{Bytes: len(b), Index: key}
		}
		if total += len(b); total > limits.MaxDatasetResultBytes {
			return nil, &TooLargeError{Bytes: total}
		}
		c.Rows[key] = b
	}
	return c, nil
}

// keepable refuses index values whose results cannot be kept per value:
// an array of strings, which a request's eq filter on any of its strings
// matches (store.Filter), so that its events belong to several index
// values. Other values that name no index value (null, objects, other
// arrays) match no request's eq filter either, and are left out.
func keepable(props []string, vals []any) error {
	for i, v := range vals {
		if _, ok := v.([]string); ok {
			return refuse("the index_by property %q holds arrays of strings in some events; an eq filter matches an array holding its value, so such a dataset's results cannot be kept per value: they are computed when asked", props[i])
		}
	}
	return nil
}

// storeQueries are the store queries of a query with an interval: one, or
// one per analysis of a multi_analysis (as query.Run runs them).
func storeQueries(q *query.Query) []store.Query {
	if q.Analysis != query.MultiAnalysis {
		return []store.Query{q.Store}
	}
	var sqs []store.Query
	for _, l := range q.Analyses {
		sq := q.Store
		sq.Analysis, sq.Target, sq.Percentile = l.Analysis, l.Target, l.Percentile
		sqs = append(sqs, sq)
	}
	return sqs
}

// Due reports whether a dataset's results should be computed at now: at
// once when its current definition has not been computed (last nil), else
// every after its last computation.
func Due(last *registry.DatasetRun, every time.Duration, now time.Time) bool {
	return last == nil || !now.Before(last.RunAt.Add(every))
}

// Registry is what the refresher needs from the registry.
type Registry interface {
	Read(fn func(v *registry.View))
	PutDatasetRun(ctx context.Context, run registry.DatasetRun) error
	KeepDatasetResults(ctx context.Context, pid, name string, put []registry.DatasetResult, drop []string) error
}

// Refresher keeps every dataset's results: it is a task of the leader of
// the cached-query schedule (package saved), so that exactly one process
// computes them.
type Refresher struct {
	Registry Registry
	Store    store.Store
	// Every is how long kept results stand (0: limits.DatasetRefresh).
	Every  time.Duration
	Logger *slog.Logger
}

// RefreshDue computes the datasets that are due and keeps their results,
// as member holder, reading the time from now. ctx ends when leadership
// is lost: a computation under way then is not recorded.
func (r *Refresher) RefreshDue(ctx context.Context, holder string, now func() time.Time) {
	every := r.Every
	if every == 0 {
		every = limits.DatasetRefresh
	}
	var due []registry.Dataset
	at := now()
	r.Registry.Read(func(v *registry.View) {
		for _, d := range v.AllDatasets() {
			var last *registry.DatasetRun
			if run, ok := v.DatasetRun(d.ProjectID, d.Name); ok {
				last = &run
			}
			if Due(last, every, at) {
				due = append(due, d)
			}
		}
	})
	for _, d := range due {
		if ctx.Err() != nil {
			return
		}
		r.refresh(ctx, d, holder, now())
	}
}

func (r *Refresher) refresh(ctx context.Context, d registry.Dataset, holder string, runAt time.Time) {
	c, err := Compute(ctx, r.Store, d, runAt)
	if ctx.Err() != nil {
		return // leadership lost mid-run: the next leader computes it
	}
	run := registry.DatasetRun{ProjectID: d.ProjectID, Name: d.Name, Version: d.Version, RunAt: runAt, Holder: holder, Status: http.StatusOK}
	var qe *query.Error
	var tooLarge *TooLargeError
	switch {
	case errors.As(err, &qe):
		run.Status, run.Message = http.StatusBadRequest, qe.Name+": "+qe.Message
	case errors.As(err, &tooLarge):
		run.Status, run.Message = http.StatusRequestEntityTooLarge, tooLarge.Error()
	case err != nil:
		run.Status, run.Message = http.StatusInternalServerError, "the query could not be run: "+err.Error()
	default:
		run.Buckets, run.Indexes = c.Buckets, len(c.Rows)
	}
	if !r.current(d) {
		return // replaced or deleted while it ran: its results would serve nothing
	}
	if run.Status == http.StatusOK {
		if err := r.keep(ctx, d, c); err != nil {
			if ctx.Err() == nil {
				r.Logger.Warn("dataset refresh: storing results", "project", d.ProjectID, "dataset", d.Name, "err", err)
			}
			return
		}
	} else {
		r.Logger.Warn("dataset refresh failed", "project", d.ProjectID, "dataset", d.Name, "status", run.Status, "message", run.Message)
	}
	// The run is written last: once it is, every index value's results
	// are of it.
	if err := r.Registry.PutDatasetRun(ctx, run); err != nil && ctx.Err() == nil {
		r.Logger.Warn("dataset refresh: storing the run", "project", d.ProjectID, "dataset", d.Name, "err", err)
	}
}

// keep writes the results that changed and removes those of index values
// that have none any more.
func (r *Refresher) keep(ctx context.Context, d registry.Dataset, c *Computed) error {
	var old map[string]registry.DatasetResult
	r.Registry.Read(func(v *registry.View) { old = v.DatasetResults(d.ProjectID, d.Name) })
	var put []registry.DatasetResult
	var drop []string
	for _, key := range slices.Sorted(maps.Keys(c.Rows)) {
		rows := c.Rows[key]
		if o, ok := old[key]; ok && o.Version == d.Version && bytes.Equal(o.Rows, rows) {
			continue
		}
		put = append(put, registry.DatasetResult{ProjectID: d.ProjectID, Name: d.Name, Version: d.Version, Index: key, Rows: rows})
	}
	for _, key := range slices.Sorted(maps.Keys(old)) {
		if _, ok := c.Rows[key]; !ok {
			drop = append(drop, key)
		}
	}
	return r.Registry.KeepDatasetResults(ctx, d.ProjectID, d.Name, put, drop)
}

// current reports whether d is still the definition in the view.
func (r *Refresher) current(d registry.Dataset) bool {
	var now registry.Dataset
	var ok bool
	r.Registry.Read(func(v *registry.View) { now, ok = v.Dataset(d.ProjectID, d.Name) })
	return ok && now.Version == d.Version
}
