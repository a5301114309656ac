package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/duckdb"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// gatedStore holds its first Insert until release is closed.
type gatedStore struct {
	store.Store
	entered, release chan struct{}
	first            atomic.Bool
}

func (g *gatedStore) Insert(ctx context.Context, evs []store.Event) (store.InsertResult, error) {
	if g.first.CompareAndSwap(false, true) {
		close(g.entered)
		<-g.release
	}
	return g.Store.Insert(ctx, evs)
}

// The group session ends with an error while a batch is in hand (a
// heartbeat answered UNKNOWN_MEMBER_ID, as it can once the group
// coordinator's broker has died): the batch's transaction is aborted, the
// group rejoined and the batch processed again, instead of the commit
// waiting forever for a heartbeat loop that is gone while the group waits
// for the batch to allow the rebalance.
func TestGroupSessionLostDuringABatch(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(9))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := registrytest.Connect(t, c.ListenAddrs())
	t.Cleanup(b.Close)
	st, err := duckdb.Open(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	proc, err := event.NewProcessor(nil)
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatedStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	e := &env{t: t, b: b, reg: registrytest.Open(t, b), store: st, proc: proc, metrics: prometheus.NewRegistry()}
	e.start(func(c *pipeline.Config) { c.Store = gate })
	t.Cleanup(func() { e.stop() })

	var failNext atomic.Bool
	failed := make(chan struct{}, 1)
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !failNext.CompareAndSwap(true, false) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		failed <- struct{}{}
		return resp, nil, true
	})

	p := e.project()
	e.enable(p.ID, true)
	e.produce(tenancy.RawTopic(p.ID, "", "orders"), events(50, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })...)
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	wait(gate.entered, "the first batch")
	failNext.Store(true)
	wait(failed, "a heartbeat to fail")
	close(gate.release)

	e.waitCount(p.ID, "orders", 50)
	if got := readAll(t, b, tenancy.BackendOutboundTopic(p.ID, "orders"), 50); len(got) != 50 {
		t.Fatalf("%d outbound records, want 50", len(got))
	}
}
