package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The event pipeline and store benchmark (sluicebench pipeline), run by
// bench/run.sh after the Inbound one, against the same broker:
//
//  1. preload: sluice with --pipeline=false; N events of 1 KB produced
//     through the Inbound listener into collection "pipeline";
//  2. drain: sluice restarted on the same data dir with the pipeline on;
//     the time and sluice CPU until count (HTTP) reaches N;
//  3. queries: count, filtered counts and extractions over those N events
//     through the HTTP API, each repeated;
//  4. latency: records produced at a fixed rate into collection
//     "latency", each with a sequence number; a poller asks
//     select_unique of seq to find when each becomes countable
//     (measureCountable);
//  5. sluice's RSS sampled during each phase;
//  6. more drains (--drains), each of a new project's preloaded events:
//     the throughput goal is judged on the drains' median.
type pipeConfig struct {
	bin, brokers, workDir string
	nice                  string
	events                int
	drains                int
	recordSize            int
	drainTimeout          time.Duration
	queryRuns             int
	rate                  int
	latDuration           time.Duration
	latWarmup             time.Duration
	pollEvery             time.Duration
	profile               time.Duration
	profileAt             time.Duration
	clkTck                float64
	store, chDir          string // pipeline_clickhouse.go
	nodes                 []int  // --nodes (pipeline_clickhouse.go)
	nodesEvents           int
	reportFlags
}

func pipelineBench(args []string) error {
	var c pipeConfig
	fs := flag.NewFlagSet("sluicebench pipeline", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the broker's PLAINTEXT listener (sluice's backend)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dir and logs go")
	fs.StringVar(&c.nice, "nice", "", "run sluice under nice -n N (run.sh does not: sluice inherits the niceness of sluicebench)")
	fs.IntVar(&c.events, "events", 1_000_000, "events preloaded, drained and queried")
	fs.IntVar(&c.drains, "drains", 3, "drains measured: the first in full, each further one of a new project's preloaded events (the throughput goal is judged on their median)")
	fs.IntVar(&c.recordSize, "record-size", 1024, "bytes of JSON per event")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 6*time.Minute, "give up the drain after this long")
	fs.IntVar(&c.queryRuns, "query-runs", 20, "measured runs of each query (after 2 warm-ups)")
	fs.IntVar(&c.rate, "rate", 1000, "events per second of the latency run")
	fs.DurationVar(&c.latDuration, "latency-duration", 30*time.Second, "length of the latency run (warm-up included)")
	fs.DurationVar(&c.latWarmup, "latency-warmup", 5*time.Second, "events acknowledged this long after the latency run's first acknowledgement are left out of the figures")
	fs.DurationVar(&c.pollEvery, "poll", 20*time.Millisecond, "interval of the latency run's count polls")
	fs.DurationVar(&c.profile, "profile", 10*time.Second, "CPU profile of sluice during the drain (0 = none)")
	fs.DurationVar(&c.profileAt, "profile-at", 5*time.Second, "when the CPU profile starts, counted from the start of the drain (once the table has grown; a drain of 1M events takes 15–25 s on 2 cores)")
	fs.Float64Var(&c.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	fs.StringVar(&c.store, "store", "", "serve --store clickhouse://… (pipeline_clickhouse.go); empty: DuckDB")
	fs.StringVar(&c.chDir, "clickhouse-dir", "", "with --store: the servers' directory (scripts/clickhouse.sh start --dir), for their CPU")
	nodes := fs.String("nodes", "", "with --store: after the drains, drains by several sluice nodes at once, one per entry of this list (e.g. 1,3; each a new project's events, a fresh database)")
	fs.IntVar(&c.nodesEvents, "nodes-events", 300_000, "events of each --nodes drain (at most --events)")
	c.register(fs, "pipeline.md", "", "the figures as JSON (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	if c.bin == "" || c.brokers == "" {
		return errors.New("--sluice-bin and --kafka-brokers are required")
	}
	if c.latWarmup >= c.latDuration {
		return errors.New("--latency-warmup must be shorter than --latency-duration")
	}
	var err error
	if c.nodes, err = parseNodes(*nodes); err != nil {
		return err
	}
	if c.nodesEvents < 1 {
		return errors.New("--nodes-events must be at least 1")
	}
	c.nodesEvents = min(c.nodesEvents, c.events)
	if err := c.checkStore(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &pipeReport{Started: time.Now(), Machine: describeMachine(), Events: c.events, RecordSize: c.recordSize, Store: c.engine()}
	if err := runPipelineBench(ctx, c, rep); err != nil {
		return err
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAvg()
	if c.raw != "" {
		raw, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(c.raw, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(c.out, []byte(rep.markdown(c)), 0o644); err != nil {
		return err
	}
	logf("wrote %s", c.out)
	return nil
}

// deleteOtherRawTopics deletes the raw topics of every project but pid.
func deleteOtherRawTopics(ctx context.Context, brokers, pid string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	return deleteTopics(ctx, kadm.NewClient(cl), "pipeline", func(name string) bool {
		return strings.HasPrefix(name, "sluice.in") && !strings.Contains(name, pid)
	})
}

func runPipelineBench(ctx context.Context, c pipeConfig, rep *pipeReport) error {
	dataDir := filepath.Join(c.workDir, "pipeline-data")
	var nice []string
	if c.nice != "" {
		nice = []string{"nice", "-n", c.nice}
	}
	pl := payloads(4096, c.recordSize)

	// 1. Preload through the Inbound listener, the pipeline off.
	p, err := preloadProject(ctx, c, dataDir, nice, pl, "pipeline-bench", "pipeline-sluice-1", &rep.PreloadSeconds)
	if err != nil {
		return err
	}
	rep.Project = p.ID

	// 2. Drain: sluice with the pipeline. The pipeline consumes every raw
	// topic on the backend from its start: another benchmark's raw events
	// (the Inbound benchmark leaves gigabytes) would be drained on the same
	// cores and counted in this one's CPU.
	if err := deleteOtherRawTopics(ctx, c.brokers, p.ID); err != nil {
		return fmt.Errorf("deleting earlier benchmarks' raw topics: %w", err)
	}
	var debug []string
	debugAddr := ""
	if c.profile > 0 {
		if debugAddr, err = freeLoopback(); err != nil {
			return err
		}
		debug = []string{"--debug-addr", debugAddr}
	}
	sl, err := startSluice(ctx, c.bin, dataDir, c.brokers, true, nice, filepath.Join(c.workDir, "pipeline-sluice-2"), append(debug, c.storeArgs()...)...)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			sl.stop()
		}
	}()
	profiled := make(chan struct{})
	if c.profile > 0 {
		go func() { // during the drain, while it lasts
			defer close(profiled)
			if err := profileDrain(ctx, c, sl, debugAddr, rep); err != nil {
				logf("warning: no CPU profile of the drain: %v", err)
			}
		}()
	} else {
		close(profiled)
	}
	err = drain(ctx, c, []*sluiceProc{sl}, p, &rep.Drain)
	<-profiled
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}

	// 3. Queries over the drained events.
	rss := sampleRSS(sl.pid)
	rep.Queries, err = runQueries(ctx, c, sl, p)
	rep.QueriesPeakRSSkB = rss()
	if err != nil {
		return fmt.Errorf("queries: %w", err)
	}

	// 4. Produce → countable.
	rss = sampleRSS(sl.pid)
	rep.Latency, err = latency(ctx, c, sl, p, pl)
	rep.LatencyPeakRSSkB = rss()
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	rep.PeakRSSkB = procStatus(sl.pid, "VmHWM")

	// 5. More drains, each of a new project's events.
	stopped = true
	if err := sl.stop(); err != nil {
		return err
	}
	for i := 2; i <= c.drains; i++ {
		d, err := anotherDrain(ctx, c, dataDir, nice, pl, i)
		if err != nil {
			return fmt.Errorf("drain %d: %w", i, err)
		}
		rep.MoreDrains = append(rep.MoreDrains, d)
	}

	// 6. Drains by several nodes (--nodes).
	for i, n := range c.nodes {
		f, err := nodesDrain(ctx, c, i+1, n, nice, pl)
		if err != nil {
			return fmt.Errorf("drain by %d nodes: %w", n, err)
		}
		rep.Nodes = append(rep.Nodes, f)
	}
	return nil
}

// preloadProject starts sluice with the pipeline off, creates a project called
// name and produces c.events events into its collection "pipeline".
func preloadProject(ctx context.Context, c pipeConfig, dataDir string, nice []string, pl [][]byte, name, logName string, seconds *float64) (project, error) {
	sl, err := startSluice(ctx, c.bin, dataDir, c.brokers, false, nice, filepath.Join(c.workDir, logName), c.storeArgs()...)
	if err != nil {
		return project{}, err
	}
	p, err := createProject(ctx, sl.http, dataDir, name)
	if err != nil {
		sl.stop()
		return project{}, err
	}
	logf("pipeline: project %s; preloading %d events through the Inbound listener", p.ID, c.events)
	t0 := time.Now()
	err = produceAll(ctx, sl.inbound, filepath.Join(dataDir, "tls", "ca.pem"), p, "pipeline", pl, c.events)
	*seconds = time.Since(t0).Seconds()
	if stopErr := sl.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return project{}, fmt.Errorf("preload: %w", err)
	}
	logf("pipeline: preloaded in %.1f s", *seconds)
	return p, nil
}

// anotherDrain preloads a new project (the i-th) and drains it, into the
// store that holds the earlier drains' events.
func anotherDrain(ctx context.Context, c pipeConfig, dataDir string, nice []string, pl [][]byte, i int) (drainFigures, error) {
	var d drainFigures
	var seconds float64
	p, err := preloadProject(ctx, c, dataDir, nice, pl, fmt.Sprintf("pipeline-bench-%d", i), fmt.Sprintf("pipeline-sluice-%d-preload", i), &seconds)
	if err != nil {
		return d, err
	}
	if err := deleteOtherRawTopics(ctx, c.brokers, p.ID); err != nil {
		return d, fmt.Errorf("deleting the earlier drains' raw topics: %w", err)
	}
	sl, err := startSluice(ctx, c.bin, dataDir, c.brokers, true, nice, filepath.Join(c.workDir, fmt.Sprintf("pipeline-sluice-%d", i)), c.storeArgs()...)
	if err != nil {
		return d, err
	}
	err = drain(ctx, c, []*sluiceProc{sl}, p, &d)
	if stopErr := sl.stop(); err == nil {
		err = stopErr
	}
	return d, err
}

// inboundClient is a producer on sluice's Inbound listener.
func inboundClient(addr, ca string, p project, collection string) (*kgo.Client, error) {
	t := target{Name: "sluice", Seeds: []string{addr}, CAFile: ca, User: p.ID, Password: p.Write, Topic: collection}
	return t.client(loadOpts{Compression: "none"})
}

// produceAll produces n events (payloads cycled) and waits for every
// acknowledgement.
func produceAll(ctx context.Context, addr, ca string, p project, collection string, pl [][]byte, n int) error {
	cl, err := inboundClient(addr, ca, p, collection)
	if err != nil {
		return err
	}
	defer cl.Close()
	var first atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: pl[i%len(pl)]}, func(_ *kgo.Record, err error) {
			if err != nil {
				first.CompareAndSwap(nil, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// drain polls count (on the first process) every second until it reaches
// the preloaded events, sampling the CPU of every sluice process and of the
// store's servers with each poll.
func drain(ctx context.Context, c pipeConfig, procs []*sluiceProc, p project, d *drainFigures) error {
	sl := procs[0]
	rss := sampleRSS(sl.pid)
	defer func() { d.PeakRSSkB = rss() }()
	type point struct {
		at     time.Time
		n      int64
		cpuS   float64 // every sluice's and the store's (storeCPU)
		storeS float64
		nodeS  []float64
	}
	var pts []point
	tx0, err := committedTransactions(ctx, procs)
	if err != nil {
		return err
	}
	ch0, err := c.chSnapshot(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(c.drainTimeout)
	q := map[string]any{"event_collection": "pipeline"}
	for {
		nodeS := make([]float64, len(procs))
		cpu := 0.0
		for i, pr := range procs {
			nodeS[i] = procCPU(pr.pid).seconds(c.clkTck)
			cpu += nodeS[i]
		}
		storeCPU := c.storeCPU()
		at := time.Now()
		n, _, err := count(ctx, sl.http, p, q)
		if err != nil {
			return err
		}
		pts = append(pts, point{at, n, cpu + storeCPU, storeCPU, nodeS})
		if n >= int64(c.events) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	first, last := pts[0], pts[len(pts)-1]
	d.EventsAtStart, d.Events = first.n, last.n-first.n
	d.Seconds = last.at.Sub(first.at).Seconds()
	d.CPUSeconds = last.cpuS - first.cpuS
	d.StoreCPUSeconds = last.storeS - first.storeS
	if len(procs) > 1 {
		for i := range procs {
			d.NodeCPUSeconds = append(d.NodeCPUSeconds, last.nodeS[i]-first.nodeS[i])
		}
	}
	d.Complete, d.CountAtEnd = last.n >= int64(c.events), last.n
	tx1, err := committedTransactions(ctx, procs)
	if err != nil {
		return err
	}
	d.Transactions = tx1 - tx0
	if d.ClickHouse, err = c.chAfter(ctx, ch0); err != nil {
		return err
	}
	d.DatabaseBytes, d.JSONLogBytes = storeSizes(filepath.Join(c.workDir, "pipeline-data", "store"))
	if d.Seconds > 0 && d.CPUSeconds > 0 {
		d.EventsPerS = float64(d.Events) / d.Seconds
		d.EventsPerCPUSecond = float64(d.Events) / d.CPUSeconds
		d.Cores = d.CPUSeconds / d.Seconds
	}
	// Per 5-second window, while events were still arriving.
	for i := 0; i+5 < len(pts); i += 5 {
		a, b := pts[i], pts[i+5]
		if b.n >= int64(c.events) || b.cpuS <= a.cpuS {
			break
		}
		d.WindowsPerCPUSecond = append(d.WindowsPerCPUSecond, float64(b.n-a.n)/(b.cpuS-a.cpuS))
	}
	logf("pipeline: drained %d events in %.1f s: %.0f events/s, %.0f events per CPU-second (%.2f cores; the store's servers %.1f s)",
		d.Events, d.Seconds, d.EventsPerS, d.EventsPerCPUSecond, d.Cores, d.StoreCPUSeconds)
	if !d.Complete {
		return fmt.Errorf("only %d of %d events countable after %v", last.n, c.events, c.drainTimeout)
	}
	return nil
}

// storeSizes returns the bytes on disk of the store's DuckDB database (with
// its WAL) and of its JSON logs.
func storeSizes(dir string) (database, logs int64) {
	for _, name := range []string{"events.duckdb", "events.duckdb.wal"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			database += fi.Size()
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "json"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			logs += fi.Size()
		}
	}
	return database, logs
}

// committedTransactions sums sluice_pipeline_transactions_total{result="committed"}
// from every process's /metrics: one transaction per poll, so events per
// transaction is the size of the batches the store was given.
func committedTransactions(ctx context.Context, procs []*sluiceProc) (int64, error) {
	var total int64
	for _, p := range procs {
		n, err := committedTransactionsOf(ctx, p.http)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func committedTransactionsOf(ctx context.Context, httpURL string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", httpURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading sluice's metrics: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("reading sluice's metrics: %w", err)
	}
	const series = `sluice_pipeline_transactions_total{result="committed"} `
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	return 0, nil // no transaction committed yet
}

// benchQueries are the queries of step 3 (the payloads' fields: user.country
// is one of 44 words, amount 0–999.99, keen.timestamp in January 2026).
func benchQueries() []struct {
	name, analysis string
	params         map[string]any
} {
	paris := map[string]any{"property_name": "user.country", "operator": "eq", "property_value": "paris"}
	return []struct {
		name, analysis string
		params         map[string]any
	}{
		{"count, no filter", "count", map[string]any{}},
		{"count, 1 filter (user.country eq)", "count", map[string]any{"filters": []any{paris}}},
		{"count, 2 filters + 7-day timeframe", "count", map[string]any{
			"filters":   []any{paris, map[string]any{"property_name": "amount", "operator": "gt", "property_value": 500}},
			"timeframe": map[string]any{"start": "2026-01-08T00:00:00.000Z", "end": "2026-01-15T00:00:00.000Z"}}},
		{"count, contains", "count", map[string]any{"filters": []any{map[string]any{"property_name": "text", "operator": "contains", "property_value": "checkout pricing"}}}},
		{"extraction, 1 filter, latest 100", "extraction", map[string]any{"filters": []any{paris}, "latest": 100}},
		{"extraction, 1-hour timeframe", "extraction", map[string]any{
			"timeframe": map[string]any{"start": "2026-01-10T00:00:00.000Z", "end": "2026-01-10T01:00:00.000Z"}}},
	}
}

func runQueries(ctx context.Context, c pipeConfig, sl *sluiceProc, p project) ([]queryFigures, error) {
	var out []queryFigures
	for _, bq := range benchQueries() {
		params := map[string]any{"event_collection": "pipeline"}
		for k, v := range bq.params {
			params[k] = v
		}
		pj, _ := json.Marshal(params)
		f := queryFigures{Name: bq.name, Analysis: bq.analysis, Params: string(pj)}
		var ms []float64
		for i := 0; i < 2+c.queryRuns; i++ {
			raw, rtt, err := queryAPI(ctx, sl.http, p.ID, p.Read, bq.analysis, params)
			if err != nil {
				return out, err
			}
			if i < 2 {
				f.Result = describeResult(bq.analysis, raw)
				continue
			}
			ms = append(ms, float64(rtt.Microseconds())/1000)
		}
		sortFloats(ms)
		f.MinMs, f.P50Ms, f.P99Ms, f.MaxMs = ms[0], quantile(ms, 0.5), quantile(ms, 0.99), ms[len(ms)-1]
		logf("pipeline: %-40s %s: p50 %.1f ms, max %.1f ms", bq.name, f.Result, f.P50Ms, f.MaxMs)
		out = append(out, f)
	}
	return out, nil
}

func describeResult(analysis string, raw json.RawMessage) string {
	if analysis == "count" {
		return string(raw)
	}
	var evs []json.RawMessage
	if json.Unmarshal(raw, &evs) != nil {
		return "?"
	}
	return fmt.Sprintf("%d events, %.1f MB", len(evs), float64(len(raw))/1e6)
}

// latency produces at a fixed rate into collection "latency" and finds
// when each event becomes countable (measureCountable).
func latency(ctx context.Context, c pipeConfig, sl *sluiceProc, p project, pl [][]byte) (latencyFigures2, error) {
	fig := latencyFigures2{Rate: c.rate, Seconds: c.latDuration.Seconds(), WarmupSeconds: c.latWarmup.Seconds(), PollMs: float64(c.pollEvery.Milliseconds())}
	cl, err := inboundClient(sl.inbound, filepath.Join(c.workDir, "pipeline-data", "tls", "ca.pem"), p, "latency")
	if err != nil {
		return fig, err
	}
	defer cl.Close()
	before, err := scrapeMetrics(ctx, sl.http)
	if err != nil {
		return fig, fmt.Errorf("reading sluice's metrics: %w", err)
	}
	run, err := measureCountable(ctx, cl, sl.http, p, "latency", pl, c.rate, c.latDuration, c.pollEvery)
	if err != nil {
		return fig, err
	}
	after, err := scrapeMetrics(ctx, sl.http)
	if err != nil {
		return fig, fmt.Errorf("reading sluice's metrics: %w", err)
	}
	fig.Steps = batchSteps(before, after)
	ms, _, notSeen := run.latencies(c.latWarmup)
	fig.Measured, fig.NotSeen = len(ms), notSeen
	fig.PollP50, fig.PollP99 = run.pollQuantiles()
	if len(ms) == 0 {
		return fig, errors.New("no event became countable")
	}
	fig.P50, fig.P99, fig.P999, fig.Max = quantile(ms, 0.5), quantile(ms, 0.99), quantile(ms, 0.999), ms[len(ms)-1]
	logf("pipeline: produce→countable at %d/s: p50 %.0f ms, p99 %.0f ms, p99.9 %.0f ms, max %.0f ms (%d events, %d not seen; polls p50 %.0f ms, p99 %.0f ms)",
		c.rate, fig.P50, fig.P99, fig.P999, fig.Max, fig.Measured, fig.NotSeen, fig.PollP50, fig.PollP99)
	if fig.NotSeen > 0 {
		return fig, fmt.Errorf("%d events never became countable", fig.NotSeen)
	}
	return fig, nil
}

// sampleRSS samples a process's VmRSS every 200 ms until the returned
// function is called, which returns the peak in kB.
func sampleRSS(pid string) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if v := procStatus(pid, "VmRSS"); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profileDrain takes a CPU profile of sluice for c.profile from
// c.profileAt into the drain, sums it by pipeline stage, and compares the profile's total
// with sluice's CPU from /proc over the same time: the difference is
// sampling noise (Go's profiler samples DuckDB's threads too).
func profileDrain(ctx context.Context, c pipeConfig, sl *sluiceProc, debugAddr string, rep *pipeReport) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.profileAt):
	}
	file := filepath.Join(c.workDir, "pipeline-cpu.pprof")
	pctx, cancel := context.WithTimeout(ctx, c.profile+30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(pctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, int(c.profile.Seconds())), nil)
	cpu0 := procCPU(sl.pid).seconds(c.clkTck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	cpu1 := procCPU(sl.pid).seconds(c.clkTck)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	hs, total, err := hotspotsBy(file, pipelineRules)
	if err != nil {
		return err
	}
	rep.Profile = &drainProfile{Seconds: c.profile.Seconds(), At: c.profileAt.Seconds(), GoSampledCPU: float64(total) / 1e9, ProcCPU: cpu1 - cpu0, Hotspots: hs}
	logf("pipeline: CPU profile of the drain in %s (%.1f s sampled by Go of %.1f s used)", file, rep.Profile.GoSampledCPU, rep.Profile.ProcCPU)
	return nil
}
