package main

import (
	"fmt"
	"strings"
	"time"
)

// pipeReport is everything the pipeline benchmark measured.
// drainFigures are one drain's.
type drainFigures struct {
	EventsAtStart       int64     `json:"events_countable_at_start"`
	Events              int64     `json:"events"`
	Seconds             float64   `json:"seconds"`
	CPUSeconds          float64   `json:"sluice_cpu_seconds"` // with StoreCPUSeconds
	StoreCPUSeconds     float64   `json:"store_cpu_seconds"`  // the ClickHouse servers' (pipeline_clickhouse.go)
	EventsPerS          float64   `json:"events_per_s"`
	EventsPerCPUSecond  float64   `json:"events_per_cpu_second"`
	Cores               float64   `json:"sluice_cores"`
	WindowsPerCPUSecond []float64 `json:"windows_events_per_cpu_second"`
	Complete            bool      `json:"complete"`
	CountAtEnd          int64     `json:"count_at_end"` // the last poll's`
	Transactions        int64     `json:"transactions"`
	DatabaseBytes       int64     `json:"database_bytes"`
	JSONLogBytes        int64     `json:"json_log_bytes"`
	PeakRSSkB           int64     `json:"peak_rss_kb"`
	// NodeCPUSeconds are each sluice process's share of CPUSeconds, when
	// several drained (--nodes).
	NodeCPUSeconds []float64        `json:"node_cpu_seconds,omitempty"`
	ClickHouse     *chServerFigures `json:"clickhouse,omitempty"`
}

// throughput returns every drain's events per CPU-second, in order, and
// their median: the figure the goal is judged on.
func (r *pipeReport) throughput() ([]float64, float64) {
	all := []float64{r.Drain.EventsPerCPUSecond}
	for _, d := range r.MoreDrains {
		all = append(all, d.EventsPerCPUSecond)
	}
	return all, spreadOf(all).Median
}

type pipeReport struct {
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	Machine    machine   `json:"machine"`
	LoadEnd    string    `json:"loadavg_end"`
	Project    string    `json:"project"`
	Events     int       `json:"events"`
	RecordSize int       `json:"record_size"`
	Store      string    `json:"store"` // DuckDB or ClickHouse

	PreloadSeconds float64      `json:"preload_seconds"`
	Drain          drainFigures `json:"drain"`
	// MoreDrains are the drains after the first (--drains): each one of a
	// new project's preloaded events, into the same store.
	MoreDrains       []drainFigures  `json:"more_drains,omitempty"`
	Queries          []queryFigures  `json:"queries"`
	QueriesPeakRSSkB int64           `json:"queries_peak_rss_kb"`
	Latency          latencyFigures2 `json:"latency"`
	LatencyPeakRSSkB int64           `json:"latency_peak_rss_kb"`
	PeakRSSkB        int64           `json:"peak_rss_kb"` // VmHWM of the pipeline-on process
	Profile          *drainProfile   `json:"drain_profile,omitempty"`
	Nodes            []nodesFigures  `json:"nodes,omitempty"` // --nodes
}

// drainProfile is sluice's CPU profile during the drain, by stage.
type drainProfile struct {
	Seconds      float64   `json:"seconds"`
	At           float64   `json:"at_seconds"` // from the start of the drain
	GoSampledCPU float64   `json:"go_sampled_cpu_seconds"`
	ProcCPU      float64   `json:"proc_cpu_seconds"`
	Hotspots     []hotspot `json:"hotspots"`
}

type queryFigures struct {
	Name, Analysis, Params string
	Result                 string
	MinMs, P50Ms, P99Ms    float64
	MaxMs                  float64
}

// latencyFigures2 is the produce → countable distribution (ms).
type latencyFigures2 struct {
	Rate                   int
	Seconds, WarmupSeconds float64
	PollMs                 float64
	Measured, NotSeen      int
	P50, P99, P999, Max    float64
	// PollP50, PollP99: the polls' own round trips (ms), part of each
	// figure.
	PollP50, PollP99 float64
	// Steps: the pipeline's batches committed during the run.
	Steps []batchStep
}

func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

func (r *pipeReport) markdown(c pipeConfig) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	m := r.Machine
	commit, commitNote := c.commit, c.modifiedNote()
	d := r.Drain
	w("# Event pipeline and store benchmark (%s)\n\n", r.Store)
	w("Written by `bench/run.sh` (`bench/pipeline.go`); do not edit by hand, run it again. There is no direct baseline here ")
	w("(Kafka itself has no store to compare with): the figures are sluice's own, against the goals of issue 4.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s (this part took %s) |\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	w("| machine | %d cores, %s; %.1f GiB memory; Linux %s |\n", m.Cores, m.CPUModel, m.MemGiB, m.Kernel)
	w("| load average before / after | %s / %s |\n", m.LoadAvg, r.LoadEnd)
	w("| commit | `%s`%s |\n", commit, commitNote)
	w("| command | `%s` |\n", c.command)
	for _, kv := range c.envPairs() {
		w("| %s | %s |\n", kv[0], kv[1])
	}
	w("\nEverything runs on this one machine (broker JVM, sluice, the load generator and the poller). ")
	w("On a machine shared with other work the figures are noisy: read the load average above.\n\n")

	w("## Load\n\n| | |\n|---|---|\n")
	w("| events | %d JSON events of %d B (the Inbound benchmark's payloads: `keen.timestamp` in January 2026, `user.country`, `amount`, `tags`, text), no add-ons, through the Inbound listener (franz-go, acks=all) into collection `pipeline` (9 partitions) |\n", r.Events, r.RecordSize)
	w("| preload | sluice with `--pipeline=false`, as fast as possible: %.1f s; then sluice stopped and restarted on the same data dir with the pipeline on |\n", r.PreloadSeconds)
	w("| drain | from sluice ready to `count` (HTTP, polled every second) = %d; CPU = utime+stime of sluice (/proc/PID/stat) over the same interval |\n", r.Events)
	w("| queries | each run 2 times (warm-up) then %d times, one at a time, over HTTP (POST, JSON parameters, read key); time = client round trip |\n", c.queryRuns)
	w("| latency | %d events/s for %.0f s (first %.0f s left out) into collection `latency`, each with `\"seq\": i`; a poller runs a `select_unique` of `seq` over the events not yet seen every %.0f ms; an event's latency = its acknowledgement → end of the first poll that holds it, each event on its own (one clock, one process): an upper bound by up to one poll interval and the poll's round trip (p50 %.0f ms, p99 %.0f ms) |\n\n",
		r.Latency.Rate, r.Latency.Seconds, r.Latency.WarmupSeconds, r.Latency.PollMs, r.Latency.PollP50, r.Latency.PollP99)

	w("## Pipeline throughput\n\n| | |\n|---|---|\n")
	w("| events drained | %d (%d were already countable at the first poll) |\n", d.Events, d.EventsAtStart)
	w("| wall time | %.1f s → %.0f events/s |\n", d.Seconds, d.EventsPerS)
	w("| sluice CPU | %.1f s (%.2f cores) → **%.0f events per CPU-second** |\n", d.CPUSeconds, d.Cores, d.EventsPerCPUSecond)
	if c.store != "" {
		w("| of which ClickHouse | %.1f s (the servers' processes; store `%s`) |\n", d.StoreCPUSeconds, c.store)
	}
	if len(d.WindowsPerCPUSecond) > 0 {
		sp := spreadOf(d.WindowsPerCPUSecond)
		w("| per 5-second window | min %.0f / median %.0f / max %.0f events per CPU-second (%d windows) |\n", sp.Min, sp.Median, sp.Max, len(d.WindowsPerCPUSecond))
	}
	if d.Transactions > 0 {
		w("| pipeline transactions | %d → %.0f events per poll (one transaction and one store Insert each) |\n", d.Transactions, float64(d.Events)/float64(d.Transactions))
	}
	if d.DatabaseBytes > 0 {
		w("| store on disk after the drain | DuckDB database and WAL %s, JSON logs %s |\n", mib(d.DatabaseBytes/1024), mib(d.JSONLogBytes/1024))
	}
	w("| sluice peak RSS while draining | %s |\n", mib(d.PeakRSSkB))
	all, median := r.throughput()
	if len(all) > 1 {
		var each []string
		for _, v := range all {
			each = append(each, fmt.Sprintf("%.0f", v))
		}
		w("| all %d drains | %s events per CPU-second → median **%.0f** (the first is the one above; each further drain preloaded %d events into a new project, with the pipeline off, then drained them into the same store: the host's speed varies from minute to minute, one drain is not enough) |\n",
			len(all), strings.Join(each, ", "), median, r.Events)
	}
	w("\n")
	if pr := r.Profile; pr != nil {
		w("Where sluice's CPU goes while draining: a Go CPU profile of %.0f s from %.0f s into the drain (`pipeline-cpu.pprof` in the work dir), summed by stage. ", pr.Seconds, pr.At)
		w("Go sampled %.1f CPU-seconds while /proc counted %.1f. Go's profiler also samples DuckDB's own threads (C++, not Go): they show as `runtime._ExternalCode`.\n\n",
			pr.GoSampledCPU, pr.ProcCPU)
		w("| share of Go samples | CPU s | what |\n|---|---|---|\n")
		for i, h := range pr.Hotspots {
			if i == 14 {
				break
			}
			w("| %.1f%% | %.2f | %s |\n", 100*h.Share, float64(h.Nanos)/1e9, h.What)
		}
		w("\n")
	}

	s.WriteString(r.clickhouseMarkdown())
	s.WriteString(r.nodesMarkdown())
	w("## Queries over %d stored events\n\n", r.Events)
	w("| query | result | min ms | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n")
	for _, q := range r.Queries {
		w("| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", q.Name, q.Result, q.MinMs, q.P50Ms, q.P99Ms, q.MaxMs)
	}
	w("\nParameters (plus the read key):\n\n")
	for _, q := range r.Queries {
		w("- %s: `%s` `%s`\n", q.Name, q.Analysis, q.Params)
	}
	w("\nsluice peak RSS during the queries: %s.\n\n", mib(r.QueriesPeakRSSkB))

	l := r.Latency
	w("## Produce acknowledged → countable\n\n")
	w("| events measured | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|\n")
	w("| %d | %.0f | %.0f | %.0f | %.0f |\n\n", l.Measured, l.P50, l.P99, l.P999, l.Max)
	s.WriteString(batchStepsMarkdown(l.Steps, "the latency run", "An event is countable once its own batch is validated and stored, after waiting for the batch in progress"))
	w("sluice peak RSS during the latency run: %s; over the whole pipeline-on process (VmHWM): %s.\n\n", mib(r.LatencyPeakRSSkB), mib(r.PeakRSSkB))

	var filtered float64
	for _, q := range r.Queries {
		if strings.HasPrefix(q.Name, "count, 1 filter") {
			filtered = q.P50Ms
		}
	}
	w("## Goals (reported, not asserted)\n\n| goal | target | measured | |\n|---|---|---|---|\n")
	what := "events per CPU-second"
	if len(all) > 1 {
		what = fmt.Sprintf("median of %d drains", len(all))
	}
	w("| pipeline throughput per core of sluice CPU (%s) | ≥ 50,000 events/s | %.0f | %s |\n", what, median, verdict(median >= 50000))
	w("| produce → countable p99 at %d events/s | ≤ 1,000 ms | %.0f ms | %s |\n", l.Rate, l.P99, verdict(l.P99 <= 1000))
	w("| count with one filter over %d events (p50, HTTP round trip) | ≤ 200 ms | %.1f ms | %s |\n", r.Events, filtered, verdict(filtered <= 200))
	// The performance issue's goals, beside the first ones.
	w("| pipeline throughput per core of sluice CPU, performance goal (%s) | ≥ 100,000 events/s | %.0f | %s |\n", what, median, verdict(median >= 100000))
	if l.Rate == 5000 {
		w("| produce → countable p99 at 5,000 events/s, performance goal | ≤ 250 ms | %.0f ms | %s |\n", l.P99, verdict(l.P99 <= 250))
	} else {
		w("| produce → countable p99 at 5,000 events/s, performance goal | ≤ 250 ms | not measured: this run's rate is %d events/s (`--rate 5000`) | |\n", l.Rate)
	}
	if r.Events < 1_000_000 {
		w("\nThis run stored %d events, not the 1,000,000 of the goal (`--events`): a smoke run.\n", r.Events)
	}
	if pr := r.Profile; pr != nil && median < 100000 {
		duck := duckDBShare(pr.Hotspots)
		w("\nThe throughput gap, from the drain's profile: DuckDB's work (its appender, statements, checkpoints and own threads) is %.0f%% of sluice's CPU; ", 100*duck)
		w("the rest, sluice's own (validation and enrichment, typed leaves, JSON logs, Kafka client, GC), would do about %.0f events per CPU-second by itself (this drain's %.0f ÷ %.2f).\n",
			r.Drain.EventsPerCPUSecond/(1-duck), r.Drain.EventsPerCPUSecond, 1-duck)
	}
	w("\n")
	return s.String()
}

// duckDBShare is the share of a pipeline profile's samples in DuckDB's
// code (the pipelineRules that name it).
func duckDBShare(hs []hotspot) float64 {
	var share float64
	for _, h := range hs {
		if strings.Contains(h.What, "DuckDB") {
			share += h.Share
		}
	}
	return share
}

// drains are every single-node drain in order.
func (r *pipeReport) drains() []drainFigures {
	return append([]drainFigures{r.Drain}, r.MoreDrains...)
}

// clickhouseMarkdown is what the servers did during each drain: the
// figures docs/clickhouse.md's saturation estimate rests on.
func (r *pipeReport) clickhouseMarkdown() string {
	if r.Drain.ClickHouse == nil {
		return ""
	}
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w("## The ClickHouse servers during the drains\n\n")
	w("Per drain: the servers' CPU (utime+stime of their processes), and their own counters (`system.events`, after minus before, summed over the servers): ")
	w("query threads' CPU (`UserTimeMicroseconds` + `SystemTimeMicroseconds`; the rest of the servers' CPU is merges and other background work), ")
	w("statements; rows and uncompressed MB inserted (`InsertedRows`, `InsertedBytes`: events and their claims), compressed MB the inserts wrote (`MergeTreeDataWriterCompressedBytes`) ")
	w("and MB the processes wrote to disk, merges included (`OSWriteBytes`); marks read by `SELECT`s (`SelectedMarks`, 8,192 rows each at most: the keen.id lookups of `sluice_claims` and the count polls); rows merged; ")
	w("then the database's active parts after the drain (`system.parts`). ")
	w("Each drain is a new project's: its keen.id lookups read only that project's claims (`sluice_claims` is ordered by project, then keen.id), ")
	w("so the events stored before (other projects') cost it nothing there; the lookups' growth with a project's own events is within each drain (docs/clickhouse.md, where one shard saturates).\n\n")
	w("| drain | events (stored before) | server CPU s | ms per 1,000 events | of which query threads | INSERT / SELECT statements | rows / MB inserted | MB written by inserts / to disk | marks read | rows merged | active parts, MB on disk after |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, d drainFigures, before int64) {
		f := d.ClickHouse
		if f == nil || d.Events == 0 {
			return
		}
		c := f.Counters
		q := float64(c["UserTimeMicroseconds"]+c["SystemTimeMicroseconds"]) / 1e6
		w("| %s | %d (%d) | %.1f | %.0f | %.1f s | %d / %d | %d / %.0f | %.0f / %.0f | %d | %d | %d, %.0f |\n",
			name, d.Events, before, d.StoreCPUSeconds, 1000*d.StoreCPUSeconds*1000/float64(d.Events), q,
			c["InsertQuery"], c["SelectQuery"], c["InsertedRows"], float64(c["InsertedBytes"])/1e6,
			float64(c["MergeTreeDataWriterCompressedBytes"])/1e6, float64(c["OSWriteBytes"])/1e6,
			c["SelectedMarks"], c["MergedRows"], f.Parts, float64(f.PartsBytes)/1e6)
	}
	for i, d := range r.drains() {
		row(fmt.Sprint(i+1), d, d.EventsAtStart+int64(i)*int64(r.Events))
	}
	for i, n := range r.Nodes {
		row(fmt.Sprintf("%d node(s), run %d", n.Nodes, i+1), n.Drain, n.Drain.EventsAtStart)
	}
	w("\n")
	return s.String()
}

// nodesMarkdown compares the drains by several nodes (--nodes).
func (r *pipeReport) nodesMarkdown() string {
	if len(r.Nodes) == 0 {
		return ""
	}
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w("## One node against several\n\n")
	w("Each row: a new project's %d events (`--nodes-events`) preloaded with the pipeline off, then drained by that many `sluice serve` processes started at once ", r.Nodes[0].Events)
	w("(pipeline on, one consumer group `sluice.pipeline` over the 9 partitions, each its own data dir and loopback ports, the same organization and `--store`), ")
	w("into a fresh database (no row finds another's claims). CPU: each sluice process's and the ClickHouse servers', from the first count poll to the last.\n\n")
	w("| nodes | database | events drained | count at the end | wall s | events/s | sluice CPU s per node | ClickHouse CPU s | total CPU s (cores) | events per CPU-second | transactions |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range r.Nodes {
		d := n.Drain
		per := []string{}
		for _, v := range d.NodeCPUSeconds {
			per = append(per, fmt.Sprintf("%.1f", v))
		}
		if len(per) == 0 {
			per = []string{fmt.Sprintf("%.1f", d.CPUSeconds-d.StoreCPUSeconds)}
		}
		w("| %d | %s | %d | %d | %.1f | %.0f | %s | %.1f | %.1f (%.2f) | **%.0f** | %d |\n", n.Nodes, n.Database, d.Events, d.CountAtEnd, d.Seconds, d.EventsPerS,
			strings.Join(per, " + "), d.StoreCPUSeconds, d.CPUSeconds, d.Cores, d.EventsPerCPUSecond, d.Transactions)
	}
	w("\n**Caveat: %d cores.** Every node, the ClickHouse server, the broker and the poller share this machine's cores, ", r.Machine.Cores)
	w("so several nodes cannot drain faster than one here: what the rows show is that several nodes drain one backlog together ")
	w("(the count at the end, at the last poll, should equal the %d events preloaded: more would be an event stored twice) and what that costs in CPU ", r.Nodes[0].Events)
	w("(each node's own polls, transactions and smaller Inserts, the group's rebalance at the start). ")
	w("How several nodes scale on machines of their own is not measured here.\n\n")
	return s.String()
}
