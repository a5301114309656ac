package saved_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

const pid = "0123456789abcdef01234567"

func TestParseDefinition(t *testing.T) {
	cases := []struct {
		name, path, body string
		wantErr          string // error name; "" means valid
		check            func(t *testing.T, d saved.Definition)
	}{
		{name: "minimal", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"}}`, check: func(t *testing.T, d saved.Definition) {
			if d.Name != "q" || d.RefreshRate != 0 || d.Metadata != nil {
				t.Fatalf("got %+v", d)
			}
		}},
		{name: "cached with metadata", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14400,"metadata":{"display_name":"Q"}}`,
			check: func(t *testing.T, d saved.Definition) {
				if d.RefreshRate != 14400 || string(d.Metadata) != `{"display_name":"Q"}` {
					t.Fatalf("got %+v", d)
				}
			}},
		{name: "48 hours", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":172800}`},
		{name: "nulls are no value", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c","group_by":null},"refresh_rate":null,"metadata":null,"query_name":null}`},
		{name: "same query_name", path: "q", body: `{"query_name":"q","query":{"analysis_type":"count","event_collection":"c"}}`},
		{name: "rename", path: "q", body: `{"query_name":"r","query":{"analysis_type":"count","event_collection":"c"}}`, check: func(t *testing.T, d saved.Definition) {
			if d.Name != "r" {
				t.Fatalf("got %+v", d)
			}
		}},
		{name: "funnel", path: "f", body: `{"query":{"analysis_type":"funnel","steps":[{"event_collection":"a","actor_property":"u"},{"event_collection":"b","actor_property":"u"}]}}`},
		{name: "under 4 hours", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14399}`, wantErr: "InvalidRequestError"},
		{name: "negative", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":-1}`, wantErr: "InvalidRequestError"},
		{name: "fractional", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14400.5}`, wantErr: "InvalidRequestError"},
		{name: "query not an object", path: "q", body: `{"query":"count"}`, wantErr: "InvalidRequestError"},
		{name: "empty name", path: "", body: `{"query":{"analysis_type":"count","event_collection":"c"}}`, wantErr: "InvalidRequestError"},
		{name: "name with a space", path: "a b", body: `{"query":{"analysis_type":"count","event_collection":"c"}}`, wantErr: "InvalidRequestError"},
		{name: "urls is Keen's", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"},"urls":{}}`, wantErr: "InvalidRequestError"},
		{name: "two documents", path: "q", body: `{"query":{"analysis_type":"count","event_collection":"c"}} {}`, wantErr: "InvalidRequestError"},
		{name: "email extraction", path: "q", body: `{"query":{"analysis_type":"extraction","event_collection":"c","email":"a@b.c"}}`, wantErr: "InvalidQueryError"},
		{name: "analysis_type not a string", path: "q", body: `{"query":{"analysis_type":1,"event_collection":"c"}}`, wantErr: "InvalidAnalysisTypeError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := saved.ParseDefinition(pid, c.path, []byte(c.body), now)
			var qe *query.Error
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.wantErr != "" && (!errors.As(err, &qe) || qe.Name != c.wantErr):
				t.Fatalf("error %v, want %s", err, c.wantErr)
			case c.check != nil:
				c.check(t, d)
			}
		})
	}
}

func TestDueAndDocument(t *testing.T) {
	sq := registry.SavedQuery{ProjectID: pid, Name: "q", Query: json.RawMessage(`{"analysis_type":"count","event_collection":"c"}`),
		RefreshRate: 14400, Created: now.Add(-time.Hour), Modified: now.Add(-time.Hour), Version: "v2"}
	ran := func(ago time.Duration, version string) *registry.SavedResult {
		return &registry.SavedResult{ProjectID: pid, Name: "q", Version: version, RunAt: now.Add(-ago), Status: 200}
	}
	cases := []struct {
		name string
		sq   registry.SavedQuery
		last *registry.SavedResult
		due  bool
		next time.Time
	}{
		{"never ran", sq, nil, true, sq.Modified},
		{"ran an older definition", sq, ran(time.Minute, "v1"), true, sq.Modified},
		{"ran recently", sq, ran(time.Hour, "v2"), false, now.Add(3 * time.Hour)},
		{"ran a period ago", sq, ran(4*time.Hour, "v2"), true, now},
		{"not cached", registry.SavedQuery{Modified: sq.Modified}, nil, false, sq.Modified},
	}
	for _, c := range cases {
		if got := saved.Due(c.sq, c.last, now); got != c.due {
			t.Errorf("%s: Due = %v", c.name, got)
		}
		if got := saved.NextRun(c.sq, c.last); !got.Equal(c.next) {
			t.Errorf("%s: NextRun = %s, want %s", c.name, got, c.next)
		}
	}
	last := ran(time.Hour, "v2")
	last.Status, last.Message = 400, "InvalidQueryError: no"
	b, err := json.Marshal(saved.NewDocument(sq, last))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"query_name":"q","refresh_rate":14400,"query":{"analysis_type":"count","event_collection":"c"},"metadata":{},` +
		`"created_date":"2026-12-06T11:00:00.000000+00:00","last_modified_date":"2026-12-06T11:00:00.000000+00:00","user_last_modified_date":"2026-12-06T11:00:00.000000+00:00",` +
		`"run_information":{"last_run_date":"2026-12-06T11:00:00.000000+00:00","last_run_status":400,"last_run_message":"InvalidQueryError: no","next_run_date":"2026-12-06T15:00:00.000000+00:00"}}`
	if string(b) != want {
		t.Fatalf("document\n got %s\nwant %s", b, want)
	}
	sq.RefreshRate = 0
	if d := saved.NewDocument(sq, nil); d.RunInformation != nil {
		t.Fatal("a saved query that is not cached has run information")
	}
}

func TestCheckBounds(t *testing.T) {
	many := func(n, cached int) []registry.SavedQuery {
		var out []registry.SavedQuery
		for i := 0; i < n; i++ {
			sq := registry.SavedQuery{Name: fmt.Sprintf("q%d", i)}
			if i < cached {
				sq.RefreshRate = saved.MinRefreshRate
			}
			out = append(out, sq)
		}
		return out
	}
	plain := saved.Definition{Name: "new"}
	cachedDef := saved.Definition{Name: "new", RefreshRate: saved.MinRefreshRate}
	cases := []struct {
		name     string
		existing []registry.SavedQuery
		def      saved.Definition
		replaced []string
		want     string
	}{
		{"room", many(10, 2), cachedDef, nil, ""},
		{"saved full", many(saved.MaxSavedQueries, 0), plain, nil, saved.ErrOverSavedLimit},
		{"saved full, a replace", many(saved.MaxSavedQueries, 0), saved.Definition{Name: "q3"}, []string{"q3"}, ""},
		{"cached full", many(saved.MaxCachedQueries, saved.MaxCachedQueries), cachedDef, nil, saved.ErrOverCachedLimit},
		{"cached full, a plain one", many(saved.MaxCachedQueries, saved.MaxCachedQueries), plain, nil, ""},
		{"cached full, a cached one replaced", many(saved.MaxCachedQueries, saved.MaxCachedQueries), saved.Definition{Name: "q0", RefreshRate: saved.MaxRefreshRate}, []string{"q0"}, ""},
	}
	for _, c := range cases {
		err := saved.CheckBounds(c.existing, c.def, c.replaced...)
		var qe *query.Error
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &qe) || qe.Name != c.want):
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}
