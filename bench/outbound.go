package main

// The Kafka Outbound listener benchmark (sluicebench outbound), run by
// bench/run.sh against the same broker as the other benchmarks:
//
//  1. sluice with the pipeline on (the default) on a data dir of its own,
//     a project, Kafka Outbound enabled over HTTP;
//  2. consume throughput (outbound_consume.go): two backend outbound topics
//     of the project preloaded straight into the broker, one with plain
//     batches and one written in committed transactions as the pipeline
//     writes them, then read in full by the same franz-go consumer,
//     alternately through the broker's SASL_SSL listener (direct) and
//     through sluice's Outbound listener, in A/B pairs;
//  3. end to end (outbound_e2e.go): events produced at a fixed rate on the
//     Inbound listener, enriched and published by the pipeline, consumed on
//     the Outbound listener by the same process, one clock;
//  4. a CPU profile of sluice while it serves the transactional topic;
//  5. the report section (outbound_report.go) and the latency plot.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eGoalMinutes is how long the end-to-end goal (p50 ≤ 50 ms, p99 ≤ 250
// ms at 5,000 events/s) must hold: the default run measures that long, in
// one-minute windows, and a shorter one reports the goal as not measured.
const e2eGoalMinutes = 10

type obConfig struct {
	bin, brokers, workDir, nice                   string
	directSeeds, directCA, directUser, directPass string
	brokerPID                                     string

	consumeMB  int           // MB of record values per preloaded topic
	txnRecords int           // records per transaction of the transactional topic
	pairs      int           // measured A/B pairs per consume series
	pause      time.Duration // idle time between runs
	rate       int           // events per second, end to end
	windows    int           // measured windows, end to end
	window     time.Duration // length of one window
	warmup     time.Duration // end-to-end warm-up
	profile    time.Duration // CPU profile of sluice (0 = none)
	recordSize int
	clkTck     float64
	plot       string
	reportFlags
	keepPreload bool
	shortRun    []string // measurement flags changed from their defaults
}

// obench is one run of the Outbound benchmark.
type obench struct {
	cfg       obConfig
	sl        *sluiceProc
	debugAddr string
	p         project
	sluiceCA  string
	adm       *kadm.Client
	rep       *obReport
}

func outboundBench(args []string) error {
	var c obConfig
	fs := flag.NewFlagSet("sluicebench outbound", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the broker's PLAINTEXT listener (sluice's backend; also used to preload)")
	fs.StringVar(&c.directSeeds, "direct-bootstrap", "", "the broker's SASL_SSL listener (host:port), the direct side")
	fs.StringVar(&c.directCA, "direct-ca", "", "PEM CA of the broker's SASL_SSL listener")
	fs.StringVar(&c.directUser, "direct-user", "admin", "SASL PLAIN user of the broker")
	fs.StringVar(&c.directPass, "direct-password", "admin-secret", "SASL PLAIN password of the broker")
	fs.StringVar(&c.brokerPID, "broker-pid", "", "pid of the Kafka broker JVM (for its CPU)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dir, logs and profile go")
	fs.StringVar(&c.nice, "nice", "", "run sluice under nice -n N")
	fs.IntVar(&c.consumeMB, "consume-mb", 1500, "MB (10⁶ bytes) of record values preloaded into each consumed topic")
	fs.IntVar(&c.txnRecords, "txn-records", 2000, "records per transaction of the transactional topic")
	fs.IntVar(&c.pairs, "pairs", 5, "measured A/B pairs per consume series (after one warm-up pair)")
	fs.DurationVar(&c.pause, "pause", time.Second, "idle time between runs")
	fs.IntVar(&c.rate, "e2e-rate", 5000, "events per second of the end-to-end run")
	fs.IntVar(&c.windows, "e2e-windows", e2eGoalMinutes, "measured windows of the end-to-end run")
	fs.DurationVar(&c.window, "e2e-window", time.Minute, "length of each end-to-end window")
	fs.DurationVar(&c.warmup, "e2e-warmup", 10*time.Second, "end-to-end warm-up (at least; until every consumer has its first event)")
	fs.DurationVar(&c.profile, "profile", 6*time.Second, "CPU profile of sluice serving the transactional topic (0 = none)")
	fs.IntVar(&c.recordSize, "record-size", 1024, "bytes of JSON per record")
	fs.Float64Var(&c.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	c.register(fs, "outbound.md", "", "the figures as JSON (empty: none)")
	fs.StringVar(&c.plot, "plot", "outbound-latency.png", "the end-to-end latency plot (PNG)")
	fs.BoolVar(&c.keepPreload, "keep-topics", false, "keep the preloaded topics at the end (default: delete them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	// A run with less than the default measurement is a check that the
	// benchmark works; the report says so.
	shorter := map[string]bool{"consume-mb": true, "pairs": true, "e2e-windows": true, "e2e-window": true, "e2e-warmup": true}
	fs.Visit(func(f *flag.Flag) {
		if shorter[f.Name] && f.Value.String() != f.DefValue {
			c.shortRun = append(c.shortRun, "--"+f.Name+" "+f.Value.String())
		}
	})
	for _, f := range []struct{ name, v string }{
		{"sluice-bin", c.bin}, {"kafka-brokers", c.brokers}, {"direct-bootstrap", c.directSeeds}, {"direct-ca", c.directCA},
	} {
		if f.v == "" {
			return fmt.Errorf("--%s is required", f.name)
		}
	}
	if c.pairs < 1 || c.windows < 1 || c.rate < 1 || c.consumeMB < 1 || c.txnRecords < 1 {
		return errors.New("--pairs, --e2e-windows, --e2e-rate, --consume-mb and --txn-records must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	o := &obench{cfg: c, rep: &obReport{Started: time.Now(), Machine: describeMachine()}}
	err := o.run(ctx)
	if o.sl != nil {
		if serr := o.sl.stop(); serr != nil {
			logf("outbound: stopping sluice: %v", serr)
		}
	}
	if err != nil {
		return err
	}
	return o.write()
}

func (o *obench) run(ctx context.Context) error {
	c := o.cfg
	admCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	o.adm = kadm.NewClient(admCl)

	// The pipeline consumes every raw topic on the backend from its start:
	// the other benchmarks' gigabytes of raw events would be processed on
	// the same cores as this one's. They are no longer needed.
	if err := deleteTopics(ctx, o.adm, "outbound", func(name string) bool { return strings.HasPrefix(name, "sluice.in") }); err != nil {
		return fmt.Errorf("deleting earlier benchmarks' raw topics: %w", err)
	}

	dataDir := filepath.Join(c.workDir, "outbound-data")
	o.debugAddr, err = freePort()
	if err != nil {
		return err
	}
	var nice []string
	if c.nice != "" {
		nice = []string{"nice", "-n", c.nice}
	}
	o.sl, err = startSluice(ctx, c.bin, dataDir, c.brokers, true, nice, filepath.Join(c.workDir, "outbound-sluice"), "--debug-addr", o.debugAddr)
	if err != nil {
		return err
	}
	o.sluiceCA = filepath.Join(dataDir, "tls", "ca.pem")
	if o.p, err = createProject(ctx, o.sl.http, dataDir, "outbound-bench"); err != nil {
		return err
	}
	if err := o.enableOutbound(ctx); err != nil {
		return err
	}
	o.rep.Project = o.p.ID
	logf("outbound: sluice %s (pipeline on), project %s, Kafka Outbound enabled; Outbound listener %s", o.sl.pid, o.p.ID, o.sl.outbound)

	if err := o.consumeBench(ctx); err != nil {
		return fmt.Errorf("consume throughput: %w", err)
	}
	if err := o.e2eBench(ctx); err != nil {
		return fmt.Errorf("end to end: %w", err)
	}
	// VmHWM was reset before each part: the peak is the largest of theirs.
	o.rep.PeakRSSkB = max(o.rep.ConsumePeakRSSkB, o.rep.E2E.PeakRSSkB, procStatus(o.sl.pid, "VmHWM"))
	o.rep.Finished, o.rep.LoadEnd = time.Now(), loadAvg()
	if !c.keepPreload {
		own := tenancyOut(o.p.ID, "")
		if err := deleteTopics(ctx, o.adm, "outbound", func(name string) bool { return strings.HasPrefix(name, own) }); err != nil {
			logf("outbound: warning: deleting the benchmark's topics: %v", err)
		}
	}
	return nil
}

// tenancyOut is sluice's backend name of a project's outbound topic
// (tenancy.BackendOutboundTopic; bench/ does not import sluice).
func tenancyOut(pid, topic string) string { return "sluice.out." + pid + "." + topic }

// enableOutbound turns the project's Kafka Outbound on, as a user would.
func (o *obench) enableOutbound(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "PUT", o.sl.http+"/3.0/projects/"+o.p.ID+"/streams/kafka/outbound", strings.NewReader(`{"enabled":true}`))
	req.Header.Set("Authorization", o.p.Master)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("enabling Kafka Outbound: %w", err)
	}
	defer resp.Body.Close()
	var doc struct {
		Outbound struct {
			Enabled bool `json:"enabled"`
		} `json:"outbound"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK || !doc.Outbound.Enabled {
		return fmt.Errorf("enabling Kafka Outbound: HTTP %d (%v)", resp.StatusCode, err)
	}
	return nil
}

// deleteTopics deletes the backend's topics whose names match; who says
// who asked, in the log.
func deleteTopics(ctx context.Context, adm *kadm.Client, who string, match func(string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for name := range td {
		if match(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	rs, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return err
	}
	if err := rs.Error(); err != nil {
		return err
	}
	logf("%s: deleted %d topic(s): %s", who, len(names), strings.Join(names, ", "))
	return nil
}

// pauseFor waits between runs.
func (o *obench) pauseFor(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.cfg.pause):
		return nil
	}
}

// traceReport prints what outbound_pipetrace.go reads from an execution
// trace of sluice (sluicebench outbound-trace FILE): the pipeline loop's
// wall time by step, and the Outbound listener's time per fetch.
func traceReport(file string) error {
	ps, span, err := pipelineWallTime(file)
	if err != nil {
		return err
	}
	fmt.Printf("pipeline loop, trace of %s:\n", span.Round(time.Millisecond))
	for _, p := range ps {
		fmt.Printf("%5.1f%%  %-66s %s\n", 100*p.Share, p.Step, p.State)
	}
	d, err := outboundFetchDelays(file)
	if err != nil {
		return err
	}
	fmt.Printf("Outbound fetches: %d, broker answer → response written p50 %.1f ms, p90 %.1f, max %.1f; runnable %.0f%% of it\n",
		d.Fetches, d.P50Ms, d.P90Ms, d.MaxMs, 100*d.RunnableFrac)
	return nil
}

// resetPeakRSS resets sluice's VmHWM (Linux: "5" > /proc/PID/clear_refs) so
// that each part of the benchmark reports its own peak; false if the
// kernel refused.
func resetPeakRSS(pid string) bool {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
}

// freePort is a free loopback address for sluice's --debug-addr.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
