package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Deletes (docs/http-api.md "Deleting events"), master key only: a whole
// collection, the events of a collection matching filters and a
// timeframe, or one property from every event of a collection. They change
// what the store answers (queries, extractions, the schema); what Kafka
// Outbound already streamed stays streamed.

// deleteParams are the URL parameters of a collection delete; Keen takes
// them in the query string.
var deleteParams = []string{"api_key", "filters", "timeframe", "timezone"}

func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request, p registry.Project) {
	name := r.PathValue("collection")
	if !onlyParams(w, r, deleteParams...) || !bodyRepeatsParams(w, r) || !a.storeAvailable(w, "Deleting") {
		return
	}
	params := r.URL.Query()
	d := store.Deletion{ProjectID: p.ID, Collection: name}
	if params.Has("filters") || params.Has("timeframe") {
		q, err := query.Selection(p.ID, name, paramJSON(params, "filters"), paramJSON(params, "timeframe"),
			paramJSON(params, "timezone"), a.now())
		var qe *query.Error
		switch {
		case errors.As(err, &qe):
			writeError(w, http.StatusBadRequest, qe.Name, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, "InvalidQueryError", err.Error())
			return
		}
		d.Events = &q
	} else if params.Has("timezone") {
		// Deleting the whole collection because a timeframe was
		// forgotten would be a disaster: refuse instead.
		writeError(w, http.StatusBadRequest, "InvalidQueryError",
			`"timezone" applies to "timeframe", which is missing; to delete the whole collection give neither.`)
		return
	}
	if _, ok := a.collection(w, r, p.ID, name); !ok {
		return
	}
	res, err := a.cfg.Store.Delete(r.Context(), d)
	if err != nil {
		a.internalError(w, r, "deleting events", err)
		return
	}
	a.cfg.Logger.Info("http: deleted events", "project", p.ID, "collection", name, "filtered", d.Events != nil, "events", res.Events)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) deleteProperty(w http.ResponseWriter, r *http.Request, p registry.Project) {
	name, path := r.PathValue("collection"), r.PathValue("property")
	if !onlyParams(w, r, "api_key") || !bodyRepeatsParams(w, r) || !a.storeAvailable(w, "Deleting") {
		return
	}
	if path == "keen" || strings.HasPrefix(path, "keen.") {
		writeError(w, http.StatusBadRequest, "InvalidPropertyNameError",
			"Property "+strconv.Quote(path)+" is Keen's own (keen.timestamp, keen.created_at, keen.id and add-on settings) and cannot be deleted.")
		return
	}
	c, ok := a.collection(w, r, p.ID, name)
	if !ok {
		return
	}
	if _, ok := c.Properties[path]; !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundError",
			"Event collection "+strconv.Quote(name)+" has no property "+strconv.Quote(path)+".")
		return
	}
	d := store.Deletion{ProjectID: p.ID, Collection: name, Property: strings.Split(path, ".")}
	res, err := a.cfg.Store.Delete(r.Context(), d)
	var tooLarge *store.RewriteTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusBadRequest, ErrDeleteTooLarge, "Property "+strconv.Quote(path)+" of "+strconv.Quote(name)+": "+tooLarge.Error()+".")
		return
	case err != nil:
		a.internalError(w, r, "deleting a property", err)
		return
	}
	a.cfg.Logger.Info("http: deleted a property", "project", p.ID, "collection", name, "property", path, "events", res.Events)
	w.WriteHeader(http.StatusNoContent)
}

// ErrDeleteTooLarge is the error_code of a property deletion over
// limits.MaxPropertyRewrite events (sluice's own name: Keen documents a
// bound, not the error).
const ErrDeleteTooLarge = "DeleteTooLargeError"

// bodyRepeatsParams accepts an empty body, or a JSON object each of whose
// entries repeats a URL parameter with the same value (keen-analysis.js
// sends a DELETE's parameters in both). Anything else is refused: a delete
// whose filters were only in the body would otherwise delete the whole
// collection.
func bodyRepeatsParams(w http.ResponseWriter, r *http.Request) bool {
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil || body == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestError",
			"A DELETE takes its parameters in the query string; its body must be empty.")
		return false
	}
	inURL := r.URL.Query()
	for name, v := range body {
		if !inURL.Has(name) || !sameJSON(v, paramJSON(inURL, name)) {
			writeError(w, http.StatusBadRequest, "InvalidRequestError",
				"A DELETE takes its parameters in the query string; the body's "+strconv.Quote(name)+" is not the same there.")
			return false
		}
	}
	return true
}

// paramJSON is URL parameter name's value as JSON (nil when not given):
// itself when it is JSON, else a JSON string (a bare timeframe such as
// this_7_days, a zone name).
func paramJSON(params url.Values, name string) json.RawMessage {
	if !params.Has(name) {
		return nil
	}
	s := params.Get(name)
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(x, y json.RawMessage) bool {
	cx, errx := canonicalJSON(x)
	cy, erry := canonicalJSON(y)
	return errx == nil && erry == nil && bytes.Equal(cx, cy)
}

func canonicalJSON(b json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // object keys sorted
}
