package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// sluicebench engines pipeline|queries OUT RAW.json=REPORT.md...: one
// section of RESULTS.md for the same benchmark run on several stores
// (bench/run.sh --stores duckdb,clickhouse): a table of the engines side
// by side, then each engine's own report, its headings one level down.
func engines(args []string) error {
	if len(args) < 3 || (args[0] != "pipeline" && args[0] != "queries") {
		return errors.New("usage: sluicebench engines pipeline|queries OUT RAW.json=REPORT.md...")
	}
	kind, out := args[0], args[1]
	var raws, reports []string
	for _, a := range args[2:] {
		raw, md, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want RAW.json=REPORT.md", a)
		}
		raws, reports = append(raws, raw), append(reports, md)
	}
	var head string
	var err error
	if kind == "pipeline" {
		head, err = pipelineEngines(raws)
	} else {
		head, err = queriesEngines(raws)
	}
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(head)
	for _, md := range reports {
		body, err := os.ReadFile(md)
		if err != nil {
			return err
		}
		b.WriteString("\n")
		b.WriteString(demote(string(body)))
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

// demote puts every Markdown heading of doc one level down.
func demote(doc string) string {
	lines := strings.Split(doc, "\n")
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			lines[i] = "#" + l
		}
	}
	return strings.Join(lines, "\n")
}

func readJSON[T any](file string) (T, error) {
	var v T
	b, err := os.ReadFile(file)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%s: %w", file, err)
	}
	return v, nil
}

// pipelineEngines is the pipeline benchmark's engines side by side.
func pipelineEngines(raws []string) (string, error) {
	var reps []pipeReport
	for _, f := range raws {
		r, err := readJSON[pipeReport](f)
		if err != nil {
			return "", err
		}
		reps = append(reps, r)
	}
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	var names []string
	for _, r := range reps {
		names = append(names, r.Store)
	}
	w("# Event pipeline and store benchmark: %s\n\n", strings.Join(names, " and "))
	w("Written by `bench/run.sh --stores …` (`bench/pipeline.go`, `bench/engines.go`): the same benchmark on each store, one after the other, ")
	w("in one run against the same broker on the same machine. Events per CPU-second count sluice's CPU and, for ClickHouse, its servers' too ")
	w("(DuckDB works inside sluice's process, ClickHouse in its own). The engines' own reports follow the table.\n\n")
	w("| |")
	for _, n := range names {
		w(" %s |", n)
	}
	w("\n|---|")
	for range names {
		w("---|")
	}
	w("\n")
	row := func(what string, f func(r *pipeReport) string) {
		w("| %s |", what)
		for i := range reps {
			w(" %s |", f(&reps[i]))
		}
		w("\n")
	}
	row("events per drain", func(r *pipeReport) string { return fmt.Sprintf("%d of %d B", r.Events, r.RecordSize) })
	row("events per CPU-second (median of the drains; each)", func(r *pipeReport) string {
		all, med := r.throughput()
		var each []string
		for _, v := range all {
			each = append(each, fmt.Sprintf("%.0f", v))
		}
		return fmt.Sprintf("**%.0f** (%s)", med, strings.Join(each, ", "))
	})
	row("of which the store's servers' CPU (all drains)", func(r *pipeReport) string {
		var cpu, store float64
		for _, d := range r.drains() {
			cpu += d.CPUSeconds
			store += d.StoreCPUSeconds
		}
		if store == 0 {
			return "— (in sluice's process)"
		}
		return fmt.Sprintf("%.1f of %.1f s (%.0f%%)", store, cpu, 100*store/cpu)
	})
	row("events/s, wall (median of the drains)", func(r *pipeReport) string {
		var v []float64
		for _, d := range r.drains() {
			v = append(v, d.EventsPerS)
		}
		return fmt.Sprintf("%.0f", spreadOf(v).Median)
	})
	row("produce → countable p50 / p99 / max", func(r *pipeReport) string {
		l := r.Latency
		return fmt.Sprintf("%.0f / **%.0f** / %.0f ms at %d events/s", l.P50, l.P99, l.Max, l.Rate)
	})
	row("count with one filter (p50 / p99, HTTP)", func(r *pipeReport) string {
		for _, q := range r.Queries {
			if strings.HasPrefix(q.Name, "count, 1 filter") {
				return fmt.Sprintf("%.1f / %.1f ms over %d events", q.P50Ms, q.P99Ms, r.Events)
			}
		}
		return "—"
	})
	row("extraction of a 1-hour timeframe (p50)", func(r *pipeReport) string {
		for _, q := range r.Queries {
			if strings.HasPrefix(q.Name, "extraction, 1-hour") {
				return fmt.Sprintf("%.1f ms", q.P50Ms)
			}
		}
		return "—"
	})
	row("sluice peak RSS (pipeline on)", func(r *pipeReport) string { return mib(r.PeakRSSkB) })
	row("drains by several nodes (`--nodes`)", func(r *pipeReport) string {
		if len(r.Nodes) == 0 {
			return "—"
		}
		var each []string
		for _, n := range r.Nodes {
			each = append(each, fmt.Sprintf("%d: %.0f events/s, %.0f per CPU-second", n.Nodes, n.Drain.EventsPerS, n.Drain.EventsPerCPUSecond))
		}
		return strings.Join(each, "; ")
	})
	w("\n")
	return s.String(), nil
}

// queriesEngines is the query benchmark's engines side by side.
func queriesEngines(raws []string) (string, error) {
	var reps []queriesReport
	for _, f := range raws {
		r, err := readJSON[queriesReport](f)
		if err != nil {
			return "", err
		}
		reps = append(reps, r)
	}
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w("## Queries: Keen's analyses on ")
	for i, r := range reps {
		if i > 0 {
			w(" and ")
		}
		w("%s (%d events)", r.Store, r.Events)
	}
	w("\n\nWritten by `bench/run.sh --benches queries --stores …` (`bench/queries.go`, `bench/engines.go`): the same events and questions on each store, ")
	w("one after the other in one run; each engine's report follows, with its direct baseline (plain SQL on the same engine). Goals are judged on sluice's p99.\n\n")
	w("| query | goal |")
	for _, r := range reps {
		w(" %s sluice p50 / p99 | %s direct p50 |", r.Store, r.Store)
	}
	w("\n|---|---|")
	for range reps {
		w("---|---|")
	}
	w("\n")
	for i, t := range reps[0].Timings {
		w("| %s | ≤ %.0f ms |", t.Name, t.GoalMs)
		for _, r := range reps {
			if i >= len(r.Timings) || r.Timings[i].Name != t.Name {
				w(" — | — |")
				continue
			}
			u := r.Timings[i]
			w(" %.1f / %.1f ms (%s) | %.1f ms |", u.SluiceP50, u.SluiceP99, verdict(u.SluiceP99 <= u.GoalMs), u.DirectP50)
		}
		w("\n")
	}
	w("| load (store's own Insert) | |")
	for _, r := range reps {
		w(" %.0f s, %.2f GiB stored | |", r.LoadSeconds, float64(r.StoreBytes)/(1<<30))
	}
	w("\n\n")
	return s.String(), nil
}
