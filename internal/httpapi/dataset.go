package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
)

// Cached datasets (Keen's /datasets): the master key writes and deletes
// definitions; the master key, the read key and access keys permitting
// datasets read them and their results. Package dataset holds the rules;
// results are computed when asked, by package query.

func (a *API) datasetRoutes() {
	m := a.mux
	m.HandleFunc("GET /3.0/projects/{pid}/datasets", a.listDatasets)
	m.HandleFunc("GET /3.0/projects/{pid}/datasets/{name}", a.getDataset)
	m.HandleFunc("PUT /3.0/projects/{pid}/datasets/{name}", a.master(a.putDataset))
	m.HandleFunc("DELETE /3.0/projects/{pid}/datasets/{name}", a.master(a.deleteDataset))
	m.HandleFunc("GET /3.0/projects/{pid}/datasets/{name}/results", a.datasetResults)
}

// datasetReader authenticates a read of datasets.
func (a *API) datasetReader(w http.ResponseWriter, r *http.Request) (registry.Project, registry.Credential, bool) {
	p, cred, ok := a.authenticate(w, r)
	if !ok {
		return p, cred, false
	}
	if !cred.Permits(registry.PermDatasets) {
		writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "This key may not read datasets: use the master key, the read key or an access key permitting datasets.")
		return p, cred, false
	}
	return p, cred, true
}

func datasetNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "ResourceNotFoundError", "There is no dataset named "+strconv.Quote(name)+" in this project.")
}

type datasetList struct {
	Datasets    []dataset.Document `json:"datasets"`
	NextPageURL *string            `json:"next_page_url"`
}

// listDatasets answers Keen's page of datasets: by name, after after_name,
// at most limit (all when absent).
func (a *API) listDatasets(w http.ResponseWriter, r *http.Request) {
	p, _, ok := a.datasetReader(w, r)
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
			if d.Name <= after {
				continue
			}
			if limit > 0 && len(out.Datasets) == limit {
				next := "/3.0/projects/" + p.ID + "/datasets?" + url.Values{"limit": {strconv.Itoa(limit)}, "after_name": {out.Datasets[limit-1].DatasetName}}.Encode()
				out.NextPageURL = &next
				return
			}
			out.Datasets = append(out.Datasets, dataset.NewDocument(p, d, now))
		}
	})
	writeJSON(w, http.StatusOK, out)
}

func (a *API) lookupDataset(w http.ResponseWriter, r *http.Request, p registry.Project) (registry.Dataset, bool) {
	name := r.PathValue("name")
	var d registry.Dataset
	var ok bool
	a.cfg.Registry.Read(func(v *registry.View) { d, ok = v.Dataset(p.ID, name) })
	if !ok {
		datasetNotFound(w, name)
	}
	return d, ok
}

func (a *API) getDataset(w http.ResponseWriter, r *http.Request) {
	p, _, ok := a.datasetReader(w, r)
	if !ok || !noParams(w, r) {
		return
	}
	if d, ok := a.lookupDataset(w, r, p); ok {
		writeJSON(w, http.StatusOK, dataset.NewDocument(p, d, a.now()))
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
	writeJSON(w, status, dataset.NewDocument(p, d, now))
}

func (a *API) deleteDataset(w http.ResponseWriter, r *http.Request, p registry.Project) {
	if !noParams(w, r) {
		return
	}
	name := r.PathValue("name")
	err := a.cfg.Registry.DeleteDataset(r.Context(), p.ID, name)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		datasetNotFound(w, name)
	case err != nil:
		a.internalError(w, r, "deleting a dataset", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// datasetResults answers a dataset's results for one index value over a
// timeframe, computed now as the query API computes; an access key's query
// filters are ANDed in.
func (a *API) datasetResults(w http.ResponseWriter, r *http.Request) {
	p, cred, ok := a.datasetReader(w, r)
	if !ok {
		return
	}
	d, ok := a.lookupDataset(w, r, p)
	if !ok {
		return
	}
	if a.cfg.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", "Queries are not available on this server.")
		return
	}
	var keyFilters []registry.Filter
	if cred.Kind == registry.KindAccess && cred.AccessKey.Options.Queries != nil {
		keyFilters = cred.AccessKey.Options.Queries.Filters
	}
	q, err := dataset.ResultQuery(d, r.URL.Query(), keyFilters, a.now())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if !a.queries.enter(w, p.ID) {
		return
	}
	defer a.queries.leave(p.ID)
	ans, err := query.Run(r.Context(), a.cfg.Store, q)
	var qe *query.Error
	switch {
	case errors.As(err, &qe):
		writeError(w, http.StatusBadRequest, qe.Name, qe.Message)
	case err != nil:
		a.internalError(w, r, "computing dataset results", err)
	default:
		writeJSON(w, http.StatusOK, ans.Body)
	}
}
