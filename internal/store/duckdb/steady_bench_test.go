package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// BenchmarkSteadyInserts inserts batches of 250 events from 9 partitions
// into one growing collection, back to back, as the pipeline does at a
// steady 5,000 events/s (SLUICE_BENCH_STEADY events, 300,000 by default),
// and reports the CPU per event and, per step of Insert (insertSteps), the
// median, the p99 and the slowest, and the Inserts during a checkpoint
// apart: a stall of the pipeline is an Insert that waited for one.
// SLUICE_BENCH_BATCH sets the events per Insert (a backlog draining while
// projects share the pipeline: limits.PipelineFairShare),
// SLUICE_BENCH_CHECKPOINT_MB the store's checkpoint cadence.
//
//	SLUICE_BENCH_1M=1 go test -run x -bench SteadyInserts -benchtime 1x ./internal/store/duckdb/
func BenchmarkSteadyInserts(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	total, batch := steadyParams(300_000)
	for b.Loop() {
		s := openTest(b, b.TempDir())
		var steps []insertSteps
		s.traced = func(st insertSteps) { steps = append(steps, st) }
		var ckRuns, ckFails atomic.Int64
		var ckTook []time.Duration
		s.ck.ran = func(took time.Duration, err error) {
			ckRuns.Add(1)
			ckTook = append(ckTook, took)
			if err != nil {
				ckFails.Add(1)
				fmt.Fprintln(os.Stderr, "checkpoint:", err)
			}
		}
		ctx := context.Background()
		batches := steadyBatches(total, batch)
		if every, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_CHECKPOINT_MB")); err == nil && every > 0 {
			s.checkpointEvery = every << 20
		}
		var cpu, wall, worst time.Duration
		var src steadySource
		for i := 0; i < total; i += batch {
			evs := src.next(batches, i, batch)
			t0, c0 := time.Now(), processCPU()
			res, err := s.Insert(ctx, evs)
			if err != nil {
				b.Fatal(err)
			}
			cpu += processCPU() - c0
			if !sameResult(res, tally{Inserted: len(evs)}) {
				b.Fatalf("Insert at %d: %+v", i, tallyOf(res))
			}
			d := time.Since(t0)
			wall += d
			worst = max(worst, d)
		}
		s.traced = nil
		s.Close()
		fmt.Fprintf(os.Stderr, "background checkpoints: %d runs, %d failed, took %v\n", ckRuns.Load(), ckFails.Load(), ckTook)
		pick := func(name string, f func(insertSteps) time.Duration) {
			ds := make([]time.Duration, 0, len(steps))
			var sum time.Duration
			for _, st := range steps {
				if d := f(st); d >= 0 {
					ds = append(ds, d)
					sum += d
				}
			}
			if len(ds) == 0 {
				return
			}
			slices.Sort(ds)
			fmt.Fprintf(os.Stderr, "%-30s mean %7.2f ms  p50 %7.2f ms  p99 %8.2f ms  max %8.2f ms\n", name,
				ms(sum/time.Duration(len(ds))), ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1]))
		}
		whole := func(st insertSteps) time.Duration {
			return st.flatten + st.wait + st.plan + st.append + st.sources + st.sync + st.commit
		}
		pick("insert", whole)
		pick("insert, no checkpoint running", func(st insertSteps) time.Duration {
			if st.duringCheckpoint {
				return -1
			}
			return whole(st)
		})
		pick("insert, a checkpoint running", func(st insertSteps) time.Duration {
			if !st.duringCheckpoint {
				return -1
			}
			return whole(st)
		})
		pick("flatten", func(st insertSteps) time.Duration { return st.flatten })
		pick("plan", func(st insertSteps) time.Duration { return st.plan })
		pick("append", func(st insertSteps) time.Duration { return st.append })
		pick("sources", func(st insertSteps) time.Duration { return st.sources })
		pick("sync", func(st insertSteps) time.Duration { return st.sync })
		pick("commit", func(st insertSteps) time.Duration { return st.commit })
		b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-µs/event")
		b.ReportMetric(float64(wall.Microseconds())/float64(total), "wall-µs/event")
		b.ReportMetric(ms(worst), "slowest-insert-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// steadyParams is the events in all (SLUICE_BENCH_STEADY, or def) and per
// Insert (SLUICE_BENCH_BATCH, or 250) of the steady benchmarks.
func steadyParams(def int) (total, batch int) {
	total, batch = def, 250
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_STEADY")); err == nil && n > 0 {
		total = n
	}
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_BATCH")); err == nil && n > 0 {
		batch = n
	}
	return total, batch
}

// steadyBatches is up to 64 batches of batch events of one collection,
// reused in turn.
func steadyBatches(total, batch int) [][]store.Event {
	r := rand.New(rand.NewPCG(1, 1))
	batches := make([][]store.Event, 0, 64)
	for i := 0; i < min(64, (total+batch-1)/batch); i++ {
		batches = append(batches, wordEvents(r, "p1", "steady", "", batch))
	}
	return batches
}

// steadySource numbers the events of the steady benchmarks as the
// pipeline's would be: a new id each, spread over 9 raw partitions.
type steadySource struct {
	offsets [9]int64 // each partition's next offset
}

// next is the batch of the Insert that starts at event i, with its ids and
// sources set.
func (s *steadySource) next(batches [][]store.Event, i, batch int) []store.Event {
	evs := batches[(i/batch)%len(batches)]
	for j := range evs {
		p := (i + j) % len(s.offsets)
		evs[j].ID = fmt.Sprintf("s%d", i+j)
		evs[j].Source = store.Source{Topic: "raw.steady", Partition: int32(p), Offset: s.offsets[p]}
		s.offsets[p]++
	}
	return evs
}
