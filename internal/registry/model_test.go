package registry

import (
	"strings"
	"testing"
)

func TestParseAccessKeyInput(t *testing.T) {
	cases := []struct {
		name, body string
		wantErr    string // substring; empty means valid
		check      func(t *testing.T, k AccessKey)
	}{
		{name: "minimal", body: `{"name":"k","permitted":["writes"]}`, check: func(t *testing.T, k AccessKey) {
			if !k.IsActive || k.Name != "k" || len(k.Permitted) != 1 || k.Options.Writes != nil {
				t.Fatalf("got %+v", k)
			}
		}},
		{name: "inactive with autofill and filters", body: `{"name":"k","is_active":false,"permitted":["writes","queries","writes"],
			"options":{"writes":{"autofill":{"customer":{"id":"c1"}}},"queries":{"filters":[{"property_name":"customer.id","operator":"eq","property_value":"c1"}]},"datasets":null}}`,
			check: func(t *testing.T, k AccessKey) {
				if k.IsActive || len(k.Permitted) != 2 || k.Options.Writes.Autofill["customer"] == nil || !k.HasQueryFilters() {
					t.Fatalf("got %+v", k)
				}
			}},
		{name: "saved queries object kept", body: `{"name":"k","permitted":["saved_queries"],"options":{"saved_queries":{"allowed":["a"]}}}`,
			check: func(t *testing.T, k AccessKey) {
				if string(k.Options.SavedQueries) != `{"allowed":["a"]}` {
					t.Fatalf("got %s", k.Options.SavedQueries)
				}
			}},
		{name: "malformed json", body: `{"name":`, wantErr: "cut short"},
		{name: "syntax error", body: `{"name" "x"}`, wantErr: "malformed JSON"},
		{name: "two documents", body: `{"name":"k","permitted":["writes"]} {}`, wantErr: "more than one"},
		{name: "unknown field", body: `{"name":"k","permitted":["writes"],"color":"red"}`, wantErr: "unknown field"},
		{name: "no name", body: `{"permitted":["writes"]}`, wantErr: `"name" is required`},
		{name: "long name", body: `{"name":"` + strings.Repeat("n", 257) + `","permitted":["writes"]}`, wantErr: "256"},
		{name: "no permitted", body: `{"name":"k"}`, wantErr: `"permitted"`},
		{name: "unknown permitted", body: `{"name":"k","permitted":["writes","admin"]}`, wantErr: `"admin"`},
		{name: "wrong type", body: `{"name":"k","permitted":"writes"}`, wantErr: "wrong type"},
		{name: "options not object", body: `{"name":"k","permitted":["writes"],"options":[]}`, wantErr: `"options" must be an object`},
		{name: "unknown option", body: `{"name":"k","permitted":["writes"],"options":{"deletes":{}}}`, wantErr: "unknown key"},
		{name: "autofill not object", body: `{"name":"k","permitted":["writes"],"options":{"writes":{"autofill":3}}}`, wantErr: "autofill"},
		{name: "autofill keen", body: `{"name":"k","permitted":["writes"],"options":{"writes":{"autofill":{"keen":{}}}}}`, wantErr: "keen"},
		{name: "filter operator", body: `{"name":"k","permitted":["queries"],"options":{"queries":{"filters":[{"property_name":"a","operator":"like","property_value":1}]}}}`, wantErr: "operator"},
		{name: "filter name", body: `{"name":"k","permitted":["queries"],"options":{"queries":{"filters":[{"operator":"eq","property_value":1}]}}}`, wantErr: "property_name"},
		{name: "datasets not object", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":"all"}}`, wantErr: "datasets"},
		{name: "datasets unknown key", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"only":["d"]}}}`, wantErr: "unknown field \"only\""},
		{name: "datasets unknown operation", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"operations":["read","delete"]}}}`, wantErr: `"delete"`},
		{name: "datasets no operation", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"operations":[]}}}`, wantErr: "lists no operation"},
		{name: "datasets allowed a list", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"allowed":["d"]}}}`, wantErr: "options.datasets"},
		{name: "datasets allowed unknown key", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"allowed":{"d":{"index":{}}}}}}`, wantErr: "unknown field \"index\""},
		{name: "datasets pinned value an object", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"allowed":{"d":{"index_by":{"u":[{"a":1}]}}}}}}`, wantErr: "strings, numbers or booleans"},
		{name: "datasets pinned no value", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"allowed":{"d":{"index_by":{"u":[]}}}}}}`, wantErr: "lists no value"},
		{name: "datasets blocked empty name", body: `{"name":"k","permitted":["datasets"],"options":{"datasets":{"blocked":[""]}}}`, wantErr: "empty dataset name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseAccessKeyInput([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, k)
		})
	}
}

func TestIDs(t *testing.T) {
	if id := NewProjectID(); !isHex(id, 24) {
		t.Fatalf("project id %q", id)
	}
	if k := NewKey(); !isHex(k, 64) || k == NewKey() {
		t.Fatalf("key %q", k)
	}
}

func TestNameRules(t *testing.T) {
	cases := []struct {
		rules NameRules
		name  string
		want  bool
	}{
		{NameRules{}, "a", true},
		{NameRules{Allowed: []string{"a"}}, "a", true},
		{NameRules{Allowed: []string{"a"}}, "b", false},
		{NameRules{Allowed: []string{}}, "a", false},
		{NameRules{Blocked: []string{"a"}}, "a", false},
		{NameRules{Blocked: []string{"a"}}, "b", true},
		{NameRules{Allowed: []string{"a"}, Blocked: []string{"a"}}, "a", false},
	}
	for _, c := range cases {
		if got := c.rules.Permits(c.name); got != c.want {
			t.Errorf("%+v.Permits(%q) = %v", c.rules, c.name, got)
		}
	}
	k, err := ParseAccessKeyInput([]byte(`{"name":"k","permitted":["saved_queries","cached_queries"],
		"options":{"saved_queries":{"allowed":["a"],"filters":[{"property_name":"t","operator":"eq","property_value":"x"}]},"cached_queries":{"blocked":["b"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := k.Options.SavedQueryRules(); len(s.Allowed) != 1 || len(s.Filters) != 1 || s.Permits("b") {
		t.Fatalf("saved_queries rules %+v", s)
	}
	if c := k.Options.CachedQueryRules(); c.Permits("b") || !c.Permits("a") {
		t.Fatalf("cached_queries rules %+v", c)
	}
}

func TestDatasetRules(t *testing.T) {
	k, err := ParseAccessKeyInput([]byte(`{"name":"k","permitted":["datasets"],"options":{"datasets":{
		"operations":["read","retrieve"],
		"allowed":{"mine":{"index_by":{"customer.id":["c1",7]}},"open":{},"hidden":{}},
		"blocked":["hidden"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := k.Options.DatasetRules()
	cases := []struct {
		op, name string
		want     bool
	}{
		{DatasetRead, "mine", true},
		{DatasetRetrieve, "open", true},
		{DatasetList, "mine", false},   // not an operation of the key
		{DatasetRead, "other", false},  // not allowed
		{DatasetRead, "hidden", false}, // allowed but blocked
	}
	for _, c := range cases {
		if got := r.Permits(c.op, c.name); got != c.want {
			t.Errorf("Permits(%s, %s) = %v", c.op, c.name, got)
		}
	}
	if p := r.Pinned("mine"); len(p["customer.id"]) != 2 || p["customer.id"][0] != "c1" || p["customer.id"][1] != 7.0 {
		t.Errorf("pinned %v", p)
	}
	if p := r.Pinned("open"); p != nil {
		t.Errorf("open pins %v", p)
	}
	if none := (Options{}).DatasetRules(); !none.Permits(DatasetList, "any") {
		t.Error("no options must permit everything")
	}
}
