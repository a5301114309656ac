package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

// An event is known as stored whether its position was known when it was
// stored, when it is processed again, both or neither.
func TestClaimsFoundWithAndWithoutPosition(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "positions", limits.Default())
	ctx := context.Background()
	bare := func(ev store.Event) store.Event { ev.Source = store.Source{}; return ev }
	var withPos, without []store.Event
	for i := range 60 {
		withPos = append(withPos, testEvent(fmt.Sprintf("pos%03d", i), i, `,"n":1`))
		without = append(without, bare(testEvent(fmt.Sprintf("bare%03d", i), i, `,"n":1`)))
	}
	for _, step := range []struct {
		name string
		evs  []store.Event
		want store.Status
	}{
		{"stored with positions", withPos, store.Stored},
		{"stored without", without, store.Stored},
		{"again with positions", withPos, store.Existing},
		{"again without positions, stored with", func() (out []store.Event) {
			for _, ev := range withPos {
				out = append(out, bare(ev))
			}
			return out
		}(), store.Existing},
		{"again with positions, stored without", func() (out []store.Event) {
			for i, ev := range without {
				ev.Source = testEvent("", i, "").Source
				out = append(out, ev)
			}
			return out
		}(), store.Existing},
	} {
		res, err := st.Insert(ctx, step.evs)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := statuses(res); got[step.want] != len(step.evs) {
			t.Fatalf("%s: outcomes %v, want all %v", step.name, got, step.want)
		}
	}
	if n := count(t, st); n != 120 {
		t.Fatalf("count %d, want 120", n)
	}
}
