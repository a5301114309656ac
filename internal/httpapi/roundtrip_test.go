package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// roundTripStores are the stores the schema and delete round trips run
// against: the reference model, and the DuckDB engine sluice serves with.
func roundTripStores(t *testing.T) map[string]func(t *testing.T) *fixture {
	return map[string]func(t *testing.T) *fixture{
		"model": func(t *testing.T) *fixture {
			return newFixture(t, func(c *httpapi.Config) { c.Store = storetest.NewModel() })
		},
		"duckdb": func(t *testing.T) *fixture { return newFixture(t) },
	}
}

// insert stores events of collection for pid: each a JSON body (without
// the keen object) at ts[i], with token[i] as uniqueness token when set.
func (f *fixture) insert(pid, collection string, bodies []string, ts []time.Time, tokens []string) store.InsertResult {
	f.t.Helper()
	var evs []store.Event
	for i, b := range bodies {
		f.ids++
		id := fmt.Sprintf("%024x", f.ids)
		at := ts[i].UTC().Format("2006-01-02T15:04:05.000Z")
		keen := fmt.Sprintf(`"keen":{"timestamp":%q,"created_at":%q,"id":%q`, at, at, id)
		ev := store.Event{ProjectID: pid, Collection: collection, ID: id, Timestamp: ts[i], CreatedAt: ts[i]}
		if tokens != nil && tokens[i] != "" {
			keen += fmt.Sprintf(`,"uniqueness_token":%q`, tokens[i])
			ev.UniquenessToken = tokens[i]
		}
		ev.JSON = []byte("{" + keen + "}," + b[1:])
		evs = append(evs, ev)
	}
	res, err := f.store.Insert(context.Background(), evs)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) count(pid, collection string) int64 {
	f.t.Helper()
	res, err := f.store.Run(context.Background(), store.Query{ProjectID: pid, Collection: collection, Analysis: store.Count})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Rows[0].Value.(int64)
}

// TestSchemaAndDeleteRoundTrip: what the store holds is what the schema
// shows, and each DELETE changes it as Keen's would.
func TestSchemaAndDeleteRoundTrip(t *testing.T) {
	for name, newF := range roundTripStores(t) {
		t.Run(name, func(t *testing.T) {
			f := newF(t)
			p := f.createProject("P")
			master, read := p.APIKeys["master"], p.APIKeys["read"]
			base := "/3.0/projects/" + p.ID + "/events"
			day := func(d int) time.Time { return queryNow.AddDate(0, 0, -d) }
			f.insert(p.ID, "purchases", []string{
				`{"item":{"name":"a","price":5},"tags":["x"],"on_sale":true}`,
				`{"item":{"name":"b","price":15},"tags":["y"],"on_sale":false}`,
				`{"item":{"name":"c","price":25},"note":null}`,
				`{"item":{"name":"d","price":"free"}}`,
			}, []time.Time{day(1), day(1), day(10), day(10)}, nil)
			f.insert(p.ID, "signups", []string{`{"plan":"pro"}`}, []time.Time{day(1)}, nil)

			var all []schemaDoc
			if st := f.do("GET", base, read, "", &all); st != 200 || len(all) != 2 {
				t.Fatalf("GET events: %d %+v", st, all)
			}
			want := schemaDoc{Name: "purchases", URL: base + "/purchases", Properties: map[string]string{
				"keen.timestamp": "datetime", "keen.created_at": "datetime", "keen.id": "string",
				"item.name": "string", "item.price": "string", "tags": "list", "on_sale": "bool", "note": "null"}}
			if !equalJSON(all[0], want) || all[1].Name != "signups" || all[1].Properties["plan"] != "string" {
				t.Fatalf("schema\n%+v\nwant purchases as\n%+v", all, want)
			}

			// Filtered: events priced 10 or more (numbers only: "free" stays).
			filters := url.QueryEscape(`[{"property_name":"item.price","operator":"gte","property_value":10}]`)
			if st := f.do("DELETE", base+"/purchases?filters="+filters, master, "", nil); st != 204 {
				t.Fatalf("filtered delete: %d", st)
			}
			if n := f.count(p.ID, "purchases"); n != 2 {
				t.Fatalf("after the filtered delete %d purchases, want 2", n)
			}
			// Timeframe: the last 3 days (event a); "free" is older.
			if st := f.do("DELETE", base+"/purchases?timeframe=this_3_days&timezone=UTC", master, "", nil); st != 204 {
				t.Fatalf("timeframe delete: %d", st)
			}
			if n := f.count(p.ID, "purchases"); n != 1 {
				t.Fatalf("after the timeframe delete %d purchases, want 1", n)
			}
			// Property: gone from the events and the schema.
			if st := f.do("DELETE", base+"/purchases/properties/item.name", master, "", nil); st != 204 {
				t.Fatalf("property delete: %d", st)
			}
			var one schemaDoc
			if st := f.do("GET", base+"/purchases", read, "", &one); st != 200 || one.Properties["item.name"] != "" || one.Properties["item.price"] == "" {
				t.Fatalf("schema after the property delete: %d %+v", st, one)
			}
			var e keenError
			if st := f.do("GET", base+"/purchases/properties/item.name", read, "", &e); st != 404 {
				t.Fatalf("deleted property: %d %+v", st, e)
			}
			res, err := f.store.Run(context.Background(), store.Query{ProjectID: p.ID, Collection: "purchases", Analysis: store.Extraction})
			if err != nil || len(res.Events) != 1 || !jsonEqual(string(res.Events[0]), withoutKeen(t, res.Events[0], `{"item":{"price":"free"}}`)) {
				t.Fatalf("events after the deletes: %s %v", res.Events, err)
			}
			// Whole collection: gone from the schema; the other stays.
			if st := f.do("DELETE", base+"/purchases", master, "", nil); st != 204 {
				t.Fatalf("collection delete: %d", st)
			}
			if st := f.do("GET", base+"/purchases", read, "", &e); st != 404 {
				t.Fatalf("deleted collection: %d %+v", st, e)
			}
			if st := f.do("DELETE", base+"/purchases", master, "", &e); st != 404 {
				t.Fatalf("deleting it again: %d %+v", st, e)
			}
			if st := f.do("GET", base, read, "", &all); st != 200 || len(all) != 1 || all[0].Name != "signups" {
				t.Fatalf("schema after the collection delete: %d %+v", st, all)
			}
			if n := f.count(p.ID, "purchases"); n != 0 {
				t.Fatalf("%d purchases after the collection delete", n)
			}
		})
	}
}

// withoutKeen returns want with stored's keen object added, for comparing
// an extracted event's own properties.
func withoutKeen(t *testing.T, stored []byte, want string) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(stored, &ev); err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	w["keen"] = ev["keen"]
	b, _ := json.Marshal(w)
	return string(b)
}

// TestDeleteAndUniquenessTokens: deleting events by filter keeps their
// uniqueness tokens held (the events were recorded); deleting the
// collection releases them (docs/http-api.md).
func TestDeleteAndUniquenessTokens(t *testing.T) {
	for name, newF := range roundTripStores(t) {
		t.Run(name, func(t *testing.T) {
			f := newF(t)
			p := f.createProject("P")
			master := p.APIKeys["master"]
			base := "/3.0/projects/" + p.ID + "/events"
			at := []time.Time{queryNow.Add(-time.Hour)}
			if res := f.insert(p.ID, "orders", []string{`{"n":1}`}, at, []string{"tok"}); !only(res, store.Stored) {
				t.Fatalf("first insert: %+v", res)
			}
			filters := url.QueryEscape(`[{"property_name":"n","operator":"eq","property_value":1}]`)
			if st := f.do("DELETE", base+"/orders?filters="+filters, master, "", nil); st != 204 {
				t.Fatalf("filtered delete: %d", st)
			}
			// The collection must still exist for the next delete: another event.
			f.insert(p.ID, "orders", []string{`{"n":2}`}, at, nil)
			if res := f.insert(p.ID, "orders", []string{`{"n":3}`}, at, []string{"tok"}); !only(res, store.Duplicate) {
				t.Fatalf("token after a filtered delete: %+v, want it still held", res)
			}
			if st := f.do("DELETE", base+"/orders", master, "", nil); st != 204 {
				t.Fatalf("collection delete: %d", st)
			}
			if res := f.insert(p.ID, "orders", []string{`{"n":4}`}, at, []string{"tok"}); !only(res, store.Stored) {
				t.Fatalf("token after the collection delete: %+v, want it released", res)
			}
		})
	}
}

// only reports whether res is one event with status st.
func only(res store.InsertResult, st store.Status) bool {
	return len(res.Outcomes) == 1 && res.Outcomes[0].Status == st
}
