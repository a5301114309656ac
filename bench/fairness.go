package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The fairness benchmark (sluicebench fairness, bench/run.sh --benches
// fairness): does a flood from one project delay a quiet project's events?
// For each build measured (--sluice-bin, and --baseline-bin for an A/B):
//
//  1. preload: sluice with --pipeline=false, two new projects; the flood
//     project gets --flood-events events of 1 KB through the Inbound
//     listener;
//  2. flood: sluice restarted with the pipeline on, so the backlog drains;
//     meanwhile the quiet project produces --rate events/s, each with a
//     sequence number, and a poller finds when each becomes countable (as
//     the pipeline benchmark's latency run does); the flood project's count
//     is sampled every 2 s for its drain rate;
//  3. quiet: once the backlog is drained, the same quiet run again, alone.
type fairConfig struct {
	bin, baseline, brokers, workDir string
	logLevel                        string
	floodEvents, recordSize, rate   int
	duration, warmup, pollEvery     time.Duration
	drainTimeout                    time.Duration
	reportFlags
}

// fairLatency is the quiet project's produce ack → countable, in ms.
type fairLatency struct {
	Measured, NotSeen int
	P50, P99, Max     float64
	// PollP50, PollP99: the polls' own round trips (the figures'
	// resolution), ms.
	PollP50, PollP99 float64
	// WarmupMax: the slowest of the events left out (acknowledged in the
	// warm-up), ms: a project's first events during a flood.
	WarmupMax float64
}

// fairBuild is what one build gave.
type fairBuild struct {
	Build, Binary  string
	PreloadSeconds float64
	Flood, Quiet   fairLatency
	// FloodRate is the flood project's events stored per second while
	// the quiet project's events were measured; FloodDrained says the
	// backlog ran out before the end of that window (the figures then
	// include a stretch without a flood).
	FloodRate    float64
	FloodDrained bool
	// DrainSeconds is the whole backlog's drain, from sluice's start (to
	// the count sample, every 2 s, that first showed all of it).
	DrainSeconds float64
}

type fairReport struct {
	// Commit is the repository's when the run started (sluice was built
	// from it), with a note if its tree outside bench/ was modified.
	Commit            string
	Started, Finished time.Time
	Machine           machine
	LoadEnd           string
	FloodEvents       int
	RecordSize        int
	Rate              int
	Builds            []fairBuild
}

func fairnessBench(args []string) error {
	var c fairConfig
	fs := flag.NewFlagSet("sluicebench fairness", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.baseline, "baseline-bin", "", "a sluice binary to compare with (e.g. built from the commit before a change; empty: none)")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the broker's PLAINTEXT listener (sluice's backend)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dirs and logs go")
	fs.StringVar(&c.logLevel, "sluice-log-level", "warn", "sluice's --log-level while the flood drains (debug: a line per batch, with where its time went)")
	fs.IntVar(&c.floodEvents, "flood-events", 2_000_000, "the flood project's preloaded backlog")
	fs.IntVar(&c.recordSize, "record-size", 1024, "bytes of JSON per event")
	fs.IntVar(&c.rate, "rate", 20, "the quiet project's events per second")
	fs.DurationVar(&c.duration, "duration", 40*time.Second, "length of each quiet run (warm-up included)")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "events acknowledged this long after the first acknowledgement of a quiet run are left out of the figures (their slowest is reported apart)")
	fs.DurationVar(&c.pollEvery, "poll", 20*time.Millisecond, "interval of the count polls")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Minute, "give up the backlog's drain after this long")
	c.register(fs, "fairness.md", "", "the figures as JSON (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	if c.bin == "" || c.brokers == "" {
		return errors.New("--sluice-bin and --kafka-brokers are required")
	}
	if c.warmup >= c.duration {
		return errors.New("--warmup must be shorter than --duration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &fairReport{Commit: c.shortCommit() + c.modifiedNote(), Started: time.Now(), Machine: describeMachine(), FloodEvents: c.floodEvents, RecordSize: c.recordSize, Rate: c.rate}
	builds := []struct{ name, bin string }{{"this commit", c.bin}}
	if c.baseline != "" {
		builds = append(builds, struct{ name, bin string }{"baseline", c.baseline})
	}
	for i, b := range builds {
		fb, err := fairnessRun(ctx, c, b.name, b.bin, i)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		rep.Builds = append(rep.Builds, fb)
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAvg()
	return c.reportFlags.write(rep, rep.markdown(c))
}

func fairnessRun(ctx context.Context, c fairConfig, name, bin string, i int) (fairBuild, error) {
	fb := fairBuild{Build: name, Binary: bin}
	dataDir := filepath.Join(c.workDir, fmt.Sprintf("fairness-data-%d", i))
	logPrefix := filepath.Join(c.workDir, fmt.Sprintf("fairness-sluice-%d", i))
	ca := filepath.Join(dataDir, "tls", "ca.pem")
	pl := payloads(4096, c.recordSize)

	// 1. Preload the flood, the pipeline off.
	sl, err := startSluice(ctx, bin, dataDir, c.brokers, false, nil, logPrefix+"-preload")
	if err != nil {
		return fb, err
	}
	var quiet project
	flood, err := createProject(ctx, sl.http, dataDir, fmt.Sprintf("fairness-flood-%d", i))
	if err == nil {
		quiet, err = createProject(ctx, sl.http, dataDir, fmt.Sprintf("fairness-quiet-%d", i))
	}
	if err != nil {
		sl.stop()
		return fb, err
	}
	logf("fairness (%s): preloading %d events of project %s", name, c.floodEvents, flood.ID)
	t0 := time.Now()
	err = produceAll(ctx, sl.inbound, ca, flood, "flood", pl, c.floodEvents)
	fb.PreloadSeconds = time.Since(t0).Seconds()
	if stopErr := sl.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return fb, fmt.Errorf("preload: %w", err)
	}
	// Earlier benchmarks' and builds' raw events would be drained too.
	if err := deleteOtherRawTopics(ctx, c.brokers, flood.ID); err != nil {
		return fb, fmt.Errorf("deleting other raw topics: %w", err)
	}

	// 2. The flood drains while the quiet project is measured.
	sl, err = startSluice(ctx, bin, dataDir, c.brokers, true, nil, logPrefix, "--log-level", c.logLevel)
	if err != nil {
		return fb, err
	}
	defer sl.stop()
	started := time.Now()
	floodCount := func() (int64, error) {
		n, _, err := count(ctx, sl.http, flood, map[string]any{"event_collection": "flood"})
		return n, err
	}
	var (
		mu      sync.Mutex
		samples []fairSample
	)
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan error, 1)
	go func() {
		for {
			n, err := floodCount()
			if err != nil && sctx.Err() == nil {
				sampled <- err
				return
			}
			mu.Lock()
			samples = append(samples, fairSample{time.Now(), n})
			mu.Unlock()
			if n >= int64(c.floodEvents) {
				sampled <- nil
				return
			}
			select {
			case <-sctx.Done():
				sampled <- nil
				return
			case <-time.After(2 * time.Second):
			}
		}
	}()
	from, to := time.Now().Add(c.warmup), time.Time{}
	fb.Flood, err = quietLatency(ctx, c, sl, ca, quiet, "quiet-flood", pl)
	to = time.Now()
	if err != nil {
		stopSampling()
		return fb, fmt.Errorf("quiet project during the flood: %w", err)
	}
	logf("fairness (%s): quiet project during the flood: p50 %.0f ms, p99 %.0f ms, max %.0f ms", name, fb.Flood.P50, fb.Flood.P99, fb.Flood.Max)
	// The backlog drains to its end.
	deadline := time.Now().Add(c.drainTimeout)
	for {
		n, err := floodCount()
		if err != nil {
			stopSampling()
			return fb, err
		}
		if n >= int64(c.floodEvents) {
			fb.DrainSeconds = time.Since(started).Seconds()
			break
		}
		if time.Now().After(deadline) {
			stopSampling()
			return fb, fmt.Errorf("the backlog was not drained after %s (%d of %d)", c.drainTimeout, n, c.floodEvents)
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopSampling()
	if err := <-sampled; err != nil {
		return fb, err
	}
	mu.Lock()
	fb.FloodRate, fb.FloodDrained = floodRate(samples, from, to, int64(c.floodEvents))
	for _, s := range samples { // the first sample with the whole backlog (every 2 s)
		if s.n >= int64(c.floodEvents) {
			fb.DrainSeconds = s.at.Sub(started).Seconds()
			break
		}
	}
	mu.Unlock()
	logf("fairness (%s): the flood stored %.0f events/s while the quiet project was measured; drained in %.1f s", name, fb.FloodRate, fb.DrainSeconds)

	// 3. The quiet project alone.
	fb.Quiet, err = quietLatency(ctx, c, sl, ca, quiet, "quiet-alone", pl)
	if err != nil {
		return fb, fmt.Errorf("quiet project alone: %w", err)
	}
	logf("fairness (%s): quiet project alone: p50 %.0f ms, p99 %.0f ms, max %.0f ms", name, fb.Quiet.P50, fb.Quiet.P99, fb.Quiet.Max)
	return fb, nil
}

type fairSample struct {
	at time.Time
	n  int64
}

// floodRate is the events per second stored between the samples closest
// to [from, to]; drained says the backlog was complete before to.
func floodRate(samples []fairSample, from, to time.Time, total int64) (rate float64, drained bool) {
	var a, b *fairSample
	for i := range samples {
		s := &samples[i]
		if a == nil && !s.at.Before(from) {
			a = s
		}
		if !s.at.After(to) {
			b = s
		}
	}
	if a == nil || b == nil || !b.at.After(a.at) {
		return 0, true
	}
	return float64(b.n-a.n) / b.at.Sub(a.at).Seconds(), b.n >= total
}

// quietLatency produces c.rate events/s with a sequence number into a new
// collection of p for c.duration and finds when each becomes countable
// (count with seq < k, as the pipeline benchmark's latency run).
func quietLatency(ctx context.Context, c fairConfig, sl *sluiceProc, ca string, p project, collection string, pl [][]byte) (fairLatency, error) {
	var fig fairLatency
	cl, err := inboundClient(sl.inbound, ca, p, collection)
	if err != nil {
		return fig, err
	}
	defer cl.Close()
	run, err := measureCountable(ctx, cl, sl.http, p, collection, pl, c.rate, c.duration, c.pollEvery)
	if err != nil {
		return fig, err
	}
	if err := run.writeTSV(filepath.Join(c.workDir, fmt.Sprintf("fairness-%s-%s.tsv", p.ID, collection))); err != nil {
		return fig, err
	}
	ms, warm, notSeen := run.latencies(c.warmup)
	fig.Measured, fig.NotSeen = len(ms), notSeen
	if len(warm) > 0 {
		fig.WarmupMax = warm[len(warm)-1]
	}
	fig.PollP50, fig.PollP99 = run.pollQuantiles()
	if len(ms) == 0 {
		return fig, errors.New("no event became countable")
	}
	fig.P50, fig.P99, fig.Max = quantile(ms, 0.5), quantile(ms, 0.99), ms[len(ms)-1]
	if fig.NotSeen > 0 {
		return fig, fmt.Errorf("%d events never became countable", fig.NotSeen)
	}
	return fig, nil
}

func (r *fairReport) markdown(c fairConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Fairness: a quiet project next to a flood\n\n")
	m := r.Machine
	fmt.Fprintf(&b, "Written by `bench/run.sh --benches fairness` (`bench/fairness.go`). `%s` at commit %s, %s → %s; "+
		"%d cores (%s), %.0f GiB, Linux %s; load average %s at the start, %s at the end.\n\n", c.command, r.Commit,
		r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04 UTC"), m.Cores, m.CPUModel, m.MemGiB, m.Kernel, m.LoadAvg, r.LoadEnd)
	fmt.Fprintf(&b, "The flood project's backlog of %d events of %d bytes (preloaded through Kafka Inbound with the pipeline off) "+
		"drains from sluice's start; meanwhile the quiet project produces %d events/s with a sequence number for %s "+
		"(those acknowledged in the first %s after the first acknowledgement left out: a new collection's first events wait for its topic, then are acknowledged together, during the flood's whole polls; their slowest is in the table), and a poller (a select_unique of `seq` over the events not yet seen, every %s) finds when each becomes countable, "+
		"each event on its own (the poll's round trip is in the figure; its p50 / p99 in the table). "+
		"Then, the backlog drained, the same run again, alone. Goal: the quiet project's p99 ≤ 500 ms during the flood.\n\n",
		r.FloodEvents, r.RecordSize, r.Rate, c.duration, c.warmup, c.pollEvery)
	b.WriteString("| build | quiet project during the flood: p50 / p99 / max | its first events (warm-up): max | its polls' round trip p50 / p99 | alone: p50 / p99 / max | flood stored while measured | whole backlog drained in |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, fb := range r.Builds {
		note := ""
		if fb.FloodDrained {
			note = " (the backlog ran out before the end)"
		}
		fmt.Fprintf(&b, "| %s | %.0f / %.0f / %.0f ms | %.0f ms | %.0f / %.0f ms | %.0f / %.0f / %.0f ms | %.0f events/s%s | %.1f s (%.0f events/s) |\n",
			fb.Build, fb.Flood.P50, fb.Flood.P99, fb.Flood.Max, fb.Flood.WarmupMax, fb.Flood.PollP50, fb.Flood.PollP99, fb.Quiet.P50, fb.Quiet.P99, fb.Quiet.Max,
			fb.FloodRate, note, fb.DrainSeconds, float64(r.FloodEvents)/fb.DrainSeconds)
	}
	fmt.Fprintf(&b, "\nEach build on a fresh data dir and fresh projects, the same broker; the earlier raw topics deleted before each drain. "+
		"`this commit`: %s; `baseline`: %s. sluice's log level while draining: %s.\n", r.Builds[0].Binary, baselineName(r.Builds), c.logLevel)
	if c.env != "" {
		b.WriteString("\n")
		for _, kv := range c.envPairs() {
			fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

func baselineName(builds []fairBuild) string {
	if len(builds) < 2 {
		return "none (--baseline-bin not given)"
	}
	return builds[1].Binary
}
