// Package savedtest is the cached-query schedule's behaviour suite, run on
// the embedded log in fast tests and on Apache Kafka in e2e.
package savedtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// countingStore records each analysis run, by the process that ran it.
type countingStore struct {
	store.Store
	who string
	mu  *sync.Mutex
	log *[]run
}

type run struct {
	who string
	at  time.Time
}

func (c countingStore) Run(ctx context.Context, q store.Query) (store.Result, error) {
	c.mu.Lock()
	*c.log = append(*c.log, run{c.who, time.Now()})
	c.mu.Unlock()
	return c.Store.Run(ctx, q)
}

// crashable is a process's registry whose Leave fails once it "crashed":
// its member record stays until it expires, as after a kill.
type crashable struct {
	*registry.Registry
	self    string
	crashed atomic.Bool
}

func (c *crashable) Leave(ctx context.Context, group, id string) error {
	if c.crashed.Load() && id == c.self {
		return errors.New("crashed")
	}
	return c.Registry.Leave(ctx, group, id)
}

// ExactlyOnce runs three processes (a registry and a schedule
// each) on one backend: a cached query is computed once per refresh period
// in all, by one process; when that process leaves, another takes over at
// once, and when that one crashes (its member record left behind), the
// last takes over when the record expires — still once per period; every
// process holds the same cached result.
func ExactlyOnce(t *testing.T, brokers []string) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	model := storetest.NewModel()
	var regs []*registry.Registry
	for i := 0; i < 3; i++ {
		regs = append(regs, registrytest.Open(t, registrytest.Connect(t, brokers)))
	}
	ctx := context.Background()
	p, err := regs[0].CreateProject(ctx, "org", "P")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-time.Hour)
	if _, err := model.Insert(ctx, []store.Event{{ProjectID: p.ID, Collection: "c", ID: fmt.Sprintf("%024x", 1), Timestamp: ts, CreatedAt: ts,
		JSON: []byte(`{"keen":{"id":"000000000000000000000001","timestamp":"` + ts.UTC().Format(time.RFC3339Nano) + `"}}`)}}); err != nil {
		t.Fatal(err)
	}
	const period = 2 * time.Second
	now := time.Now().UTC()
	sq := registry.SavedQuery{ProjectID: p.ID, Name: "cached", Query: json.RawMessage(`{"analysis_type":"count","event_collection":"c"}`),
		RefreshRate: int(period / time.Second), Created: now, Modified: now}
	if _, err := regs[0].PutSavedQuery(ctx, sq); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var runs []run
	cancels := make([]context.CancelFunc, 3)
	done := make([]chan struct{}, 3)
	wrapped := make([]*crashable, 3)
	for i, reg := range regs {
		id := fmt.Sprintf("process-%d", i)
		wrapped[i] = &crashable{Registry: reg, self: id}
		s, err := saved.NewSchedule(saved.ScheduleConfig{
			Registry: wrapped[i], Runner: saved.Runner{Store: countingStore{model, id, &mu, &runs}}, ID: id,
			Beat: 100 * time.Millisecond, TTL: 1500 * time.Millisecond, Grace: 300 * time.Millisecond, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		cancels[i], done[i] = cancel, make(chan struct{})
		go func() { defer close(done[i]); s.Run(sctx) }()
	}
	defer func() {
		for i := range cancels {
			cancels[i]()
			<-done[i]
		}
	}()

	// runsSince returns the runs after the first n, and checks they are by
	// one process.
	runsSince := func(n int, phase string) ([]run, string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		rs := append([]run(nil), runs[n:]...)
		if len(rs) == 0 {
			t.Fatalf("%s: no run", phase)
		}
		for _, r := range rs {
			if r.who != rs[0].who {
				t.Fatalf("%s: two processes computed: %+v", phase, rs)
			}
		}
		return rs, rs[0].who
	}
	index := func(who string) int { return int(who[len(who)-1] - '0') }

	time.Sleep(3 * period)
	first, leader := runsSince(0, "all up")
	// The leader leaves; another takes over.
	cancels[index(leader)]()
	<-done[index(leader)]
	time.Sleep(3 * period)
	second, next := runsSince(len(first), "after a leave")
	if next == leader {
		t.Fatalf("%s ran after it left", leader)
	}
	// The next one crashes: its record stays until it expires.
	wrapped[index(next)].crashed.Store(true)
	cancels[index(next)]()
	<-done[index(next)]
	time.Sleep(3 * period)
	_, last := runsSince(len(first)+len(second), "after a crash")
	if last == leader || last == next {
		t.Fatalf("%s ran after %s left and %s crashed", last, leader, next)
	}

	mu.Lock()
	all := append([]run(nil), runs...)
	mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	// Exactly once per period: consecutive runs are a period apart (less
	// the beat's jitter), and never more than a period and the time to
	// notice it (a beat, a takeover after a crash: TTL + grace).
	const slack = 1500*time.Millisecond + 300*time.Millisecond + 2*100*time.Millisecond
	for i := 1; i < len(all); i++ {
		gap := all[i].at.Sub(all[i-1].at)
		if gap < period-150*time.Millisecond || gap > period+slack {
			t.Fatalf("runs %d and %d are %s apart (period %s): %+v", i-1, i, gap, period, all)
		}
	}
	if len(all) < 7 {
		t.Fatalf("%d runs in 9 periods: %+v", len(all), all)
	}
	// Every process holds the same cached result, the last run's: once the
	// last leader has stopped, so that no run lands between two reads.
	cancels[index(last)]()
	<-done[index(last)]
	var results []registry.SavedResult
	for _, reg := range regs {
		if err := reg.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		reg.Read(func(v *registry.View) {
			res, ok := v.SavedResult(p.ID, "cached")
			if !ok {
				t.Fatal("a process has no cached result")
			}
			results = append(results, res)
		})
	}
	for _, r := range results {
		if string(r.Body) != `{"result":1}` || !r.RunAt.Equal(results[0].RunAt) || r.Status != 200 {
			t.Fatalf("cached results differ or are wrong: %+v", results)
		}
	}
	t.Logf("%d runs: %d by %s, then %d by %s, then by %s", len(all), len(first), leader, len(second), next, last)
}
