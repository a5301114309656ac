package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// The query API: every Keen analysis (package query parses, runs and
// shapes it), for the read key, the master key, or an access key
// permitting queries, whose query filters are ANDed into every analysis.

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
	q, err := query.Parse(r.PathValue("analysis"), p.ID, params, keyFilters, a.now())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if !a.queries.enter(w, p.ID) {
		return
	}
	defer a.queries.leave(p.ID)
	if q.Analysis == query.Extraction {
		q.Store.MaxBytes = a.cfg.MaxExtractionBytes
		held := a.extractions.reserve(w, q.Store.MaxBytes)
		if held == nil {
			return
		}
		defer held.release()
		ans, err := query.Run(r.Context(), a.cfg.Store, q)
		if err == nil {
			held.shrink(answerBytes(ans.Events))
		}
		a.answer(w, r, q, ans, err)
		return
	}
	ans, err := query.Run(r.Context(), a.cfg.Store, q)
	a.answer(w, r, q, ans, err)
}

// answerBytes is what an extraction's answer holds.
func answerBytes(events []json.RawMessage) int64 {
	var n int64
	for _, ev := range events {
		n += int64(len(ev))
	}
	return n
}

// answer writes a query's answer, or its error.
func (a *API) answer(w http.ResponseWriter, r *http.Request, q *query.Query, ans *query.Answer, err error) {
	var tooLarge *store.TooLargeError
	var qe *query.Error
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusBadRequest, ErrExtractionTooLarge, tooLargeMessage(tooLarge))
	case errors.As(err, &qe):
		writeError(w, http.StatusBadRequest, qe.Name, qe.Message)
	case err != nil:
		a.internalError(w, r, "running a "+q.Analysis+" query", err)
	case q.Analysis == query.Extraction:
		writeExtraction(w, ans.Events)
	default:
		writeJSON(w, http.StatusOK, ans.Body)
	}
}

func writeQueryError(w http.ResponseWriter, err error) {
	var qe *query.Error
	if errors.As(err, &qe) {
		writeError(w, http.StatusBadRequest, qe.Name, qe.Message)
		return
	}
	writeError(w, http.StatusBadRequest, "InvalidQueryError", err.Error())
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

// queryParams reads the parameters from a JSON body (POST) or the URL
// (GET: JSON-valued parameters such as filters, group_by, steps and
// analyses are JSON text). A POST may also carry URL parameters; one given
// in both places is refused.
func queryParams(w http.ResponseWriter, r *http.Request) (query.Params, bool) {
	fromURL, err := query.FromURL(r.URL.Query())
	if err != nil {
		writeQueryError(w, err)
		return nil, false
	}
	if r.Method != http.MethodPost {
		return fromURL, true
	}
	b, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	p, err := query.FromJSON(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", "The request body is not a valid JSON object of query parameters.")
		return nil, false
	}
	for name, v := range fromURL {
		if _, dup := p[name]; dup {
			writeError(w, http.StatusBadRequest, "InvalidQueryError", fmt.Sprintf("%q is given both in the URL and in the body; give it once", name))
			return nil, false
		}
		p[name] = v
	}
	return p, true
}

func (a *API) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}
