package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
)

// Cached datasets (Keen's /datasets): the master key writes and deletes
// definitions; the master key, the read key and access keys permitting
// datasets read them and their results, within the key's datasets options
// (operations, allowed datasets with pinned index values, blocked ones).
// Package dataset holds the rules; results are answered from what the
// schedule's leader kept, or computed when asked when nothing usable is
// kept.

func (a *API) datasetRoutes() {
	m := a.mux
	m.HandleFunc("GET /3.0/projects/{pid}/datasets", a.listDatasets)
	m.HandleFunc("GET /3.0/projects/{pid}/datasets/{name}", a.getDataset)
	m.HandleFunc("PUT /3.0/projects/{pid}/datasets/{name}", a.master(a.putDataset))
	m.HandleFunc("DELETE /3.0/projects/{pid}/datasets/{name}", a.master(a.deleteNamed("a dataset", Registry.DeleteDataset, datasetNotFound)))
	m.HandleFunc("GET /3.0/projects/{pid}/datasets/{name}/results", a.datasetResults)
}

// datasetAccess is what a credential may do with datasets: everything,
// but for an access key's datasets options and query filters.
type datasetAccess struct {
	rules registry.DatasetRules
	// filters are the key's query filters, ANDed into results it gets.
	filters []registry.Filter
}

// does reports whether the key may do operation op on some dataset.
func (acc datasetAccess) does(op string) bool {
	return acc.rules.Operations == nil || slices.Contains(acc.rules.Operations, op)
}

// datasetReader authenticates operation op on datasets.
func (a *API) datasetReader(w http.ResponseWriter, r *http.Request, op string) (registry.Project, datasetAccess, bool) {
	var acc datasetAccess
	p, cred, ok := a.authenticate(w, r)
	if !ok {
		return p, acc, false
	}
	if cred.Kind == registry.KindAccess {
		acc.rules = cred.AccessKey.Options.DatasetRules()
		if q := cred.AccessKey.Options.Queries; q != nil {
			acc.filters = q.Filters
		}
	}
	if !cred.Permits(registry.PermDatasets) || !acc.does(op) {
		refuseDatasetKey(w, op)
		return p, acc, false
	}
	return p, acc, true
}

func refuseDatasetKey(w http.ResponseWriter, op string) {
	writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "This key may not "+op+" this dataset: use the master key, the read key, or an access key permitting datasets whose options allow the operation, the dataset and the index value.")
}

func datasetNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "ResourceNotFoundError", "There is no dataset named "+strconv.Quote(name)+" in this project.")
}

type datasetList struct {
	Datasets    []dataset.Document `json:"datasets"`
	NextPageURL *string            `json:"next_page_url"`
}

// runOf is a dataset's last computation in v (nil: none of its current
// definition).
func runOf(v *registry.View, d registry.Dataset) *registry.DatasetRun {
	if run, ok := v.DatasetRun(d.ProjectID, d.Name); ok {
		return &run
	}
	return nil
}

// listDatasets answers Keen's page of the datasets the key may list: by
// name, after after_name, at most limit (all when absent).
func (a *API) listDatasets(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.datasetReader(w, r, registry.DatasetList)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 0
	for name := range q {
		switch name {
		case "api_key", "after_name":
		case "limit":
			n, err := strconv.Atoi(q.Get("limit"))
			if err != nil || n <= 0 {
				writeError(w, http.StatusBadRequest, saved.ErrInvalidRequest, `"limit" must be a positive integer.`)
				return
			}
			limit = n
		default:
			writeError(w, http.StatusBadRequest, saved.ErrInvalidRequest, "The URL parameter "+strconv.Quote(name)+" is not one of the dataset list's: limit, after_name.")
			return
		}
	}
	after := q.Get("after_name")
	out := datasetList{Datasets: []dataset.Document{}}
	now := a.now()
	a.cfg.Registry.Read(func(v *registry.View) {
		for _, d := range v.Datasets(p.ID) {
			if d.Name <= after || !acc.rules.Permits(registry.DatasetList, d.Name) {
				continue
			}
			if limit > 0 && len(out.Datasets) == limit {
				next := "/3.0/projects/" + p.ID + "/datasets?" + url.Values{"limit": {strconv.Itoa(limit)}, "after_name": {out.Datasets[limit-1].DatasetName}}.Encode()
				out.NextPageURL = &next
				return
			}
			out.Datasets = append(out.Datasets, dataset.NewDocument(p, d, runOf(v, d), now))
		}
	})
	writeJSON(w, http.StatusOK, out)
}

// lookupDataset finds the named dataset, on which the key may do op, with
// its last computation, answering the refusal itself when there is none.
func (a *API) lookupDataset(w http.ResponseWriter, r *http.Request, p registry.Project, acc datasetAccess, op string) (registry.Dataset, *registry.DatasetRun, bool) {
	name := r.PathValue("name")
	var d registry.Dataset
	var run *registry.DatasetRun
	var found bool
	a.cfg.Registry.Read(func(v *registry.View) {
		if d, found = v.Dataset(p.ID, name); found {
			run = runOf(v, d)
		}
	})
	switch {
	case !found:
		datasetNotFound(w, name)
	case !acc.rules.Permits(op, name):
		refuseDatasetKey(w, op)
	default:
		return d, run, true
	}
	return d, nil, false
}

func (a *API) getDataset(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.datasetReader(w, r, registry.DatasetRead)
	if !ok || !noParams(w, r) {
		return
	}
	if d, run, ok := a.lookupDataset(w, r, p, acc, registry.DatasetRead); ok {
		writeJSON(w, http.StatusOK, dataset.NewDocument(p, d, run, a.now()))
	}
}

func (a *API) putDataset(w http.ResponseWriter, r *http.Request, p registry.Project) {
	if !noParams(w, r) {
		return
	}
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	now := a.now().UTC()
	name := r.PathValue("name")
	def, err := dataset.ParseDefinition(p.ID, name, b, now)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	var old registry.Dataset
	var exists bool
	var count int
	a.cfg.Registry.Read(func(v *registry.View) {
		old, exists = v.Dataset(p.ID, name)
		count = len(v.Datasets(p.ID))
	})
	if !exists && count >= dataset.MaxDatasets {
		writeError(w, http.StatusBadRequest, dataset.ErrOverLimit, "A project holds at most "+strconv.Itoa(dataset.MaxDatasets)+" datasets; delete one first.")
		return
	}
	d := registry.Dataset{ProjectID: p.ID, Name: name, DisplayName: def.DisplayName, Query: def.Query, IndexBy: def.IndexBy, Created: now, Modified: now}
	if exists {
		d.Created = old.Created
	}
	if err := a.cfg.Registry.PutDataset(r.Context(), d); err != nil {
		a.internalError(w, r, "storing a dataset", err)
		return
	}
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	writeJSON(w, status, dataset.NewDocument(p, d, nil, now))
}

// datasetResults answers a dataset's results for one index value over a
// timeframe: from its kept results (their age in the Age header), unless
// it has none usable (not computed since its definition changed, its last
// computation failed, or the timeframe's intervals are not ones it
// computed) or the key carries query filters (the kept results are
// unfiltered); then they are computed now, as the query API computes.
func (a *API) datasetResults(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.datasetReader(w, r, registry.DatasetRetrieve)
	if !ok {
		return
	}
	d, run, ok := a.lookupDataset(w, r, p, acc, registry.DatasetRetrieve)
	if !ok {
		return
	}
	now := a.now()
	req, err := dataset.ParseRequest(d, r.URL.Query(), now)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if !req.Within(acc.rules.Pinned(d.Name)) {
		refuseDatasetKey(w, registry.DatasetRetrieve)
		return
	}
	if run != nil && run.Status == http.StatusOK && len(acc.filters) == 0 {
		var res *registry.DatasetResult
		a.cfg.Registry.Read(func(v *registry.View) {
			if kept, ok := v.DatasetResult(p.ID, d.Name, req.Key); ok {
				res = &kept
			}
		})
		body, kept, err := req.Answer(*run, res)
		var qe *query.Error
		switch {
		case errors.As(err, &qe):
			writeError(w, http.StatusBadRequest, qe.Name, qe.Message)
			return
		case err != nil:
			a.internalError(w, r, "answering dataset results", err)
			return
		case kept:
			writeKept(w, body, run.RunAt, now)
			return
		}
	}
	q, err := req.Query(acc.filters)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	var ans *query.Answer
	if a.computeNow(w, r, p.ID, "computing dataset results", func(ctx context.Context) (err error) {
		ans, err = query.Run(ctx, a.cfg.Store, q)
		return err
	}) {
		writeJSON(w, http.StatusOK, ans.Body)
	}
}
