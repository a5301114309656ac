package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// batchStep is what sluice's sluice_pipeline_batch_seconds histogram says
// of one step of the batches committed between two scrapes of /metrics:
// how many, their mean, and p50 and p99 estimated from the buckets
// (linear within a bucket, so no finer than the buckets: 0.5 ms doubling).
type batchStep struct {
	Step    string  `json:"step"`
	Batches int     `json:"batches"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
}

// batchStepOrder is the order of a batch's steps.
var batchStepOrder = []string{"validating", "storing", "publishing", "committing"}

const batchHistogram = "sluice_pipeline_batch_seconds"

// histogram is one series of a Prometheus histogram: its buckets' upper
// bounds and cumulative counts (ascending, +Inf last, as Prometheus' text
// format lists them), sum and count.
type histogram struct {
	le, cum    []float64
	sum, count float64
}

// histograms reads the series of histogram name from Prometheus text, by
// the value of label.
func histograms(text, name, label string) map[string]*histogram {
	out := map[string]*histogram{}
	get := func(labels string) *histogram {
		v, _ := labelValue(labels, label)
		h := out[v]
		if h == nil {
			h = &histogram{}
			out[v] = h
		}
		return h
	}
	for _, line := range strings.Split(text, "\n") {
		i := strings.LastIndexByte(line, ' ')
		if !strings.HasPrefix(line, name+"_") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series, labels, _ := strings.Cut(line[:i], "{")
		switch series {
		case name + "_bucket":
			leS, _ := labelValue(labels, "le")
			le, err := strconv.ParseFloat(leS, 64) // "+Inf" parses as +Inf
			if err != nil {
				continue
			}
			h := get(labels)
			h.le, h.cum = append(h.le, le), append(h.cum, v)
		case name + "_sum":
			get(labels).sum = v
		case name + "_count":
			get(labels).count = v
		}
	}
	return out
}

// minus is h's observations since earlier (the same series, scraped
// before); a nil earlier is no observations.
func (h *histogram) minus(earlier *histogram) *histogram {
	d := &histogram{le: h.le, cum: append([]float64(nil), h.cum...), sum: h.sum, count: h.count}
	if earlier == nil || len(earlier.cum) != len(h.cum) {
		return d
	}
	for i := range d.cum {
		d.cum[i] -= earlier.cum[i]
	}
	d.sum -= earlier.sum
	d.count -= earlier.count
	return d
}

// quantile estimates the q-quantile, linearly within its bucket; the last
// finite bound when it falls in +Inf's.
func (h *histogram) quantile(q float64) float64 {
	if h.count <= 0 || len(h.le) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lo, below := 0.0, 0.0
	for i, le := range h.le {
		if h.cum[i] >= rank {
			if math.IsInf(le, 1) {
				return lo
			}
			if in := h.cum[i] - below; in > 0 {
				return lo + (le-lo)*(rank-below)/in
			}
			return le
		}
		lo, below = le, h.cum[i]
	}
	return lo
}

// batchSteps compares two scrapes of sluice's /metrics: the steps of the
// batches committed in between.
func batchSteps(before, after string) []batchStep {
	b, a := histograms(before, batchHistogram, "step"), histograms(after, batchHistogram, "step")
	var out []batchStep
	for _, step := range batchStepOrder {
		h := a[step]
		if h == nil {
			continue
		}
		d := h.minus(b[step])
		if d.count <= 0 {
			continue
		}
		out = append(out, batchStep{Step: step, Batches: int(d.count), MeanMs: 1000 * d.sum / d.count,
			P50Ms: 1000 * d.quantile(0.5), P99Ms: 1000 * d.quantile(0.99)})
	}
	return out
}

// batchStepsMarkdown is a table of steps, the batches committed during
// what (e.g. "the latency run"), with why they matter.
func batchStepsMarkdown(steps []batchStep, what, why string) string {
	if len(steps) == 0 {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Where the pipeline's batches spent their time during %s (sluice's `%s`, the %d batches committed meanwhile; p50 and p99 estimated from its buckets). %s.\n\n",
		what, batchHistogram, steps[0].Batches, why)
	s.WriteString("| step | mean ms | p50 ms | p99 ms |\n|---|---|---|---|\n")
	var mean float64
	for _, st := range steps {
		fmt.Fprintf(&s, "| %s | %.1f | %.1f | %.1f |\n", st.Step, st.MeanMs, st.P50Ms, st.P99Ms)
		mean += st.MeanMs
	}
	fmt.Fprintf(&s, "| a whole batch | %.1f | | |\n\n", mean)
	return s.String()
}
