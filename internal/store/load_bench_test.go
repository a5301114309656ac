package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// BenchmarkLoad1M inserts 1M events of about 1 KB in batches of 10,000
// (from 9 partitions, as the pipeline gives them) and prints, per 100,000
// events, the CPU per event and the slowest Insert (checkpoints included:
// they block commits, so the slowest Insert bounds the pipeline's stalls).
// Set SLUICE_BENCH_1M=1 to run it.
//
//	SLUICE_BENCH_1M=1 go test -run x -bench Load1M -benchtime 1x ./internal/store/
func BenchmarkLoad1M(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	const total, batch, window = 1_000_000, 10_000, 100_000
	for b.Loop() {
		s := openTest(b, b.TempDir())
		ctx := context.Background()
		r := rand.New(rand.NewPCG(1, 1))
		var wall, cpu, worst, allCPU, allWorst time.Duration
		for i := 0; i < total; i += batch {
			b.StopTimer()
			evs := benchEvents(r, "p1", "pageviews", fmt.Sprintf("pv%d-", i), batch)
			for j := range evs {
				evs[j].Source = Source{Topic: "raw.pageviews", Partition: int32(j % 9), Offset: int64((i + j) / 9)}
			}
			b.StartTimer()
			w0, c0 := time.Now(), processCPU()
			if _, err := s.Insert(ctx, evs); err != nil {
				b.Fatal(err)
			}
			d, c := time.Since(w0), processCPU()-c0
			wall, cpu, allCPU = wall+d, cpu+c, allCPU+c
			worst, allWorst = max(worst, d), max(allWorst, d)
			if (i+batch)%window == 0 {
				fmt.Fprintf(os.Stderr, "%8d events: %5.1f µs CPU/event, %6.0f events/s, slowest insert %v\n",
					i+batch, float64(cpu.Microseconds())/window, window/wall.Seconds(), worst.Round(time.Millisecond))
				wall, cpu, worst = 0, 0, 0
			}
		}
		s.Close()
		b.ReportMetric(float64(allCPU.Microseconds())/total, "cpu-µs/event")
		b.ReportMetric(float64(allWorst.Milliseconds()), "slowest-insert-ms")
	}
}
