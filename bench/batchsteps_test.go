package main

import (
	"math"
	"testing"
)

func TestBatchSteps(t *testing.T) {
	before := `# HELP sluice_pipeline_batch_seconds x
# TYPE sluice_pipeline_batch_seconds histogram
sluice_pipeline_batch_seconds_bucket{step="storing",le="0.01"} 10
sluice_pipeline_batch_seconds_bucket{step="storing",le="0.02"} 10
sluice_pipeline_batch_seconds_bucket{step="storing",le="0.04"} 10
sluice_pipeline_batch_seconds_bucket{step="storing",le="+Inf"} 10
sluice_pipeline_batch_seconds_sum{step="storing"} 0.05
sluice_pipeline_batch_seconds_count{step="storing"} 10
sluice_pipeline_transactions_total{result="committed"} 10
`
	// 100 more batches: 50 of 10–20 ms, 49 of 20–40 ms, 1 over 40 ms.
	after := `sluice_pipeline_batch_seconds_bucket{step="storing",le="0.01"} 10
sluice_pipeline_batch_seconds_bucket{step="storing",le="0.02"} 60
sluice_pipeline_batch_seconds_bucket{step="storing",le="0.04"} 109
sluice_pipeline_batch_seconds_bucket{step="storing",le="+Inf"} 110
sluice_pipeline_batch_seconds_sum{step="storing"} 2.55
sluice_pipeline_batch_seconds_count{step="storing"} 110
sluice_pipeline_batch_seconds_bucket{step="committing",le="0.01"} 4
sluice_pipeline_batch_seconds_bucket{step="committing",le="0.02"} 4
sluice_pipeline_batch_seconds_bucket{step="committing",le="0.04"} 4
sluice_pipeline_batch_seconds_bucket{step="committing",le="+Inf"} 4
sluice_pipeline_batch_seconds_sum{step="committing"} 0.02
sluice_pipeline_batch_seconds_count{step="committing"} 4
`
	got := batchSteps(before, after)
	if len(got) != 2 || got[0].Step != "storing" || got[1].Step != "committing" {
		t.Fatalf("steps %+v, want storing then committing (a step new since the first scrape counts whole)", got)
	}
	s := got[0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	// p50: rank 50 is the last of the 50 in (10, 20] ms; p99: rank 99, the
	// 49th of the 49 in (20, 40].
	if s.Batches != 100 || !near(s.MeanMs, 25) || !near(s.P50Ms, 20) || !near(s.P99Ms, 40) {
		t.Errorf("storing %+v, want 100 batches, mean 25 ms, p50 20 ms, p99 40 ms", s)
	}
	if c := got[1]; c.Batches != 4 || !near(c.MeanMs, 5) || !near(c.P50Ms, 5) {
		t.Errorf("committing %+v, want 4 batches, mean 5 ms, p50 5 ms (half-way into the first bucket)", c)
	}
	if q := (&histogram{le: []float64{0.01, math.Inf(1)}, cum: []float64{0, 3}, count: 3}).quantile(0.5); q != 0.01 {
		t.Errorf("a quantile in the +Inf bucket = %v, want the last finite bound", q)
	}
}
