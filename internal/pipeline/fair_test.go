package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// insertSizes records the size of each project's Inserts.
type insertSizes struct {
	store.Store
	mu    sync.Mutex
	sizes map[string][]int
}

func (s *insertSizes) Insert(ctx context.Context, evs []store.Event) (store.InsertResult, error) {
	if len(evs) > 0 {
		s.mu.Lock()
		s.sizes[evs[0].ProjectID] = append(s.sizes[evs[0].ProjectID], len(evs))
		s.mu.Unlock()
	}
	return s.Store.Insert(ctx, evs)
}

// A backlog of one project, drained while another project sends a few
// events a second, is processed in batches of at most the fair share of
// it (the rest of each poll given back and fetched again), and still
// exactly once: every event stored and streamed once.
func TestABacklogIsDrainedInSharesWhileAnotherProjectIsActive(t *testing.T) {
	e := newEnv(t)
	e.stop()
	flood, quiet := e.project(), e.project()
	e.enable(flood.ID, true)
	const n = 36000 // 4,000 in each of the 9 partitions: a share is 4 of them
	floodTopic := tenancy.RawTopic(flood.ID, "", "flood")
	e.produce(floodTopic, events(n, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })...)
	quietTopic := tenancy.RawTopic(quiet.ID, "", "quiet")
	e.produce(quietTopic, `{"q":0}`)

	sizes := &insertSizes{Store: e.store, sizes: map[string][]int{}}
	e.start(func(c *pipeline.Config) { c.Store = sizes })
	// The quiet project stays active while the backlog drains.
	stop, stopped := make(chan struct{}), make(chan struct{})
	quietSent := 1
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			e.produce(quietTopic, fmt.Sprintf(`{"q":%d}`, quietSent))
			quietSent++
		}
	}()
	e.waitCount(flood.ID, "flood", n)
	close(stop)
	<-stopped
	e.waitCount(quiet.ID, "quiet", int64(quietSent))

	got := readAll(t, e.b, tenancy.BackendOutboundTopic(flood.ID, "flood"), n)
	ids := map[string]bool{}
	for _, r := range got {
		ids[headers(r)[pipeline.HeaderID]] = true
	}
	if len(got) != n || len(ids) != n {
		t.Fatalf("%d outbound records, %d distinct, want %d", len(got), len(ids), n)
	}
	sizes.mu.Lock()
	defer sizes.mu.Unlock()
	largest := 0
	for _, s := range sizes.sizes[flood.ID] {
		largest = max(largest, s)
	}
	if largest > limits.PipelineFairShare {
		t.Fatalf("the backlog was stored in Inserts of %v events; want at most %d each while another project is active",
			sizes.sizes[flood.ID], limits.PipelineFairShare)
	}
	t.Logf("the backlog's Inserts: %v", sizes.sizes[flood.ID])
}
