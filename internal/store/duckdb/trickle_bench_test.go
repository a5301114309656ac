package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkTrickleAfterDrain loads 500,000 events (SLUICE_BENCH_DRAIN) in
// large, uneven batches (a backlog draining) while a poller counts, runs a
// few queries, then inserts 100-event batches into another collection ten
// times a second, as the pipeline does at 1,000 events/s. It reports the
// CPU per event of the drain, the slowest Insert of each phase (the stall
// the events behind it wait for) and DuckDB's free blocks (what checkpoints
// rewrote, until later writes reuse them). Before the store
// checkpointed itself (checkpointBytes), the first checkpoint after a
// drain merged the drain's partly filled row groups all at once.
//
//	SLUICE_BENCH_1M=1 go test -run x -bench TrickleAfterDrain -benchtime 1x ./internal/store/
func BenchmarkTrickleAfterDrain(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	drained := 500_000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_DRAIN")); err == nil && n > 0 {
		drained = n
	}
	for b.Loop() {
		s := openTest(b, b.TempDir())
		ctx := context.Background()
		r := rand.New(rand.NewPCG(1, 1))
		var drainWorst, drainCPU time.Duration
		// A poller counts while events arrive, as the benchmark's does.
		poll := func(coll string, every time.Duration) (stop func()) {
			done := make(chan struct{})
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				for {
					select {
					case <-done:
						return
					case <-time.After(every):
					}
					if _, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: coll}); err != nil {
						b.Error(err)
					}
				}
			}()
			return func() { close(done); <-stopped }
		}
		stopPoll := poll("drain", time.Second)
		// Uneven batches, as polls are: their partly filled row groups
		// are what a checkpoint merges.
		sizes := []int{40000, 31000, 27000, 1942, 35000, 38000, 12000}
		for i, k := 0, 0; i < drained; i, k = i+sizes[k%len(sizes)], k+1 {
			batch := sizes[k%len(sizes)]
			evs := wordEvents(r, "p1", "drain", fmt.Sprintf("d%d-", i), batch)
			for j := range evs {
				evs[j].Source = store.Source{Topic: "raw.drain", Partition: int32(j % 9), Offset: int64((i + j) / 9)}
			}
			t0, c0 := time.Now(), processCPU()
			if _, err := s.Insert(ctx, evs); err != nil {
				b.Fatal(err)
			}
			drainCPU += processCPU() - c0
			drainWorst = max(drainWorst, time.Since(t0))
			if d := time.Since(t0); d > 800*time.Millisecond {
				fmt.Fprintf(os.Stderr, "drain insert at %d took %v\n", i, d.Round(time.Millisecond))
			}
		}
		stopPoll()
		dbSize := func(when string) {
			var used, free int64
			if err := s.conn.QueryRowContext(ctx, "SELECT used_blocks, free_blocks FROM pragma_database_size() WHERE database_name = '"+dbAlias+"'").Scan(&used, &free); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(os.Stderr, "%s: %d blocks used, %d free\n", when, used, free)
		}
		dbSize("after the drain")

		// The pipeline benchmark's queries run between its drain and its
		// trickle: they fill DuckDB's buffers.
		for _, q := range []store.Query{
			{Filters: []store.Filter{{Path: []string{"user", "country"}, Operator: "eq", Value: "paris"}}},
			{Filters: []store.Filter{{Path: []string{"text"}, Operator: "contains", Value: "checkout pricing"}}},
		} {
			q.ProjectID, q.Collection = "p1", "drain"
			for range 5 {
				if _, err := s.Count(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := s.Extract(ctx, store.Query{ProjectID: "p1", Collection: "drain", Latest: 100}); err != nil {
			b.Fatal(err)
		}
		var worst time.Duration
		stopPoll = poll("trickle", 20*time.Millisecond)
		for i := range 300 {
			evs := wordEvents(r, "p1", "trickle", fmt.Sprintf("t%d-", i), 100)
			for j := range evs {
				evs[j].Source = store.Source{Topic: "raw.trickle", Partition: int32(j % 9), Offset: int64((i*100 + j) / 9)}
			}
			t0 := time.Now()
			if _, err := s.Insert(ctx, evs); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t0)
			if d > 200*time.Millisecond {
				fmt.Fprintf(os.Stderr, "trickle insert %d took %v\n", i, d.Round(time.Millisecond))
			}
			worst = max(worst, d)
			time.Sleep(100*time.Millisecond - min(d, 100*time.Millisecond))
		}
		stopPoll()
		dbSize("after the trickle")
		s.Close()
		b.ReportMetric(float64(drainCPU.Microseconds())/float64(drained), "drain-cpu-µs/event")
		b.ReportMetric(float64(drainWorst.Milliseconds()), "slowest-drain-insert-ms")
		b.ReportMetric(float64(worst.Milliseconds()), "slowest-trickle-insert-ms")
	}
}
