package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// The query API: count and extraction (read key, master key, or an access
// key permitting queries, whose query filters are ANDed in).

func (a *API) query(w http.ResponseWriter, r *http.Request) {
	p, cred, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	if !cred.Permits(registry.PermQueries) {
		writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "This key may not run queries: use the read key, the master key or an access key permitting queries.")
		return
	}
	if a.cfg.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", "Queries are not available on this server.")
		return
	}
	params, ok := queryParams(w, r)
	if !ok {
		return
	}
	var keyFilters []registry.Filter
	if cred.Kind == registry.KindAccess && cred.AccessKey.Options.Queries != nil {
		keyFilters = cred.AccessKey.Options.Queries.Filters
	}
	analysis := r.PathValue("analysis")
	q, err := query.Parse(analysis, p.ID, params, keyFilters, a.now())
	var qe *query.Error
	switch {
	case errors.As(err, &qe):
		writeError(w, http.StatusBadRequest, qe.Name, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "InvalidQueryError", err.Error())
		return
	}
	if analysis == query.Count {
		res, err := a.cfg.Store.Run(r.Context(), q)
		if err != nil {
			a.internalError(w, r, "running a count query", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": res.Rows[0].Value})
		return
	}
	q.MaxBytes = a.cfg.MaxExtractionBytes
	if q.MaxBytes == 0 {
		q.MaxBytes = limits.Default().MaxExtractionBytes
	}
	res, err := a.cfg.Store.Run(r.Context(), q)
	var tooLarge *store.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusBadRequest, ErrExtractionTooLarge, tooLargeMessage(tooLarge))
		return
	case err != nil:
		a.internalError(w, r, "running an extraction", err)
		return
	}
	writeExtraction(w, res.Events)
}

// ErrExtractionTooLarge is the error_code of an extraction over
// limits.MaxExtractionEvents or the byte bound (sluice's own name: Keen
// documents its 100,000-event bound, not the error).
const ErrExtractionTooLarge = "ExtractionTooLargeError"

func tooLargeMessage(e *store.TooLargeError) string {
	what := fmt.Sprintf("more than %d events", e.MaxEvents)
	if !e.Events {
		what = fmt.Sprintf("more than %d bytes of events (%d MiB)", e.MaxBytes, e.MaxBytes>>20)
	}
	return "This extraction matches " + what + ", more than one extraction returns. " +
		`Ask for the most recent ones with "latest", or narrow the timeframe or the filters.`
}

// writeExtraction writes {"result": [events]} as the events are stored
// (compact JSON), without building the whole answer again in memory.
func writeExtraction(w http.ResponseWriter, events []json.RawMessage) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"result":[`)
	for i, ev := range events {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(ev)
	}
	bw.WriteString("]}\n")
	_ = bw.Flush() // a client gone away: nothing to tell it
}

// queryParams reads the parameters from a JSON body (POST) or the URL (GET,
// where timeframe, filters and timezone may be JSON or plain strings).
func queryParams(w http.ResponseWriter, r *http.Request) (query.Params, bool) {
	var p query.Params
	if r.Method == http.MethodPost {
		b, ok := readBody(w, r)
		if !ok {
			return p, false
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &p); err != nil {
				writeError(w, http.StatusBadRequest, "InvalidRequestError", "The request body is not a valid JSON object of query parameters.")
				return p, false
			}
		}
	}
	v := r.URL.Query()
	if s := v.Get("event_collection"); s != "" {
		p.EventCollection = s
	}
	for name, dst := range map[string]*json.RawMessage{"timeframe": &p.Timeframe, "filters": &p.Filters, "timezone": &p.Timezone, "latest": &p.Latest} {
		s := v.Get(name)
		if s == "" {
			continue
		}
		if json.Valid([]byte(s)) {
			*dst = json.RawMessage(s)
		} else {
			b, _ := json.Marshal(s) // a bare relative timeframe or zone name
			*dst = b
		}
	}
	return p, true
}

func (a *API) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}
