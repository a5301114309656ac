package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Schema inspection (docs/http-api.md "Inspecting collections"): Keen's
// event resource, event collection resource and property resource, read
// with the master key, the read key or an access key permitting "schema".

// Keen's schema type names.
const (
	typeString   = "string"
	typeNum      = "num"
	typeBool     = "bool"
	typeList     = "list"
	typeNull     = "null"
	typeDatetime = "datetime"
)

// leafTypeNames maps the store's leaf types to Keen's names, in the order
// one is chosen when a property has had several (keenType).
var leafTypeNames = []struct{ leaf, keen string }{
	{leaf.String, typeString},
	{leaf.Number, typeNum},
	{leaf.Bool, typeBool},
	{leaf.StrArray, typeList},
	{leaf.JSONArray, typeList},
	{leaf.Null, typeNull},
}

// keenType is the one type Keen's schema shows for a property whose values
// have had the given leaf types: keen.timestamp and keen.created_at are
// "datetime"; otherwise the first of string, num, bool, list, null that the
// property has had (so null only when it has never had another value).
func keenType(path string, leafTypes []string) string {
	if path == "keen.timestamp" || path == "keen.created_at" {
		return typeDatetime
	}
	for _, t := range leafTypeNames {
		if slices.Contains(leafTypes, t.leaf) {
			return t.keen
		}
	}
	return typeNull
}

type schemaDoc struct {
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties"`
	URL        string            `json:"url"`
}

type propertyDoc struct {
	PropertyName string `json:"property_name"`
	URL          string `json:"url"`
	Type         string `json:"type"`
}

func collectionURL(pid, name string) string {
	return "/3.0/projects/" + pid + "/events/" + url.PathEscape(name)
}

func docOfCollection(pid string, c store.Collection) schemaDoc {
	d := schemaDoc{Name: c.Name, Properties: make(map[string]string, len(c.Properties)), URL: collectionURL(pid, c.Name)}
	for path, types := range c.Properties {
		d.Properties[path] = keenType(path, types)
	}
	return d
}

func docOfProperty(pid, collection, path string, types []string) propertyDoc {
	return propertyDoc{PropertyName: path, Type: keenType(path, types),
		URL: collectionURL(pid, collection) + "/properties/" + url.PathEscape(path)}
}

// schemaReader guards the schema endpoints: the master key, the read key,
// or an access key permitting "schema"; only api_key as a parameter.
func (a *API) schemaReader(next projectHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, cred, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if !cred.Permits(registry.PermSchema) {
			writeError(w, http.StatusUnauthorized, "InvalidApiKeyError",
				"This key may not read the schema: use the read key, the master key or an access key permitting schema.")
			return
		}
		if !onlyParams(w, r, "api_key") || !a.storeAvailable(w, "Schema inspection") {
			return
		}
		next(w, r, p)
	}
}

// storeAvailable answers 503 when the API has no store.
func (a *API) storeAvailable(w http.ResponseWriter, what string) bool {
	if a.cfg.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", what+" is not available on this server.")
		return false
	}
	return true
}

// onlyParams refuses a request with a URL parameter outside allowed,
// naming it.
func onlyParams(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for name := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			writeError(w, http.StatusBadRequest, "InvalidRequestError",
				"Parameter "+strconv.Quote(name)+" is not supported here; this endpoint takes "+strings.Join(allowed, ", ")+".")
			return false
		}
	}
	return true
}

// schema returns the project's collections, sorted by name, each with
// keen.id among its properties.
func (a *API) schema(w http.ResponseWriter, r *http.Request, pid string) ([]store.Collection, bool) {
	cs, err := a.cfg.Store.Schema(r.Context(), pid)
	if err != nil {
		a.internalError(w, r, "reading the schema", err)
		return nil, false
	}
	for i, c := range cs {
		cs[i] = withKeenID(c)
	}
	slices.SortFunc(cs, func(x, y store.Collection) int { return strings.Compare(x.Name, y.Name) })
	return cs, true
}

// withKeenID adds keen.id, a string, to c's properties: every event has
// one and Keen lists it, but the store does not (it keeps keen.id apart
// from the events' leaves).
func withKeenID(c store.Collection) store.Collection {
	props := make(map[string][]string, len(c.Properties)+1)
	for path, types := range c.Properties {
		props[path] = types
	}
	if _, ok := props["keen.id"]; !ok {
		props["keen.id"] = []string{leaf.String}
	}
	c.Properties = props
	return c
}

// collection finds one collection's schema, answering 404 when the project
// has no such collection.
func (a *API) collection(w http.ResponseWriter, r *http.Request, pid, name string) (store.Collection, bool) {
	cs, ok := a.schema(w, r, pid)
	if !ok {
		return store.Collection{}, false
	}
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	writeError(w, http.StatusNotFound, "ResourceNotFoundError", "The project has no event collection "+strconv.Quote(name)+".")
	return store.Collection{}, false
}

func (a *API) listSchemas(w http.ResponseWriter, r *http.Request, p registry.Project) {
	cs, ok := a.schema(w, r, p.ID)
	if !ok {
		return
	}
	out := make([]schemaDoc, len(cs))
	for i, c := range cs {
		out[i] = docOfCollection(p.ID, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// collectionOrBeacon serves GET of a collection: the image beacon when the
// request carries data=, the collection's schema otherwise.
func (a *API) collectionOrBeacon(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("data") {
		a.beacon(w, r)
		return
	}
	a.schemaReader(a.getCollection)(w, r)
}

func (a *API) getCollection(w http.ResponseWriter, r *http.Request, p registry.Project) {
	if c, ok := a.collection(w, r, p.ID, r.PathValue("collection")); ok {
		writeJSON(w, http.StatusOK, docOfCollection(p.ID, c))
	}
}

func (a *API) listProperties(w http.ResponseWriter, r *http.Request, p registry.Project) {
	c, ok := a.collection(w, r, p.ID, r.PathValue("collection"))
	if !ok {
		return
	}
	paths := make([]string, 0, len(c.Properties))
	for path := range c.Properties {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	out := make([]propertyDoc, len(paths))
	for i, path := range paths {
		out[i] = docOfProperty(p.ID, c.Name, path, c.Properties[path])
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getProperty(w http.ResponseWriter, r *http.Request, p registry.Project) {
	c, ok := a.collection(w, r, p.ID, r.PathValue("collection"))
	if !ok {
		return
	}
	path := r.PathValue("property")
	types, ok := c.Properties[path]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundError",
			"Event collection "+strconv.Quote(c.Name)+" has no property "+strconv.Quote(path)+".")
		return
	}
	writeJSON(w, http.StatusOK, docOfProperty(p.ID, c.Name, path, types))
}
