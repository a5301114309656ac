package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/store"
)

// Saved and cached queries (Keen's /queries/saved): the master key
// creates, replaces and deletes them; the master key, the read key and
// access keys permitting saved_queries (or cached_queries, for cached
// ones) list, read and run them, within the key's allowed and blocked
// names. Package saved holds the rules; a result is computed by package
// query, as the query API computes it, or read from the cache the
// schedule keeps.

func (a *API) savedRoutes() {
	m := a.mux
	m.HandleFunc("GET /3.0/projects/{pid}/queries/saved", a.listSaved)
	m.HandleFunc("GET /3.0/projects/{pid}/queries/saved/{name}", a.getSaved)
	m.HandleFunc("PUT /3.0/projects/{pid}/queries/saved/{name}", a.master(a.putSaved))
	// keen-analysis.js' README creates one with a POST.
	m.HandleFunc("POST /3.0/projects/{pid}/queries/saved/{name}", a.master(a.putSaved))
	m.HandleFunc("DELETE /3.0/projects/{pid}/queries/saved/{name}", a.master(a.deleteNamed("a saved query", Registry.DeleteSavedQuery, savedNotFound)))
	m.HandleFunc("GET /3.0/projects/{pid}/queries/saved/{name}/result", a.savedResult)
}

// savedAccess is what a credential may do with saved queries.
type savedAccess struct{ cred registry.Credential }

// any reports whether the key may read some saved query.
func (s savedAccess) any() bool {
	return s.cred.Permits(registry.PermSavedQueries) || s.cred.Permits(registry.PermCachedQueries)
}

// viaSaved reports whether the key reaches sq through saved_queries.
func (s savedAccess) viaSaved(sq registry.SavedQuery) bool {
	if s.cred.Kind != registry.KindAccess {
		return s.cred.Permits(registry.PermSavedQueries)
	}
	return s.cred.AccessKey.Permits(registry.PermSavedQueries) && s.cred.AccessKey.Options.SavedQueryRules().Permits(sq.Name)
}

// may reports whether the key may read and run sq.
func (s savedAccess) may(sq registry.SavedQuery) bool {
	if s.viaSaved(sq) {
		return true
	}
	if sq.RefreshRate == 0 || s.cred.Kind != registry.KindAccess {
		return false
	}
	return s.cred.AccessKey.Permits(registry.PermCachedQueries) && s.cred.AccessKey.Options.CachedQueryRules().Permits(sq.Name)
}

// filters are the key's filters ANDed into what it runs: its query
// filters, and its saved_queries filters when it reaches sq that way.
func (s savedAccess) filters(sq registry.SavedQuery) []registry.Filter {
	if s.cred.Kind != registry.KindAccess {
		return nil
	}
	var fs []registry.Filter
	if q := s.cred.AccessKey.Options.Queries; q != nil {
		fs = append(fs, q.Filters...)
	}
	if s.viaSaved(sq) {
		fs = append(fs, s.cred.AccessKey.Options.SavedQueryRules().Filters...)
	}
	return fs
}

// noParams refuses URL parameters (but api_key, the credential): none of
// these endpoints takes one.
func noParams(w http.ResponseWriter, r *http.Request) bool {
	for name := range r.URL.Query() {
		if name != "api_key" {
			writeError(w, http.StatusBadRequest, saved.ErrInvalidRequest, "The URL parameter "+strconv.Quote(name)+" is not one of this endpoint's: it takes none (but api_key).")
			return false
		}
	}
	return true
}

func refuseSavedKey(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "This key may not use this saved query: use the master key, the read key, or an access key permitting saved_queries (or cached_queries, for a cached query) whose options allow the name.")
}

func savedNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "ResourceNotFoundError", "There is no saved query named "+strconv.Quote(name)+" in this project.")
}

// savedReader authenticates a read of saved queries.
func (a *API) savedReader(w http.ResponseWriter, r *http.Request) (registry.Project, savedAccess, bool) {
	p, cred, ok := a.authenticate(w, r)
	if !ok {
		return p, savedAccess{}, false
	}
	acc := savedAccess{cred}
	if !noParams(w, r) {
		return p, acc, false
	}
	if !acc.any() {
		refuseSavedKey(w)
		return p, acc, false
	}
	return p, acc, true
}

// lookupSaved finds the named saved query the key may read, answering the
// refusal itself when there is none.
func (a *API) lookupSaved(w http.ResponseWriter, r *http.Request, p registry.Project, acc savedAccess) (registry.SavedQuery, *registry.SavedResult, bool) {
	name := r.PathValue("name")
	var sq registry.SavedQuery
	var last *registry.SavedResult
	var found bool
	a.cfg.Registry.Read(func(v *registry.View) {
		sq, found = v.SavedQuery(p.ID, name)
		if res, ok := v.SavedResult(p.ID, name); ok {
			last = &res
		}
	})
	switch {
	case !found:
		savedNotFound(w, name)
	case !acc.may(sq):
		refuseSavedKey(w)
	default:
		return sq, last, true
	}
	return sq, nil, false
}

func (a *API) listSaved(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.savedReader(w, r)
	if !ok {
		return
	}
	out := []saved.Document{}
	a.cfg.Registry.Read(func(v *registry.View) {
		for _, sq := range v.SavedQueries(p.ID) {
			if !acc.may(sq) {
				continue
			}
			var last *registry.SavedResult
			if res, ok := v.SavedResult(p.ID, sq.Name); ok {
				last = &res
			}
			out = append(out, saved.NewDocument(sq, last))
		}
	})
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getSaved(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.savedReader(w, r)
	if !ok {
		return
	}
	if sq, last, ok := a.lookupSaved(w, r, p, acc); ok {
		writeJSON(w, http.StatusOK, saved.NewDocument(sq, last))
	}
}

// putSaved creates (201) or replaces (200) a saved query; a body whose
// query_name differs from the path renames it.
func (a *API) putSaved(w http.ResponseWriter, r *http.Request, p registry.Project) {
	if !noParams(w, r) {
		return
	}
	b, ok := readBody(w, r)
	if !ok {
		return
	}
	now := a.now().UTC()
	pathName := r.PathValue("name")
	def, err := saved.ParseDefinition(p.ID, pathName, b, now)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	var old, target registry.SavedQuery
	var exists, targetExists bool
	var all []registry.SavedQuery
	a.cfg.Registry.Read(func(v *registry.View) {
		old, exists = v.SavedQuery(p.ID, pathName)
		target, targetExists = v.SavedQuery(p.ID, def.Name)
		all = v.SavedQueries(p.ID)
	})
	if err := saved.CheckBounds(all, def, pathName, def.Name); err != nil {
		writeQueryError(w, err)
		return
	}
	renaming := def.Name != pathName
	switch {
	case renaming && !exists:
		savedNotFound(w, pathName)
		return
	case renaming && targetExists:
		writeError(w, http.StatusConflict, "DuplicateResourceError", "A saved query named "+strconv.Quote(target.Name)+" already exists; delete it first or choose another query_name.")
		return
	}
	sq := registry.SavedQuery{ProjectID: p.ID, Name: def.Name, Query: def.Query, RefreshRate: def.RefreshRate, Metadata: def.Metadata, Created: now, Modified: now}
	if exists {
		sq.Created = old.Created
	}
	sq, err = a.cfg.Registry.PutSavedQuery(r.Context(), sq)
	if err != nil {
		a.internalError(w, r, "storing a saved query", err)
		return
	}
	if renaming {
		if err := a.cfg.Registry.DeleteSavedQuery(r.Context(), p.ID, pathName); err != nil && !errors.Is(err, registry.ErrNotFound) {
			a.internalError(w, r, "removing a renamed saved query's old name", err)
			return
		}
	}
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	writeJSON(w, status, saved.NewDocument(sq, nil))
}

// deleteNamed answers a DELETE of the thing (a saved query, a dataset)
// named by the path: 204, or notFound's 404, once del (a method of
// Registry) has removed it.
func (a *API) deleteNamed(thing string, del func(reg Registry, ctx context.Context, pid, name string) error, notFound func(w http.ResponseWriter, name string)) projectHandler {
	return func(w http.ResponseWriter, r *http.Request, p registry.Project) {
		if !noParams(w, r) {
			return
		}
		name := r.PathValue("name")
		err := del(a.cfg.Registry, r.Context(), p.ID, name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			notFound(w, name)
		case err != nil:
			a.internalError(w, r, "deleting "+thing, err)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

// writeKept answers body, a result kept since ranAt (a cached query's, a
// dataset's), with its age in seconds in the Age header (RFC 9111).
func writeKept(w http.ResponseWriter, body []byte, ranAt, now time.Time) {
	w.Header().Set("Age", strconv.FormatInt(max(int64(now.Sub(ranAt).Seconds()), 0), 10))
	writeBody(w, body)
}

// writeBody answers 200 with body, JSON already encoded.
func writeBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

// computeNow runs compute, a result computed when asked (a saved query's,
// a dataset's), as the query API runs a query: refused when the server
// has no store, counted against the project's queries running at once,
// its refusals answered as the query API answers them. It reports whether
// compute succeeded; if not, the answer is written (doing says what
// failed in the log).
func (a *API) computeNow(w http.ResponseWriter, r *http.Request, pid, doing string, compute func(ctx context.Context) error) bool {
	if a.cfg.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", "Queries are not available on this server.")
		return false
	}
	if !a.queries.enter(w, pid) {
		return false
	}
	defer a.queries.leave(pid)
	err := compute(r.Context())
	var tooLarge *store.TooLargeError
	var qe *query.Error
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusBadRequest, ErrExtractionTooLarge, tooLargeMessage(tooLarge))
	case errors.As(err, &qe):
		writeError(w, http.StatusBadRequest, qe.Name, qe.Message)
	case err != nil:
		a.internalError(w, r, doing, err)
	default:
		return true
	}
	return false
}

// savedResult answers a saved query's document with its result: a cached
// query's from the cache (its age in run_information.last_run_date and
// the Age header), unless the key's filters apply or the last run failed;
// any other is computed now, as the query API computes it.
func (a *API) savedResult(w http.ResponseWriter, r *http.Request) {
	p, acc, ok := a.savedReader(w, r)
	if !ok {
		return
	}
	sq, last, ok := a.lookupSaved(w, r, p, acc)
	if !ok {
		return
	}
	doc := saved.NewDocument(sq, last)
	keyFilters := acc.filters(sq)
	now := a.now()
	if sq.RefreshRate > 0 && last != nil && last.Status == http.StatusOK && len(keyFilters) == 0 {
		body, err := saved.Answer(doc, last.Body)
		if err != nil {
			a.internalError(w, r, "answering a cached query", err)
			return
		}
		writeKept(w, body, last.RunAt, now)
		return
	}
	// An extraction's answer counts against the process's budget, as the
	// query API's do.
	if q, err := saved.Parse(sq.ProjectID, sq.Query, keyFilters, now); err == nil && q.Analysis == query.Extraction {
		held := a.extractions.reserve(w, a.cfg.MaxExtractionBytes)
		if held == nil {
			return
		}
		defer held.release()
	}
	var ans json.RawMessage
	if !a.computeNow(w, r, p.ID, "running saved query "+sq.Name, func(ctx context.Context) (err error) {
		ans, err = saved.Runner{Store: a.cfg.Store, MaxExtractionBytes: a.cfg.MaxExtractionBytes}.Run(ctx, sq, keyFilters, now)
		return err
	}) {
		return
	}
	body, err := saved.Answer(doc, ans)
	if err != nil {
		a.internalError(w, r, "answering a saved query", err)
		return
	}
	writeBody(w, body)
}
