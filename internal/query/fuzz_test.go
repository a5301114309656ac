package query

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// FuzzParse feeds arbitrary bodies to Parse, and runs what it accepts on an
// empty model store: nothing may panic, a refusal must carry a Keen error
// name, and an accepted query must be coherent (a timeframe that starts
// before it ends, ascending buckets within the bound, the access key's
// filter in every store query).
func FuzzParse(f *testing.F) {
	seeds := []struct{ analysis, body string }{
		{"count", `{"event_collection":"purchases","timeframe":"this_7_days","timezone":"US/Pacific","filters":[{"property_name":"price","operator":"gt","property_value":5}]}`},
		{"extraction", `{"event_collection":"a b","timeframe":{"start":"2026-03-01T00:00:00Z","end":"2026-03-02T00:00:00.000+02:00"},"timezone":-28800,"latest":100,"property_names":["a.b"]}`},
		{"count", `{"event_collection":"x","timeframe":"previous_99999999999_years","timezone":99999999999}`},
		{"sum", `{"event_collection":"x","target_property":"p","timeframe":"this_3_months","interval":"every_2_weeks","group_by":["a","b.c"],"order_by":[{"property_name":"result","direction":"DESC"}],"limit":3}`},
		{"multi_analysis", `{"event_collection":"x","analyses":{"a":{"analysis_type":"percentile","target_property":"p","percentile":99.9}},"timeframe":"today","interval":"minutely"}`},
		{"funnel", `{"timeframe":"this_2_days","steps":[{"event_collection":"a","actor_property":"u","filters":[{"operator":"or","operands":[{"property_name":"x","operator":"regex","property_value":"^a"}]}]},{"event_collection":"b","actor_property":"u","inverted":true,"with_actors":true}]}`},
		{"count", `{"event_collection":"x","filters":[{"property_name":"keen.location.coordinates","operator":"within","property_value":{"coordinates":[1,2],"max_distance_miles":3}}]}`},
		{"median", `null`},
		{"count", `{"event_collection":"","timeframe":{"start":"garbage"},"filters":{"not":"a list"},"latest":1e9}`},
	}
	for _, s := range seeds {
		f.Add(s.analysis, s.body)
	}
	now := time.Date(2026, 12, 6, 12, 30, 0, 0, time.UTC)
	kf := []registry.Filter{{PropertyName: "tenant", Operator: "eq", PropertyValue: "t1"}}
	st := storetest.NewModel()
	f.Fuzz(func(t *testing.T, analysis, body string) {
		p, err := FromJSON([]byte(body))
		if err != nil {
			return
		}
		q, err := Parse(analysis, "pid", p, kf, now)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Name == "" {
				t.Fatalf("refusal without a Keen error name: %v", err)
			}
			return
		}
		queries := []struct{ start, end time.Time }{{q.Store.Start, q.Store.End}}
		keyed := len(q.Steps) > 0 || hasKeyFilter(q.Store.Filters)
		for _, s := range q.Steps {
			queries = append(queries, struct{ start, end time.Time }{s.Query.Start, s.Query.End})
			keyed = keyed && hasKeyFilter(s.Query.Filters)
		}
		for _, tf := range queries {
			if !tf.start.IsZero() && !tf.end.IsZero() && !tf.end.After(tf.start) {
				t.Fatalf("timeframe does not end after it starts: %v .. %v", tf.start, tf.end)
			}
		}
		if !keyed {
			t.Fatalf("the access key's filter is missing: %+v", q)
		}
		b := q.Store.Buckets
		if len(b) > limits.MaxIntervalBuckets+1 {
			t.Fatalf("%d buckets", len(b)-1)
		}
		for i := 1; i < len(b); i++ {
			if !b[i].After(b[i-1]) {
				t.Fatalf("buckets not ascending: %v", b)
			}
		}
		if _, err := Run(context.Background(), st, q); err != nil {
			t.Fatalf("running an accepted query: %v", err)
		}
	})
}

func hasKeyFilter(fs []store.Filter) bool {
	return len(fs) > 0 && len(fs[len(fs)-1].Path) == 1 && fs[len(fs)-1].Path[0] == "tenant"
}
