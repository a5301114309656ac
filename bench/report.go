package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pairsOf returns the measured (pair ≥ 1) runs of a series as direct/sluice pairs.
func pairsOf(rs []runResult) (direct, sluice []runResult) {
	return pairsBy(rs, func(r runResult) (int, string, bool) { return r.Pair, r.Side, true })
}

// pairsBy lines up the measured runs (pair ≥ 1) that key selects as
// direct/sluice pairs, in pair order, up to the first missing pair.
func pairsBy[T any](rs []T, key func(T) (pair int, side string, ok bool)) (direct, sluice []T) {
	byPair := map[int]map[string]T{}
	for _, r := range rs {
		pair, side, ok := key(r)
		if !ok || pair < 1 {
			continue
		}
		if byPair[pair] == nil {
			byPair[pair] = map[string]T{}
		}
		byPair[pair][side] = r
	}
	for p := 1; ; p++ {
		m, ok := byPair[p]
		if !ok {
			break
		}
		direct, sluice = append(direct, m["direct"]), append(sluice, m["sluice"])
	}
	return direct, sluice
}

func field[T any](rs []T, f func(T) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func pairwise(a, b []float64, f func(x, y float64) float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = f(a[i], b[i])
	}
	return out
}

func git(repo string, args ...string) string {
	out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func (b *bench) write(rep *report) error {
	if err := b.plotLatency(rep); err != nil {
		return fmt.Errorf("plotting: %w", err)
	}
	raw, _ := json.MarshalIndent(struct {
		Project string  `json:"project"`
		Report  *report `json:"runs"`
	}{b.projectID, rep}, "", "  ")
	if err := os.WriteFile(b.cfg.raw, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	md := b.markdown(rep)
	if err := os.WriteFile(b.cfg.out, []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s, %s and %s", b.cfg.out, b.cfg.plot, b.cfg.raw)
	fmt.Fprint(os.Stderr, "\n"+summary(rep))
	return nil
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func signed3(v float64) string {
	return fmt.Sprintf("%+.3f", v)
}

func row(name string, s spread, f func(float64) string) string {
	return fmt.Sprintf("| %s | %s | %s | %s |\n", name, f(s.Min), f(s.Median), f(s.Max))
}

// throughputFigures are the headline figures of one throughput series.
type throughputFigures struct {
	direct, sluice       []runResult
	ratio, ratioRecs     spread
	dMB, sMB, dRec, sRec spread
	cpuPerGB             spread // sluice CPU s per GB of payload
	cpuPerWireGB         spread
	sluiceCores          spread
	brokerPerGBdirect    spread
	brokerPerGBsluice    spread
	dReqMB, sReqMB       spread
	dRTT, sRTT           spread
	other                spread // cores used by the rest of the machine, both sides
}

func throughputOf(rs []runResult) throughputFigures {
	var t throughputFigures
	t.direct, t.sluice = pairsOf(rs)
	dMB, sMB := field(t.direct, func(r runResult) float64 { return r.MBps }), field(t.sluice, func(r runResult) float64 { return r.MBps })
	dRec, sRec := field(t.direct, func(r runResult) float64 { return r.RecordsPerS }), field(t.sluice, func(r runResult) float64 { return r.RecordsPerS })
	div := func(x, y float64) float64 { return y / x }
	t.ratio, t.ratioRecs = spreadOf(pairwise(dMB, sMB, div)), spreadOf(pairwise(dRec, sRec, div))
	t.dMB, t.sMB, t.dRec, t.sRec = spreadOf(dMB), spreadOf(sMB), spreadOf(dRec), spreadOf(sRec)
	t.cpuPerGB = spreadOf(field(t.sluice, func(r runResult) float64 { return r.SluiceCPU / (float64(r.TotalBytes) / 1e9) }))
	t.cpuPerWireGB = spreadOf(field(t.sluice, func(r runResult) float64 { return r.SluiceCPU / (r.WireBytes / 1e9) }))
	t.sluiceCores = spreadOf(field(t.sluice, func(r runResult) float64 { return r.SluiceCPU / r.Elapsed }))
	t.brokerPerGBdirect = spreadOf(field(t.direct, func(r runResult) float64 { return r.BrokerCPU / (float64(r.TotalBytes) / 1e9) }))
	t.brokerPerGBsluice = spreadOf(field(t.sluice, func(r runResult) float64 { return r.BrokerCPU / (float64(r.TotalBytes) / 1e9) }))
	reqMB := func(r runResult) float64 { return r.MeanRequestKB / 1024 }
	rtt := func(r runResult) float64 { return r.MeanRoundTrip }
	t.dReqMB, t.sReqMB = spreadOf(field(t.direct, reqMB)), spreadOf(field(t.sluice, reqMB))
	t.dRTT, t.sRTT = spreadOf(field(t.direct, rtt)), spreadOf(field(t.sluice, rtt))
	t.other = spreadOf(append(field(t.direct, otherCores), field(t.sluice, otherCores)...))
	return t
}

type latencyFigures struct {
	direct, sluice []runResult
	d, s, added    [4]spread // p50, p99, p99.9, max
	sluiceCores    spread
}

func latencyOf(rs []runResult) latencyFigures {
	var l latencyFigures
	l.direct, l.sluice = pairsOf(rs)
	fs := []func(runResult) float64{
		func(r runResult) float64 { return r.P50 }, func(r runResult) float64 { return r.P99 },
		func(r runResult) float64 { return r.P999 }, func(r runResult) float64 { return r.Max },
	}
	for i, f := range fs {
		d, s := field(l.direct, f), field(l.sluice, f)
		l.d[i], l.s[i] = spreadOf(d), spreadOf(s)
		l.added[i] = spreadOf(pairwise(d, s, func(x, y float64) float64 { return y - x }))
	}
	l.sluiceCores = spreadOf(field(l.sluice, func(r runResult) float64 { return r.SluiceCPU / r.Elapsed }))
	return l
}

func otherCores(r runResult) float64 { return r.OtherCPU / r.Elapsed }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func summary(rep *report) string {
	var s strings.Builder
	t := throughputOf(rep.Throughput)
	l := latencyOf(rep.Latency)
	fmt.Fprintf(&s, "throughput ratio sluice/direct (median of pairs): %.3f (min %.3f, max %.3f); direct %.1f MB/s, sluice %.1f MB/s\n",
		t.ratio.Median, t.ratio.Min, t.ratio.Max, t.dMB.Median, t.sMB.Median)
	if len(rep.ThroughputLZ4) > 0 {
		z := throughputOf(rep.ThroughputLZ4)
		fmt.Fprintf(&s, "lz4 throughput ratio: %.3f (min %.3f, max %.3f)\n", z.ratio.Median, z.ratio.Min, z.ratio.Max)
	}
	fmt.Fprintf(&s, "added p99 latency (median of pairs): %+.3f ms; added p50 %+.3f ms\n", l.added[1].Median, l.added[0].Median)
	fmt.Fprintf(&s, "sluice CPU: %.1f s per GB; peak RSS %.1f MiB\n", t.cpuPerGB.Median, float64(rep.PeakRSSkB)/1024)
	return s.String()
}

func (b *bench) markdown(rep *report) string {
	c := b.cfg
	m := b.machine
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }

	t := throughputOf(rep.Throughput)
	l := latencyOf(rep.Latency)
	var z throughputFigures
	if len(rep.ThroughputLZ4) > 0 {
		z = throughputOf(rep.ThroughputLZ4)
	}

	commit, commitNote := c.commit, c.modifiedNote()

	w("# Kafka Inbound listener benchmark\n\n")
	w("Written by `bench/run.sh` (`bench/main.go` and friends); do not edit by hand, run it again. ")
	w("What is measured and why: `bench/README.md`.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s (run took %s) |\n", b.start.UTC().Format("2006-01-02 15:04 MST"), rep.Finished.Sub(b.start).Round(time.Second))
	w("| machine | %d cores, %s; %.1f GiB memory; Linux %s |\n", m.Cores, m.CPUModel, m.MemGiB, m.Kernel)
	w("| load average before / after | %s / %s |\n", m.LoadAvg, rep.LoadEnd)
	w("| commit | `%s`%s |\n", commit, commitNote)
	w("| command | `%s` |\n", c.command)
	for _, kv := range c.envPairs() {
		w("| %s | %s |\n", kv[0], kv[1])
	}
	w("\nEverything runs on this one machine: the broker JVM, sluice and the load generator share its %d cores, ", m.Cores)
	w("so sluice's CPU is taken from the same cores the broker and the client need.\n\n")
	var all []runResult
	for _, rs := range [][]runResult{rep.Throughput, rep.Latency, rep.ThroughputLZ4} {
		d, sl := pairsOf(rs)
		all = append(append(all, d...), sl...)
	}
	noise := spreadOf(field(all, otherCores))
	if noise.Median > 0.1 || noise.Max > 0.3 {
		w("**Noise:** other processes on this shared machine used %.2f cores (median over the measured runs; %.2f … %.2f) ", noise.Median, noise.Min, noise.Max)
		w("while the benchmark ran (the \"other\" columns below). Their load lands on direct and sluice runs unevenly; read the spread, not one figure.\n\n")
	} else {
		w("Other processes on the machine used %.2f cores (median over the measured runs; max %.2f).\n\n", noise.Median, noise.Max)
	}

	w("## Load\n\n")
	w("| | |\n|---|---|\n")
	w("| client | Go, franz-go kgo (one client = one producer, one connection per broker), SASL_SSL PLAIN, TLS 1.3 |\n")
	w("| records | %d B JSON values, no key, %d distinct payloads cycled |\n", c.recordSize, 4096)
	w("| producer settings | acks=all, idempotent (kgo default: up to 5 requests in flight per connection), linger 0, batch max 1 MB, sticky partitioner |\n")
	w("| compression | none; one extra series with lz4 |\n")
	w("| topic | direct: `%s`, created with %d partitions, RF 1; through sluice: collection `%s`, created by sluice on the first Metadata (backend topic `%s`, 9 partitions, RF 1) |\n", c.topic, c.partitions, c.topic, b.rawTopic)
	w("| direct | the broker's SASL_SSL listener (`%s`, user admin) |\n", c.directSeeds)
	w("| through sluice | sluice's Kafka Inbound listener (`%s`, user = project id, password = write key); sluice → broker over PLAINTEXT |\n", c.sluiceSeeds)
	w("| consumers | none |\n")
	w("| throughput | as fast as possible, %s per run, 1 warm-up pair of %s then %d A/B pairs (direct, then sluice) |\n", c.duration, c.warmup, c.pairs)
	if c.lz4 {
		w("| throughput, lz4 | as fast as possible, %s per run, 1 warm-up pair of %s then %d A/B pairs |\n", c.lz4Duration, c.warmup/2, c.pairs)
	}
	w("| latency | %d records/s, paced, %s per run, 1 warm-up pair of %s then %d A/B pairs; each record's latency is from the `Produce` call to its acknowledgement callback (one monotonic clock, one process) |\n", c.rate, c.latDuration, c.warmup/2, c.pairs)
	w("| throughput figure | records acknowledged inside the window ÷ window; MB = 10⁶ bytes of record values |\n")
	w("| CPU | utime+stime of the sluice process (/proc/PID/stat) from the start of a run's window to the end of its final flush; GB = 10⁹ bytes of record values acknowledged in that interval |\n\n")

	w("## Goals (reported, not asserted)\n\n")
	w("| goal | target | measured (median of pairs; min … max) | |\n|---|---|---|---|\n")
	w("| throughput ratio sluice / direct, no compression | ≥ 0.95 | %.3f (%.3f … %.3f) | %s |\n", t.ratio.Median, t.ratio.Min, t.ratio.Max, verdict(t.ratio.Median >= 0.95))
	if c.lz4 {
		w("| throughput ratio sluice / direct, lz4 | ≥ 0.95 | %.3f (%.3f … %.3f) | %s |\n", z.ratio.Median, z.ratio.Min, z.ratio.Max, verdict(z.ratio.Median >= 0.95))
	}
	w("| added p99 produce latency at %d records/s | ≤ 0.5 ms | %+.3f ms (%+.3f … %+.3f) | %s |\n\n", c.rate, l.added[1].Median, l.added[1].Min, l.added[1].Max, verdict(l.added[1].Median <= 0.5))
	s.WriteString(inboundGap("no compression", t, rep.Hotspots, m.Cores))
	if c.lz4 {
		s.WriteString(inboundGap("lz4", z, nil, m.Cores))
	}

	throughputSection := func(title string, f throughputFigures) {
		w("## %s\n\n", title)
		w("| | min | median | max |\n|---|---|---|---|\n")
		s.WriteString(row("direct, MB/s", f.dMB, f1))
		s.WriteString(row("through sluice, MB/s", f.sMB, f1))
		s.WriteString(row("**ratio sluice / direct** (pair by pair)", f.ratio, f3))
		s.WriteString(row("direct, records/s", f.dRec, f0))
		s.WriteString(row("through sluice, records/s", f.sRec, f0))
		s.WriteString(row("ratio of records/s (pair by pair)", f.ratioRecs, f3))
		s.WriteString(row("sluice CPU, s per GB", f.cpuPerGB, f1))
		s.WriteString(row("sluice CPU, s per GB of record batches forwarded (sluice's own counter)", f.cpuPerWireGB, f1))
		s.WriteString(row("sluice CPU, cores busy", f.sluiceCores, f2))
		s.WriteString(row("broker CPU, s per GB, direct", f.brokerPerGBdirect, f1))
		s.WriteString(row("broker CPU, s per GB, through sluice", f.brokerPerGBsluice, f1))
		s.WriteString(row("mean produce request, MB, direct", f.dReqMB, f2))
		s.WriteString(row("mean produce request, MB, through sluice", f.sReqMB, f2))
		s.WriteString(row("mean produce request round trip (client's view, queueing included), ms, direct", f.dRTT, f1))
		s.WriteString(row("mean produce request round trip, ms, through sluice", f.sRTT, f1))
		s.WriteString(row("other processes on the machine, cores", f.other, f2))
		w("\nPair by pair (CPU in cores = CPU seconds ÷ elapsed seconds of the run, flush included; \"other\" is every other process on the machine):\n\n")
		w("| pair | direct MB/s | sluice MB/s | ratio | direct: broker / client / other cores | sluice: sluice / broker / client / other cores | requests direct / sluice: count, mean MB, mean round trip ms |\n|---|---|---|---|---|---|---|\n")
		for i := range f.direct {
			d, sl := f.direct[i], f.sluice[i]
			w("| %d | %.1f | %.1f | %.3f | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f / %.2f | %d, %.2f, %.1f / %d, %.2f, %.1f |\n", i+1, d.MBps, sl.MBps, sl.MBps/d.MBps,
				d.BrokerCPU/d.Elapsed, d.LoadCPU/d.Elapsed, d.OtherCPU/d.Elapsed,
				sl.SluiceCPU/sl.Elapsed, sl.BrokerCPU/sl.Elapsed, sl.LoadCPU/sl.Elapsed, sl.OtherCPU/sl.Elapsed,
				d.Requests, d.MeanRequestKB/1024, d.MeanRoundTrip, sl.Requests, sl.MeanRequestKB/1024, sl.MeanRoundTrip)
		}
		w("\n")
	}
	throughputSection("Throughput, as fast as possible, no compression", t)

	w("## Produce latency at %d records/s, no compression\n\n", c.rate)
	w("Milliseconds. Each cell is min / median / max over the %d runs of that side; \"added\" is sluice minus direct, pair by pair.\n\n", len(l.direct))
	w("| | direct | through sluice | added by sluice |\n|---|---|---|---|\n")
	for i, name := range []string{"p50", "p99", "p99.9", "max"} {
		w("| %s | %s / %s / %s | %s / %s / %s | %s / %s / %s |\n", name,
			f3(l.d[i].Min), f3(l.d[i].Median), f3(l.d[i].Max),
			f3(l.s[i].Min), f3(l.s[i].Median), f3(l.s[i].Max),
			signed3(l.added[i].Min), signed3(l.added[i].Median), signed3(l.added[i].Max))
	}
	w("\n![CDF of produce latency, direct vs through sluice](%s)\n\n", filepath.Base(c.plot))
	w("The plot pools every measured run of each side (%d × %d records per side). ", len(l.direct), int(float64(c.rate)*c.latDuration.Seconds()))
	w("Left: the cumulative distribution on a log latency axis; right: latency against percentile, to show the tail.\n\n")
	w("| pair | direct p50 / p99 / p99.9 / max | sluice p50 / p99 / p99.9 / max | added p99 | late sends (direct / sluice) | other processes, cores (direct / sluice) |\n|---|---|---|---|---|---|\n")
	for i := range l.direct {
		d, sl := l.direct[i], l.sluice[i]
		w("| %d | %.3f / %.3f / %.3f / %.3f | %.3f / %.3f / %.3f / %.3f | %+.3f | %d / %d | %.2f / %.2f |\n", i+1,
			d.P50, d.P99, d.P999, d.Max, sl.P50, sl.P99, sl.P999, sl.Max, sl.P99-d.P99, d.Late, sl.Late, otherCores(d), otherCores(sl))
	}
	w("\n\"Late sends\" counts records the pacer handed to the client more than 1 ms after their scheduled time (a loaded machine).\n")
	w("At this rate sluice uses %.3f cores (median; %.3f … %.3f).\n\n", l.sluiceCores.Median, l.sluiceCores.Min, l.sluiceCores.Max)

	if c.lz4 {
		throughputSection("Throughput, as fast as possible, lz4", z)
	}

	w("## Cost of sluice\n\n")
	w("| | value |\n|---|---|\n")
	w("| CPU per GB forwarded, no compression (median of the %d through-sluice throughput runs) | %.1f s/GB (%.1f … %.1f) |\n", len(t.sluice), t.cpuPerGB.Median, t.cpuPerGB.Min, t.cpuPerGB.Max)
	if c.lz4 {
		w("| CPU per GB of record values, lz4 (batches pass compressed; sluice never decompresses) | %.1f s/GB (%.1f … %.1f) |\n", z.cpuPerGB.Median, z.cpuPerGB.Min, z.cpuPerGB.Max)
	}
	w("| CPU at %d records/s (≈ %.1f MB/s) | %.3f cores |\n", c.rate, float64(c.rate*c.recordSize)/1e6, l.sluiceCores.Median)
	w("| peak RSS of sluice (VmHWM over the whole benchmark) | %.1f MiB |\n", float64(rep.PeakRSSkB)/1024)
	w("| RSS of sluice at the end | %.1f MiB |\n", float64(rep.EndRSSkB)/1024)
	w("| peak RSS of the broker JVM, for scale | %.0f MiB |\n\n", float64(rep.BrokerRSSkB)/1024)

	if rep.Profile != "" {
		w("## Where sluice's CPU goes\n\n")
		if pr := rep.ProfileRun; pr != nil {
			w("A %s CPU profile (`--debug-addr`, `/debug/pprof/profile`) of sluice during one extra through-sluice throughput run, after the measured pairs ", c.profile)
			w("(%.1f MB/s, sluice %.2f cores).\n\n", pr.MBps, pr.SluiceCPU/pr.Elapsed)
		}
		if len(rep.Hotspots) > 0 {
			w("By what the code is doing (`bench/hotspots.go` sums the profile's samples by their stacks):\n\n")
			w("| share of sluice's CPU | s per GB | what |\n|---|---|---|\n")
			perGB := 0.0
			if pr := rep.ProfileRun; pr != nil && pr.TotalBytes > 0 {
				perGB = pr.SluiceCPU / (float64(pr.TotalBytes) / 1e9)
			}
			for _, h := range rep.Hotspots {
				if h.Share < 0.005 {
					continue
				}
				w("| %.1f%% | %.2f | %s |\n", 100*h.Share, h.Share*perGB, h.What)
			}
			w("\n")
		}
		if len(rep.WallTime) > 0 {
			w("Where the wall time of sluice's producing connection goes: an execution trace (`/debug/pprof/trace`) of %d connection(s) for 3 s right after the CPU profile, summed by `bench/walltime.go`. ", rep.WallConns)
			w("Each client connection has a reader goroutine, which reads a request and starts it (for Produce: writes it to the broker), ")
			w("and, once requests are pipelined, a writer goroutine, which waits for the answers in request order and writes them back. ")
			w("Shares are of each goroutine's own wall time; time the reader spends blocked reading the client's request is time sluice waits for the client.\n\n")
			w("| goroutine | share of its wall time | what it was doing |\n|---|---|---|\n")
			for _, x := range rep.WallTime {
				if x.Share < 0.005 {
					continue
				}
				w("| %s | %.1f%% | %s |\n", x.Role, 100*x.Share, x.What)
			}
			w("\n")
		}
		w("`go tool pprof -top`:\n\n```\n%s```\n\n", trimProfile(rep.Profile))
		w("Cumulative (`-top -cum`):\n\n```\n%s```\n\n", trimProfile(rep.ProfileCum))
	}

	w("## Raw figures\n\nEvery run, warm-ups included (pair 0), with its CPU split: [`%s`](%s).\n", filepath.Base(c.raw), filepath.Base(c.raw))
	return s.String()
}

// trimProfile drops pprof's preamble lines that name the temporary files.
func trimProfile(p string) string {
	var out []string
	for _, line := range strings.Split(p, "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
