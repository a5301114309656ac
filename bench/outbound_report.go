package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// obReport is everything the Outbound benchmark measured.
type obReport struct {
	Started          time.Time   `json:"started"`
	Finished         time.Time   `json:"finished"`
	Machine          machine     `json:"machine"`
	LoadEnd          string      `json:"loadavg_end"`
	Project          string      `json:"project"`
	ConsumeRecords   int64       `json:"consume_records_per_run"`
	Consume          []obConsume `json:"consume"`
	ConsumePeakRSSkB int64       `json:"consume_sluice_peak_rss_kb"`
	ProfileRuns      []obConsume `json:"profile_runs,omitempty"`
	Hotspots         []hotspot   `json:"profile_hotspots,omitempty"`
	ProfileTop       string      `json:"-"`
	E2E              *obE2E      `json:"e2e"`
	PeakRSSkB        int64       `json:"sluice_peak_rss_kb"`
}

func (o *obench) write() error {
	if err := plotE2E(o.cfg, o.rep.E2E); err != nil {
		return fmt.Errorf("plotting: %w", err)
	}
	if o.cfg.raw != "" {
		raw, _ := json.MarshalIndent(o.rep, "", "  ")
		if err := os.WriteFile(o.cfg.raw, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(o.cfg.out, []byte(o.markdown()), 0o644); err != nil {
		return err
	}
	logf("outbound: wrote %s and %s", o.cfg.out, o.cfg.plot)
	return nil
}

// obPairs splits a consume series into its measured direct/sluice pairs.
func obPairs(rs []obConsume, series string) (direct, sluice []obConsume) {
	return pairsBy(rs, func(r obConsume) (int, string, bool) { return r.Pair, r.Side, r.Series == series })
}

// consumeFigures are one consume series' headline figures.
type consumeFigures struct {
	direct, sluice     []obConsume
	ratio              spread
	dMB, sMB, dRec     spread
	sRec               spread
	cpuPerGB, cores    spread
	brokerD, brokerS   spread // broker CPU s per GB
	clientD, clientS   spread // consumer CPU s per GB
	dFetchMB, sFetchMB spread
	dFetchMs, sFetchMs spread
	other              spread
}

func consumeFiguresOf(rs []obConsume, series string) consumeFigures {
	var f consumeFigures
	f.direct, f.sluice = obPairs(rs, series)
	mb := func(r obConsume) float64 { return r.MBps }
	rec := func(r obConsume) float64 { return r.RecordsPerS }
	perGB := func(cpu func(obConsume) float64) func(obConsume) float64 {
		return func(r obConsume) float64 { return cpu(r) / (float64(r.ValueBytes) / 1e9) }
	}
	f.dMB, f.sMB = spreadOf(field(f.direct, mb)), spreadOf(field(f.sluice, mb))
	f.dRec, f.sRec = spreadOf(field(f.direct, rec)), spreadOf(field(f.sluice, rec))
	f.ratio = spreadOf(pairwise(field(f.direct, mb), field(f.sluice, mb), func(d, s float64) float64 { return s / d }))
	f.cpuPerGB = spreadOf(field(f.sluice, perGB(func(r obConsume) float64 { return r.SluiceCPU })))
	f.cores = spreadOf(field(f.sluice, func(r obConsume) float64 { return r.SluiceCPU / r.Elapsed }))
	f.brokerD = spreadOf(field(f.direct, perGB(func(r obConsume) float64 { return r.BrokerCPU })))
	f.brokerS = spreadOf(field(f.sluice, perGB(func(r obConsume) float64 { return r.BrokerCPU })))
	f.clientD = spreadOf(field(f.direct, perGB(func(r obConsume) float64 { return r.LoadCPU })))
	f.clientS = spreadOf(field(f.sluice, perGB(func(r obConsume) float64 { return r.LoadCPU })))
	f.dFetchMB = spreadOf(field(f.direct, func(r obConsume) float64 { return r.MeanFetchMB }))
	f.sFetchMB = spreadOf(field(f.sluice, func(r obConsume) float64 { return r.MeanFetchMB }))
	f.dFetchMs = spreadOf(field(f.direct, func(r obConsume) float64 { return r.MeanFetchMs }))
	f.sFetchMs = spreadOf(field(f.sluice, func(r obConsume) float64 { return r.MeanFetchMs }))
	other := func(r obConsume) float64 { return r.OtherCPU / r.Elapsed }
	f.other = spreadOf(append(field(f.direct, other), field(f.sluice, other)...))
	return f
}

func (o *obench) markdown() string {
	c, rep, m := o.cfg, o.rep, o.rep.Machine
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	plain, txn := consumeFiguresOf(rep.Consume, "plain"), consumeFiguresOf(rep.Consume, "transactional")
	e := rep.E2E

	commit, note := c.commit, c.modifiedNote()
	w("# Kafka Outbound listener benchmark\n\n")
	w("Written by `sluicebench outbound` (`bench/outbound*.go`), run by `bench/run.sh`; do not edit by hand. ")
	w("What is measured and how: `bench/README.md`.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s (took %s) |\n", rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Finished.Sub(rep.Started).Round(time.Second))
	w("| machine | %d cores, %s; %.1f GiB memory; Linux %s |\n", m.Cores, m.CPUModel, m.MemGiB, m.Kernel)
	w("| load average before / after | %s / %s |\n", m.LoadAvg, rep.LoadEnd)
	w("| commit | `%s`%s |\n", commit, note)
	w("| command | `%s` |\n", c.command)
	for _, kv := range c.envPairs() {
		w("| %s | %s |\n", kv[0], kv[1])
	}
	w("| sluice | `sluice serve --kafka-brokers <PLAINTEXT>` with the pipeline on (the default), its own data dir, `--log-level warn`; the project's Kafka Outbound enabled over HTTP |\n\n")

	if len(c.shortRun) > 0 {
		w("**Not the default measurement** (%s): a check that the benchmark runs, on a shared machine; the lead's quiet-machine run with the defaults replaces it.\n\n", strings.Join(c.shortRun, ", "))
	}
	var others []float64
	for _, r := range rep.Consume {
		if r.Pair >= 1 {
			others = append(others, r.OtherCPU/r.Elapsed)
		}
	}
	if e != nil {
		for _, win := range e.Windows {
			others = append(others, win.OtherCores)
		}
	}
	noise := spreadOf(others)
	if noise.Median > 0.1 || noise.Max > 0.3 {
		w("**Noise:** other processes on this shared machine used %.2f cores (median over the measured runs; %.2f … %.2f) while the benchmark ran. ", noise.Median, noise.Min, noise.Max)
		w("Read the spread and the pair-by-pair ratios, not one figure.\n\n")
	} else {
		w("Other processes on the machine used %.2f cores (median over the measured runs; max %.2f).\n\n", noise.Median, noise.Max)
	}

	w("## Goals (reported, not asserted)\n\n")
	w("| goal | target | measured (throughput: median of pairs; min … max) | |\n|---|---|---|---|\n")
	w("| consume throughput ratio sluice / direct, plain batches | ≥ 0.95 | %.3f (%.3f … %.3f) | %s |\n", plain.ratio.Median, plain.ratio.Min, plain.ratio.Max, verdict(plain.ratio.Median >= 0.95))
	w("| consume throughput ratio sluice / direct, transactional batches | ≥ 0.95 | %.3f (%.3f … %.3f) | %s |\n", txn.ratio.Median, txn.ratio.Min, txn.ratio.Max, verdict(txn.ratio.Median >= 0.95))
	if e != nil {
		q := func(f func(obQuantiles) float64) spread {
			var v []float64
			for _, win := range e.Windows {
				v = append(v, f(win.Paths[pathAckToSluice]))
			}
			return spreadOf(v)
		}
		p50, p99 := q(func(x obQuantiles) float64 { return x.P50 }), q(func(x obQuantiles) float64 { return x.P99 })
		all := e.Pooled.Paths[pathAckToSluice]
		minutes := float64(len(e.Windows)) * e.WindowSeconds / 60
		p99Verdict := verdict(all.P99 <= 250)
		if minutes < e2eGoalMinutes {
			p99Verdict = fmt.Sprintf("not measured: the goal holds it over %d minutes, this run measured %.1f minutes", e2eGoalMinutes, minutes)
		}
		w("| end to end p50, produce ack → consumed on Outbound, %d events/s | ≤ 50 ms | %.1f ms, %.1f minutes pooled (windows %.1f … %.1f) | %s |\n", e.Rate, all.P50, minutes, p50.Min, p50.Max, verdict(all.P50 <= 50))
		w("| end to end p99, same, held over %d minutes | ≤ 250 ms | %.1f ms, pooled (%d windows of %.0f s: %.1f … %.1f) | %s |\n", e2eGoalMinutes, all.P99, len(e.Windows), e.WindowSeconds, p99.Min, p99.Max, p99Verdict)
	}
	w("\n")

	w("## Consume throughput\n\n")
	w("| | |\n|---|---|\n")
	w("| data | %d records of %d B JSON per topic (%.0f MB of values), preloaded once straight into the broker (PLAINTEXT), 9 partitions, RF 1 |\n", rep.ConsumeRecords, c.recordSize, float64(rep.ConsumeRecords*int64(c.recordSize))/1e6)
	w("| plain topic | written by an idempotent producer (franz-go defaults: sticky partitioner, batches up to 1 MB), no transactions |\n")
	w("| transactional topic | written in committed transactions of %d records spread round robin over the 9 partitions, as the pipeline publishes: every partition gets one batch and one commit marker per transaction, which the Outbound listener rewrites into an empty batch |\n", c.txnRecords)
	w("| consumer | Go, franz-go kgo, one client, every partition from the start, no group, read_committed, kgo's fetch defaults (50 MB per fetch, 1 MB per partition, one fetch in flight per broker); a new client per run, connected and authenticated (SASL_SSL PLAIN, TLS 1.3) before the clock starts |\n")
	w("| direct | the broker's SASL_SSL listener as admin, the backend topic by its backend name |\n")
	w("| through sluice | sluice's Outbound listener as the project (read key), the topic by its client name; sluice → broker over PLAINTEXT |\n")
	w("| runs | each run reads the whole topic (until every record is consumed); 1 warm-up pair, then %d A/B pairs (direct, then sluice) per topic |\n", c.pairs)
	w("| figures | MB = 10⁶ bytes of record values; CPU per GB = CPU seconds of a run ÷ 10⁹ bytes of record values read |\n\n")
	consumeSection := func(title string, f consumeFigures) {
		w("### %s\n\n", title)
		w("| | min | median | max |\n|---|---|---|---|\n")
		s.WriteString(row("direct, MB/s", f.dMB, f1))
		s.WriteString(row("through sluice, MB/s", f.sMB, f1))
		s.WriteString(row("**ratio sluice / direct** (pair by pair)", f.ratio, f3))
		s.WriteString(row("direct, records/s", f.dRec, f0))
		s.WriteString(row("through sluice, records/s", f.sRec, f0))
		s.WriteString(row("sluice CPU, s per GB", f.cpuPerGB, f2))
		s.WriteString(row("sluice CPU, cores busy", f.cores, f2))
		s.WriteString(row("broker CPU, s per GB, direct (TLS on the broker)", f.brokerD, f2))
		s.WriteString(row("broker CPU, s per GB, through sluice (PLAINTEXT to sluice)", f.brokerS, f2))
		s.WriteString(row("consumer CPU, s per GB, direct", f.clientD, f2))
		s.WriteString(row("consumer CPU, s per GB, through sluice", f.clientS, f2))
		s.WriteString(row("mean fetch response, MB, direct", f.dFetchMB, f2))
		s.WriteString(row("mean fetch response, MB, through sluice", f.sFetchMB, f2))
		s.WriteString(row("mean fetch round trip (client's view), ms, direct", f.dFetchMs, f1))
		s.WriteString(row("mean fetch round trip, ms, through sluice", f.sFetchMs, f1))
		s.WriteString(row("other processes on the machine, cores", f.other, f2))
		w("\n| pair | direct MB/s | sluice MB/s | ratio | direct: broker / consumer / other cores | sluice: sluice / broker / consumer / other cores |\n|---|---|---|---|---|---|\n")
		for i := range f.direct {
			d, sl := f.direct[i], f.sluice[i]
			w("| %d | %.1f | %.1f | %.3f | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f / %.2f |\n", i+1, d.MBps, sl.MBps, sl.MBps/d.MBps,
				d.BrokerCPU/d.Elapsed, d.LoadCPU/d.Elapsed, d.OtherCPU/d.Elapsed,
				sl.SluiceCPU/sl.Elapsed, sl.BrokerCPU/sl.Elapsed, sl.LoadCPU/sl.Elapsed, sl.OtherCPU/sl.Elapsed)
		}
		w("\n")
	}
	consumeSection("Plain batches", plain)
	consumeSection("Transactional batches (markers rewritten by the listener)", txn)
	w("Peak RSS of sluice while consumers read through it (VmHWM, reset before the series): %.1f MiB.\n\n", float64(rep.ConsumePeakRSSkB)/1024)

	if e != nil {
		o.e2eMarkdown(&s, e)
	}

	if len(rep.Hotspots) > 0 {
		w("## Where sluice's CPU goes while consumers read\n\n")
		var mb, cpu, el, bytes float64
		for _, r := range rep.ProfileRuns {
			cpu, el, bytes = cpu+r.SluiceCPU, el+r.Seconds, bytes+float64(r.ValueBytes)
		}
		if el > 0 {
			mb = bytes / 1e6 / el
		}
		w("A %s CPU profile (`--debug-addr`, `/debug/pprof/profile`) of sluice while one consumer read the transactional topic through the Outbound listener, ", c.profile)
		w("after the measured pairs (%d reads, %.0f MB/s, sluice %.2f cores), summed by what the code is doing (`outboundHotspotRules`):\n\n", len(rep.ProfileRuns), mb, cpu/max(el, 1e-9))
		w("| share of sluice's CPU | s per GB | what |\n|---|---|---|\n")
		perGB := 0.0
		if bytes > 0 {
			perGB = cpu / (bytes / 1e9)
		}
		for _, h := range rep.Hotspots {
			if h.Share < 0.005 {
				continue
			}
			w("| %.1f%% | %.2f | %s |\n", 100*h.Share, h.Share*perGB, h.What)
		}
		w("\n`go tool pprof -top`:\n\n```\n%s```\n\n", rep.ProfileTop)
	}
	w("Peak RSS of sluice over the measured parts of the Outbound benchmark: %.1f MiB.", float64(rep.PeakRSSkB)/1024)
	if c.raw != "" {
		w(" Every run's figures, warm-ups included: [`%s`](%s).", filepath.Base(c.raw), filepath.Base(c.raw))
	}
	w("\n")
	return s.String()
}

func (o *obench) e2eMarkdown(s *strings.Builder, e *obE2E) {
	c := o.cfg
	w := func(format string, args ...any) { fmt.Fprintf(s, format, args...) }
	w("## End to end: produce ack → enriched event consumed on the Outbound listener\n\n")
	w("| | |\n|---|---|\n")
	w("| load | %d events/s, paced (every millisecond, the events due), %d B JSON each, one franz-go producer on sluice's Inbound listener (write key, acks=all, linger 0), collection `%s` |\n", e.Rate, e.EventBytes, obE2ECollection)
	w("| path | Inbound listener → raw topic → the pipeline (validate, enrich, store in DuckDB, publish in a Kafka transaction) → outbound topic → Outbound listener |\n")
	w("| consumers | three franz-go consumers of the outbound topic, every partition, no group, `FetchMaxWait` 500 ms: %s; %s; %s |\n", e.Consumers[consumerSluice], e.Consumers[consumerCommitted], e.Consumers[consumerWritten])
	w("| clock | one process produces and consumes; each event carries a run id and a sequence number; times are from one monotonic clock: the `Produce` call, the acknowledgement callback, and the return of the `PollFetches` that delivered the event |\n")
	w("| runs | a warm-up of %.1f s (%d events; until every consumer has events), then %d windows of %.0f s in one continuous stream |\n\n", e.WarmupSeconds, e.WarmupEvents, len(e.Windows), e.WindowSeconds)

	w("Milliseconds, all %d measured events pooled:\n\n", e.Pooled.Events)
	w("| | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n")
	for _, p := range obPaths {
		q := e.Pooled.Paths[p]
		name := p
		if p == pathAckToSluice {
			name = "**" + p + "**"
		}
		w("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", name, q.P50, q.P90, q.P99, q.P999, q.Max)
	}
	w("\n![CDF of end-to-end latency](%s)\n\n", filepath.Base(c.plot))
	w("By window (ack → consumed through sluice):\n\n")
	w("| window | events | p50 | p90 | p99 | p99.9 | max | listener adds, p50 / p99 | pipeline transactions (events per transaction) | late sends | sluice / broker / client / other cores |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, win := range e.Windows {
		q, l := win.Paths[pathAckToSluice], win.Paths[pathListenerAdds]
		per := 0.0
		if win.Transactions > 0 {
			per = float64(win.Events) / win.Transactions
		}
		w("| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f / %.2f | %.0f (%.0f) | %d | %.2f / %.2f / %.2f / %.2f |\n", win.Window, win.Events,
			q.P50, q.P90, q.P99, q.P999, q.Max, l.P50, l.P99, win.Transactions, per, win.Late,
			win.SluiceCores, win.BrokerCores, win.LoadCores, win.OtherCores)
	}
	p := e.Pooled
	written, commit, direct, sl := p.Paths[pathAckToWritten], p.Paths[pathCommitWait], p.Paths[pathAckToDirect], p.Paths[pathAckToSluice]
	w("\n**What the pipeline adds.** Of the median %.1f ms from acknowledgement to delivery through sluice, ", sl.P50)
	w("%.1f ms pass before the pipeline has written the enriched record to the outbound topic (it polls the raw topics with a 100 ms fetch wait, validates, enriches and stores a whole poll in DuckDB, then produces in a transaction), ", written.P50)
	w("and the record then waits a median %.1f ms (p99 %.1f) for its transaction to commit: read_committed consumers, and so every consumer of the Outbound listener, see it only then (direct read_committed: p50 %.1f ms after the ack). ", commit.P50, commit.P99, direct.P50)
	w("The Outbound listener itself adds a median %.2f ms (p99 %.2f) per event over a direct read_committed consumer. ", p.Paths[pathListenerAdds].P50, p.Paths[pathListenerAdds].P99)
	if p.Transactions > 0 {
		w("The pipeline committed %.0f transactions in the windows, %.0f events each on average.", p.Transactions, float64(p.Events)/p.Transactions)
	}
	w("\n\n")
	s.WriteString(batchStepsMarkdown(e.Steps, "the windows", "An event is streamed once its own batch is committed, after waiting for the batch in progress: about one batch and a half, and the tail of the end-to-end latency is the tail of these steps"))
	if len(e.Fetches) > 0 {
		w("The consumers' fetch requests during the windows (a kgo hook; a round trip includes the broker's long poll, up to 500 ms, until a transaction commits):\n\n")
		w("| consumer | fetches/s | mean round trip, ms | mean response, KB |\n|---|---|---|---|\n")
		for _, n := range []string{consumerSluice, consumerCommitted, consumerWritten} {
			f := e.Fetches[n]
			w("| %s | %.1f | %.1f | %.0f |\n", n, f.PerSecond, f.MeanMs, f.MeanKB)
		}
		w("\n")
	}
	missing := false
	for _, n := range []string{consumerSluice, consumerCommitted, consumerWritten} {
		missing = missing || e.Missing[n] > 0 || e.Duplicates[n] > 0
	}
	if missing {
		w("Events missing / duplicated per consumer: ")
		for _, n := range []string{consumerSluice, consumerCommitted, consumerWritten} {
			w("%s %d / %d; ", n, e.Missing[n], e.Duplicates[n])
		}
		w("\n\n")
	} else {
		w("Every consumer received every measured event exactly once.\n\n")
	}
	w("At %d events/s sluice (listeners and pipeline) used %.2f cores (the broker %.2f, the benchmark's producer and three consumers %.2f); ", e.Rate, p.SluiceCores, p.BrokerCores, p.LoadCores)
	w("peak RSS of sluice during the windows %.1f MiB. \"Late sends\" are events the pacer sent more than 1 ms after their scheduled time: it wakes every millisecond, so one late wake-up (a busy machine) makes a few events late; latencies run from the send and from the ack, not from the schedule.\n\n", float64(e.PeakRSSkB)/1024)
	if len(e.PipelineWall) > 0 {
		w("### Where the pipeline's time goes at %d events/s\n\n", e.Rate)
		w("An execution trace of sluice (`/debug/pprof/trace`, %.1f s, right after the windows, same stream) split by `bench/outbound_pipetrace.go`: ", e.TraceSeconds)
		w("the wall time of the pipeline's loop goroutine (`Pipeline.run`: poll, validate, store, begin, produce, commit, one transaction per poll) by step, and what the goroutine was doing in it. ")
		w("Work the loop hands to other goroutines (validate's parallel partitions, franz-go's connections) shows as the loop being blocked.\n\n")
		w("| step | share of the loop's wall time | of which |\n|---|---|---|\n")
		steps := map[string]float64{}
		var order []string
		for _, x := range e.PipelineWall {
			if _, ok := steps[x.Step]; !ok {
				order = append(order, x.Step)
			}
			steps[x.Step] += x.Share
		}
		for _, st := range order {
			var parts []string
			for _, x := range e.PipelineWall {
				if x.Step == st && x.Share >= 0.005 {
					parts = append(parts, fmt.Sprintf("%s %.1f%%", x.State, 100*x.Share))
				}
			}
			w("| %s | %.1f%% | %s |\n", st, 100*steps[st], strings.Join(parts, "; "))
		}
		if poll := steps[stepPoll]; poll < 0.1 {
			w("\nThe loop spent %.1f%% of its time polling: every poll found records waiting, so the pipeline was saturated at this rate, ", 100*poll)
			w("one poll after the other, each one transaction; an event waits for the batch in progress, then for its own. ")
			w("The loop runs its steps one after the other, so sluice's CPU (%.2f cores) is not the limit; the steps' own time is.\n", e.Pooled.SluiceCores)
		}
		w("\n")
	}
	if lf := e.ListenerFetches; lf.Fetches > 0 {
		w("**The Outbound listener under the pipeline's load.** In the same trace, the consumer's connection answered %d fetches. ", lf.Fetches)
		w("From the broker's answer waking the connection's goroutine to the response written to the client took p50 %.1f ms, p90 %.1f, max %.1f ms; ", lf.P50Ms, lf.P90Ms, lf.MaxMs)
		w("%.0f%% of that time (%.0f of %.0f ms) the goroutine was runnable, waiting for Go to give it a CPU (sluice runs the listeners and the pipeline under one scheduler, GOMAXPROCS = cores). ", 100*lf.RunnableFrac, lf.RunnableMs, lf.TotalMs)
		w("Compare with \"added by the Outbound listener\" per event above.\n\n")
	}
	if len(e.Hotspots) > 0 {
		w("A CPU profile of sluice over the same seconds, by component (`e2eHotspotRules`):\n\n")
		w("| share of sluice's CPU | what |\n|---|---|\n")
		for _, h := range e.Hotspots {
			if h.Share >= 0.005 {
				w("| %.1f%% | %s |\n", 100*h.Share, h.What)
			}
		}
		w("\n<details><summary><code>go tool pprof -top</code></summary>\n\n```\n%s```\n\n</details>\n\n", e.ProfileTop)
	}
}
