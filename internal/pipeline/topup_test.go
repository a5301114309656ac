package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// insertLog records the events of each Insert (their JSON), and holds the
// first Insert until released.
type insertLog struct {
	store.Store
	mu      sync.Mutex
	inserts [][]string
	blocked chan struct{}
	release chan struct{}
}

func (s *insertLog) Insert(ctx context.Context, evs []store.Event) (store.InsertResult, error) {
	s.mu.Lock()
	var docs []string
	for _, ev := range evs {
		docs = append(docs, string(ev.JSON))
	}
	s.inserts = append(s.inserts, docs)
	first := len(s.inserts) == 1
	s.mu.Unlock()
	if first {
		close(s.blocked)
		<-s.release
	}
	return s.Store.Insert(ctx, evs)
}

// An event that arrives while a batch is being processed is in the next
// batch, not the one after: the poll the next batch starts with was
// fetched ahead, during the batch (it holds x), and the batch also takes
// what the fetch that poll sends brings (y).
func TestABatchTakesWhatArrivedDuringTheBatchBefore(t *testing.T) {
	e := newEnv(t)
	e.stop()
	log := &insertLog{Store: e.store, blocked: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-log.release:
		default:
			close(log.release)
		}
	})
	e.start(func(c *pipeline.Config) {
		c.Store = log
		// The fetch comes back within milliseconds; the bound is a
		// machine's worst case, not what is measured.
		pipeline.SetTopUpWait(c, 10*time.Second)
	})
	proj := e.project()
	topic := tenancy.RawTopic(proj.ID, "", "steady")
	e.produce(topic, `{"e":"a"}`)
	select {
	case <-log.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("the first batch never reached the store")
	}
	e.produce(topic, `{"e":"x"}`)
	for deadline := time.Now().Add(20 * time.Second); pipeline.BufferedRecords(e.pipe) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the consumer never fetched x ahead")
		}
	}
	e.produce(topic, `{"e":"y"}`)
	close(log.release)
	e.waitCount(proj.ID, "steady", 3)

	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.inserts) != 2 {
		t.Fatalf("%d Inserts, want 2 (a, then x and y): %q", len(log.inserts), log.inserts)
	}
	second := strings.Join(log.inserts[1], " ")
	if !strings.Contains(second, `"e":"x"`) || !strings.Contains(second, `"e":"y"`) {
		t.Fatalf("the second batch stored %q; want x and y", log.inserts[1])
	}
}
