package httpapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// stubStore answers Schema from a fixed schema and records Deletes, so that
// the HTTP layer's own behaviour (shapes, keys, parameters, the Deletion it
// builds) is tested whatever the engine. The round trips through real
// stores are in roundtrip_test.go.
type stubStore struct {
	store.Store // nil: Insert and Run are not called through the stub

	mu        sync.Mutex
	schema    map[string][]store.Collection // by project
	deletions []store.Deletion
	deleteErr error // what Delete answers (nil: success)
}

func (s *stubStore) Schema(_ context.Context, project string) ([]store.Collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.schema[project]), nil
}

func (s *stubStore) Delete(_ context.Context, d store.Deletion) (store.Deleted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletions = append(s.deletions, d)
	if s.deleteErr != nil {
		return store.Deleted{}, s.deleteErr
	}
	return store.Deleted{Events: 1}, nil
}

func (s *stubStore) Close() error { return nil }

func (s *stubStore) deleted() []store.Deletion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletions)
}

// stubSchema is a schema as an engine might give it, in no order.
func stubSchema() []store.Collection {
	return []store.Collection{
		// The store does not list keen.id (not a leaf); the API adds it.
		{Name: "signups", Properties: map[string][]string{
			"keen.timestamp": {leaf.String}, "keen.created_at": {leaf.String},
			"plan": {leaf.String}}},
		{Name: "purchases", Properties: map[string][]string{
			"keen.timestamp": {leaf.String}, "keen.created_at": {leaf.String}, "keen.id": {leaf.String},
			"item.price": {leaf.Number, leaf.Null}, "item.name": {leaf.String}, "on_sale": {leaf.Bool},
			"tags": {leaf.StrArray}, "a/b c": {leaf.Number}}},
	}
}

func newStubFixture(t *testing.T) (*fixture, *stubStore) {
	stub := &stubStore{schema: map[string][]store.Collection{}}
	f := newFixture(t, func(c *httpapi.Config) { c.Store = stub })
	return f, stub
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

// TestSchema: Keen's event resource (every collection), event collection
// resource and property resources, with Keen's type names, for the keys
// permitting "schema".
func TestSchema(t *testing.T) {
	f, stub := newStubFixture(t)
	p, q := f.createProject("P"), f.createProject("Q")
	stub.schema[p.ID] = stubSchema()
	stub.schema[q.ID] = []store.Collection{{Name: "q-only", Properties: map[string][]string{"x": {leaf.Number}}}}
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	var schemaKey registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"s","permitted":["schema"]}`, &schemaKey)
	base := "/3.0/projects/" + p.ID + "/events"

	purchases := schemaDoc{Name: "purchases", URL: base + "/purchases", Properties: map[string]string{
		"keen.timestamp": "datetime", "keen.created_at": "datetime", "keen.id": "string",
		"item.price": "num", "item.name": "string", "on_sale": "bool", "tags": "list", "a/b c": "num"}}
	signups := schemaDoc{Name: "signups", URL: base + "/signups", Properties: map[string]string{
		"keen.timestamp": "datetime", "keen.created_at": "datetime", "keen.id": "string", "plan": "string"}}

	for _, key := range []string{master, read, schemaKey.Key} {
		var all []schemaDoc
		if st := f.do("GET", base, key, "", &all); st != 200 || !equalJSON(all, []schemaDoc{purchases, signups}) {
			t.Fatalf("GET events: %d %+v", st, all)
		}
	}
	var one schemaDoc
	if st := f.do("GET", base+"/purchases?api_key="+read, "", "", &one); st != 200 || !equalJSON(one, purchases) {
		t.Fatalf("GET events/purchases: %d %+v", st, one)
	}
	var props []propertyDoc
	if st := f.do("GET", base+"/purchases/properties", read, "", &props); st != 200 || len(props) != 8 ||
		props[0] != (propertyDoc{"a/b c", base + "/purchases/properties/a%2Fb%20c", "num"}) ||
		props[1] != (propertyDoc{"item.name", base + "/purchases/properties/item.name", "string"}) {
		t.Fatalf("GET properties: %d %+v", st, props)
	}
	var prop propertyDoc
	if st := f.do("GET", base+"/purchases/properties/item.price", read, "", &prop); st != 200 ||
		prop != (propertyDoc{"item.price", base + "/purchases/properties/item.price", "num"}) {
		t.Fatalf("GET property: %d %+v", st, prop)
	}
	// The escaped URL a property document gives leads back to it.
	if st := f.do("GET", props[0].URL, read, "", &prop); st != 200 || prop.PropertyName != "a/b c" {
		t.Fatalf("GET %s: %d %+v", props[0].URL, st, prop)
	}
	if st := f.do("GET", base+"/purchases/properties/keen.timestamp", read, "", &prop); st != 200 || prop.Type != "datetime" {
		t.Fatalf("GET keen.timestamp: %d %+v", st, prop)
	}
	// A project without events has no collections: an empty list.
	var empty []schemaDoc
	r := f.createProject("R")
	if st := f.do("GET", "/3.0/projects/"+r.ID+"/events", r.APIKeys["read"], "", &empty); st != 200 || empty == nil || len(empty) != 0 {
		t.Fatalf("project without events: %d %v", st, empty)
	}
}

func TestSchemaRefusals(t *testing.T) {
	f, stub := newStubFixture(t)
	p, q := f.createProject("P"), f.createProject("Q")
	stub.schema[p.ID] = stubSchema()
	stub.schema[q.ID] = []store.Collection{{Name: "q-only", Properties: map[string][]string{"x": {leaf.Number}}}}
	master, read, write := p.APIKeys["master"], p.APIKeys["read"], p.APIKeys["write"]
	var queriesKey, writesKey registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"q","permitted":["queries"]}`, &queriesKey)
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"w","permitted":["writes"]}`, &writesKey)
	base := "/3.0/projects/" + p.ID + "/events"
	cases := []struct {
		name, path, key string
		status          int
		code            string
	}{
		{"no key", base, "", 401, "InvalidApiKeyError"},
		{"wrong key", base, "nope", 401, "InvalidApiKeyError"},
		{"write key", base, write, 401, "InvalidApiKeyError"},
		{"write key, one collection", base + "/purchases", write, 401, "InvalidApiKeyError"},
		{"access key with queries only", base + "/purchases/properties", queriesKey.Key, 401, "InvalidApiKeyError"},
		{"access key with writes only", base + "/purchases/properties/tags", writesKey.Key, 401, "InvalidApiKeyError"},
		{"other project's read key", base, q.APIKeys["read"], 401, "InvalidApiKeyError"},
		{"unknown project", "/3.0/projects/ffffffffffffffffffffffff/events", read, 404, "ResourceNotFoundError"},
		{"unknown collection", base + "/nothing", read, 404, "ResourceNotFoundError"},
		{"other project's collection", base + "/q-only", read, 404, "ResourceNotFoundError"},
		{"unknown collection's properties", base + "/nothing/properties", read, 404, "ResourceNotFoundError"},
		{"unknown property", base + "/purchases/properties/nothing", read, 404, "ResourceNotFoundError"},
		{"an object is not a property", base + "/purchases/properties/item", read, 404, "ResourceNotFoundError"},
		{"unknown parameter", base + "?include_schema=false", read, 400, "InvalidRequestError"},
		{"unknown parameter, one collection", base + "/purchases?timeframe=this_day", read, 400, "InvalidRequestError"},
	}
	for _, tc := range cases {
		var e keenError
		if st := f.do("GET", tc.path, tc.key, "", &e); st != tc.status || e.ErrorCode != tc.code || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, st, e, tc.status, tc.code)
		}
	}
}

// TestSchemaWithoutStore: a server without a store says so.
func TestSchemaWithoutStore(t *testing.T) {
	f := newFixture(t, func(c *httpapi.Config) { c.Store = nil })
	p := f.createProject("P")
	var e keenError
	if st := f.do("GET", "/3.0/projects/"+p.ID+"/events", p.APIKeys["read"], "", &e); st != 503 || e.ErrorCode != "InternalServerError" {
		t.Fatalf("%d %+v", st, e)
	}
}

// equalJSON reports whether x and y marshal to the same JSON value.
func equalJSON(x, y any) bool {
	a, errA := json.Marshal(x)
	b, errB := json.Marshal(y)
	return errA == nil && errB == nil && jsonEqual(string(a), string(b))
}
