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

	"github.com/sluice-io/sluice/internal/dataset"
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
// process holds the same cached result. A dataset, the schedule's task, is
// computed likewise: once per period, by the leader only.
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
		JSON: []byte(`{"keen":{"id":"000000000000000000000001","timestamp":"` + ts.UTC().Format(time.RFC3339Nano) + `"},"u":"x"}`)}}); err != nil {
		t.Fatal(err)
	}
	const period = 2 * time.Second
	now := time.Now().UTC()
	sq := registry.SavedQuery{ProjectID: p.ID, Name: "cached", Query: json.RawMessage(`{"analysis_type":"count","event_collection":"c"}`),
		RefreshRate: int(period / time.Second), Created: now, Modified: now}
	if _, err := regs[0].PutSavedQuery(ctx, sq); err != nil {
		t.Fatal(err)
	}
	if err := regs[0].PutDataset(ctx, registry.Dataset{ProjectID: p.ID, Name: "ds", DisplayName: "DS", IndexBy: []string{"u"},
		Query:   json.RawMessage(`{"analysis_type":"count","event_collection":"c","timeframe":"this_2_days","interval":"daily"}`),
		Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var runs, dsRuns []run
	cancels := make([]context.CancelFunc, 3)
	done := make([]chan struct{}, 3)
	wrapped := make([]*crashable, 3)
	for i, reg := range regs {
		id := fmt.Sprintf("process-%d", i)
		wrapped[i] = &crashable{Registry: reg, self: id}
		s, err := saved.NewSchedule(saved.ScheduleConfig{
			Registry: wrapped[i], Runner: saved.Runner{Store: countingStore{model, id, &mu, &runs}}, ID: id,
			Tasks: []saved.Task{&dataset.Refresher{Registry: wrapped[i], Store: countingStore{model, id, &mu, &dsRuns}, Every: period, Logger: logger}},
			Beat:  100 * time.Millisecond, TTL: 1500 * time.Millisecond, Grace: 300 * time.Millisecond, Logger: logger,
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

	// runsSince returns the runs of log after the first n, and checks
	// they are by one process.
	runsSince := func(log *[]run, n int, phase string) ([]run, string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		rs := append([]run(nil), (*log)[n:]...)
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

	// checkDatasets checks the dataset runs after the first n are by
	// who, the cached queries' leader, and returns how many there are.
	checkDatasets := func(n int, who, phase string) int {
		t.Helper()
		rs, by := runsSince(&dsRuns, n, phase+" (dataset)")
		if by != who {
			t.Fatalf("%s: the dataset was computed by %s, the cached query by %s", phase, by, who)
		}
		return n + len(rs)
	}

	time.Sleep(3 * period)
	first, leader := runsSince(&runs, 0, "all up")
	ds := checkDatasets(0, leader, "all up")
	// The leader leaves; another takes over.
	cancels[index(leader)]()
	<-done[index(leader)]
	time.Sleep(3 * period)
	second, next := runsSince(&runs, len(first), "after a leave")
	ds = checkDatasets(ds, next, "after a leave")
	if next == leader {
		t.Fatalf("%s ran after it left", leader)
	}
	// The next one crashes: its record stays until it expires.
	wrapped[index(next)].crashed.Store(true)
	cancels[index(next)]()
	<-done[index(next)]
	time.Sleep(3 * period)
	_, last := runsSince(&runs, len(first)+len(second), "after a crash")
	checkDatasets(ds, last, "after a crash")
	if last == leader || last == next {
		t.Fatalf("%s ran after %s left and %s crashed", last, leader, next)
	}

	// Exactly once per period: consecutive runs are a period apart (less
	// the beat's jitter), and never more than a period and the time to
	// notice it (a beat, a takeover after a crash: TTL + grace).
	const slack = 1500*time.Millisecond + 300*time.Millisecond + 2*100*time.Millisecond
	var all []run
	for _, log := range []*[]run{&runs, &dsRuns} {
		mu.Lock()
		all = append([]run(nil), (*log)...)
		mu.Unlock()
		sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
		for i := 1; i < len(all); i++ {
			gap := all[i].at.Sub(all[i-1].at)
			if gap < period-150*time.Millisecond || gap > period+slack {
				t.Fatalf("runs %d and %d are %s apart (period %s): %+v", i-1, i, gap, period, all)
			}
		}
		if len(all) < 7 {
			t.Fatalf("%d runs in 9 periods: %+v", len(all), all)
		}
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
	var dsRunAt []time.Time
	for _, reg := range regs {
		reg.Read(func(v *registry.View) {
			run, ok := v.DatasetRun(p.ID, "ds")
			_, kept := v.DatasetResult(p.ID, "ds", `["x"]`)
			if !ok || run.Status != 200 || run.Indexes != 1 || !kept {
				t.Fatalf("a process has no computed dataset: %+v (index value kept: %v)", run, kept)
			}
			dsRunAt = append(dsRunAt, run.RunAt)
		})
	}
	for _, at := range dsRunAt {
		if !at.Equal(dsRunAt[0]) {
			t.Fatalf("the processes hold different dataset runs: %v", dsRunAt)
		}
	}
	t.Logf("cached query: %d by %s, then %d by %s, then by %s; dataset: %d runs", len(first), leader, len(second), next, last, len(all))
}
