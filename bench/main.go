// Command sluicebench is the load generator and reporter of bench/run.sh,
// the Kafka Inbound listener's benchmark (see bench/README.md). run.sh
// starts Apache Kafka and sluice; this program creates the project and the
// topics, runs the alternating direct / through-sluice producer loads,
// samples sluice's CPU and memory from /proc, and writes RESULTS.md, the
// latency plot and the raw figures.
//
//	sluicebench freeport          print a free loopback TCP port
//	sluicebench run [flags]       the benchmark (sluicebench run -h)
//	sluicebench hotspots FILE     sluice's CPU profile summed by what the code does
//	sluicebench walltime FILE     an execution trace of sluice: where its producing connections' time goes
//	sluicebench load [flags]      one load against one endpoint, figures as JSON (sluicebench load -h)
//	sluicebench pipeline [flags]  the event pipeline and store benchmark (pipeline.go; sluicebench pipeline -h)
//	sluicebench outbound [flags]  the Kafka Outbound listener benchmark (outbound.go; sluicebench outbound -h)
//	sluicebench soak [flags]      mixed valid and poison traffic for 30 minutes (soak.go; sluicebench soak -h)
//	sluicebench queries [flags]   Keen's analyses over 10M stored events, through sluice and direct (queries.go)
//	sluicebench idle [flags]      idle TLS connections held: sluice's RSS, a new producer's first ack (idle.go)
//	sluicebench outbound-trace FILE  an execution trace of sluice: the pipeline loop by step, Outbound fetch times
//	sluicebench engines pipeline|queries OUT RAW.json=REPORT.md...  one benchmark on several stores, side by side (engines.go)
//	sluicebench sections RESULTS.md NAME=FILE...  replace those sections of RESULTS.md
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type config struct {
	directSeeds, directCA, directUser, directPass string
	adminSeeds                                    string
	sluiceSeeds, sluiceCA, sluiceHTTP, sluiceData string
	sluicePID, brokerPID, sluiceDebug, sluiceBin  string

	topic       string
	partitions  int
	recordSize  int
	duration    time.Duration
	warmup      time.Duration
	pairs       int
	rate        int
	latDuration time.Duration
	lz4         bool
	lz4Duration time.Duration
	profile     time.Duration
	pause       time.Duration
	clkTck      float64

	plot, workDir string
	reportFlags
}

type bench struct {
	cfg        config
	sluicePID  string
	brokerPID  string
	sluiceHTTP string
	projectID  string
	clkTck     float64
	direct     target
	sluice     target
	rawTopic   string
	start      time.Time
	machine    machine
}

// usage says what sluicebench runs, and exits.
func usage() {
	fmt.Fprintln(os.Stderr, "usage: sluicebench freeport | run [flags] | load [flags] | pipeline [flags] | outbound [flags] | soak [flags] | queries [flags] | idle [flags] | inbound-ab [flags] | engines pipeline|queries OUT RAW=MD... | sections RESULTS.md NAME=FILE...")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "freeport":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal(err)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	case "run":
		if err := run(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "hotspots":
		if len(os.Args) != 3 {
			fatal(errors.New("usage: sluicebench hotspots CPU-PROFILE"))
		}
		hs, total, err := hotspots(os.Args[2])
		if err != nil {
			fatal(err)
		}
		fmt.Printf("%.2f s of CPU samples\n", float64(total)/1e9)
		for _, h := range hs {
			fmt.Printf("%5.1f%%  %6.2f s  %s\n", 100*h.Share, float64(h.Nanos)/1e9, h.What)
		}
	case "walltime":
		if len(os.Args) != 3 {
			fatal(errors.New("usage: sluicebench walltime EXECUTION-TRACE"))
		}
		ws, conns, span, err := connWallTime(os.Args[2])
		if err != nil {
			fatal(err)
		}
		fmt.Printf("%d producing connection(s), trace of %s\n", conns, span.Round(time.Millisecond))
		for _, w := range ws {
			fmt.Printf("%-6s %5.1f%%  %8s  %s\n", w.Role, 100*w.Share, w.Dur.Round(time.Millisecond), w.What)
		}
	case "load":
		if err := load(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "pipeline":
		if err := pipelineBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "fairness":
		if err := fairnessBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "outbound":
		if err := outboundBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "soak":
		if err := soakBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "queries":
		if err := queriesBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "inbound-ab":
		if err := inboundAB(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "idle":
		if err := idleBench(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "outbound-trace":
		if len(os.Args) != 3 {
			fatal(errors.New("usage: sluicebench outbound-trace EXECUTION-TRACE"))
		}
		if err := traceReport(os.Args[2]); err != nil {
			fatal(err)
		}
	case "engines":
		if err := engines(os.Args[2:]); err != nil {
			fatal(err)
		}
	case "sections":
		if err := sections(os.Args[2:]); err != nil {
			fatal(err)
		}
	default:
		usage()
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "sluicebench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s sluicebench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(args []string) error {
	var c config
	fs := flag.NewFlagSet("sluicebench run", flag.ContinueOnError)
	fs.StringVar(&c.directSeeds, "direct-bootstrap", "", "the broker's SASL_SSL listener (host:port)")
	fs.StringVar(&c.directCA, "direct-ca", "", "PEM CA of the broker's SASL_SSL listener")
	fs.StringVar(&c.directUser, "direct-user", "admin", "SASL PLAIN user of the broker")
	fs.StringVar(&c.directPass, "direct-password", "admin-secret", "SASL PLAIN password of the broker")
	fs.StringVar(&c.adminSeeds, "admin-bootstrap", "", "the broker's PLAINTEXT listener, to create and check topics")
	fs.StringVar(&c.sluiceSeeds, "sluice-bootstrap", "", "sluice's Kafka Inbound listener (host:port)")
	fs.StringVar(&c.sluiceCA, "sluice-ca", "", "PEM CA of sluice's listeners (<data-dir>/tls/ca.pem)")
	fs.StringVar(&c.sluiceHTTP, "sluice-http", "", "sluice's HTTP API base URL")
	fs.StringVar(&c.sluiceData, "sluice-data-dir", "", "sluice's data dir (for org.json)")
	fs.StringVar(&c.sluicePID, "sluice-pid", "", "pid of the sluice process (CPU and memory are read from /proc)")
	fs.StringVar(&c.brokerPID, "broker-pid", "", "pid of the Kafka broker JVM")
	fs.StringVar(&c.sluiceDebug, "sluice-debug", "", "sluice's --debug-addr, for a CPU profile after the measurements (empty = no profile)")
	fs.StringVar(&c.sluiceBin, "sluice-bin", "", "the sluice binary (for pprof)")
	fs.StringVar(&c.topic, "topic", "bench", "topic (direct) and collection (through sluice)")
	fs.IntVar(&c.partitions, "partitions", 9, "partitions of the direct topic (sluice creates 9)")
	fs.IntVar(&c.recordSize, "record-size", 1024, "bytes of JSON per record")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "length of each throughput run")
	fs.DurationVar(&c.warmup, "warmup", 10*time.Second, "length of each warm-up run (one pair before each series)")
	fs.IntVar(&c.pairs, "pairs", 5, "measured A/B pairs per series")
	fs.IntVar(&c.rate, "rate", 2000, "records per second of the latency runs")
	fs.DurationVar(&c.latDuration, "latency-duration", 15*time.Second, "length of each latency run")
	fs.BoolVar(&c.lz4, "lz4", true, "also run the throughput series with lz4 compression")
	fs.DurationVar(&c.lz4Duration, "lz4-duration", 10*time.Second, "length of each lz4 throughput run")
	fs.DurationVar(&c.profile, "profile", 10*time.Second, "length of the CPU profile of sluice under full load (0 = none)")
	fs.DurationVar(&c.pause, "pause", time.Second, "idle time between runs")
	fs.Float64Var(&c.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	c.register(fs, "RESULTS.md", "results.json", "every run's figures (JSON)")
	fs.StringVar(&c.plot, "plot", "latency.png", "the latency plot (PNG)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where the profile is written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	for _, f := range []struct{ name, v string }{
		{"direct-bootstrap", c.directSeeds}, {"direct-ca", c.directCA}, {"admin-bootstrap", c.adminSeeds},
		{"sluice-bootstrap", c.sluiceSeeds}, {"sluice-ca", c.sluiceCA}, {"sluice-http", c.sluiceHTTP},
		{"sluice-data-dir", c.sluiceData}, {"sluice-pid", c.sluicePID}, {"broker-pid", c.brokerPID},
	} {
		if f.v == "" {
			return fmt.Errorf("--%s is required", f.name)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := &bench{cfg: c, sluicePID: c.sluicePID, brokerPID: c.brokerPID, sluiceHTTP: strings.TrimRight(c.sluiceHTTP, "/"),
		clkTck: c.clkTck, start: time.Now(), machine: describeMachine()}
	if err := b.setup(ctx); err != nil {
		return err
	}
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	return b.write(rep)
}

// setup creates the project and both topics.
func (b *bench) setup(ctx context.Context) error {
	var org struct {
		ID  string `json:"org_id"`
		Key string `json:"org_key"`
	}
	raw, err := os.ReadFile(filepath.Join(b.cfg.sluiceData, "org.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &org); err != nil {
		return fmt.Errorf("org.json: %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", b.sluiceHTTP+"/3.0/organizations/"+org.ID+"/projects", strings.NewReader(`{"name":"bench"}`))
	req.Header.Set("Authorization", org.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating the project: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating the project: HTTP %d: %s", resp.StatusCode, body)
	}
	var proj struct {
		ID      string            `json:"id"`
		APIKeys map[string]string `json:"api_keys"`
	}
	if err := json.Unmarshal(body, &proj); err != nil || proj.ID == "" || proj.APIKeys["write"] == "" {
		return fmt.Errorf("creating the project: unexpected answer %s", body)
	}
	b.projectID = proj.ID
	logf("project %s created", proj.ID)

	b.direct = target{Name: "direct", Seeds: strings.Split(b.cfg.directSeeds, ","), CAFile: b.cfg.directCA,
		User: b.cfg.directUser, Password: b.cfg.directPass, Topic: b.cfg.topic}
	b.sluice = target{Name: "sluice", Seeds: strings.Split(b.cfg.sluiceSeeds, ","), CAFile: b.cfg.sluiceCA,
		User: proj.ID, Password: proj.APIKeys["write"], Topic: b.cfg.topic}

	admCl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.cfg.adminSeeds, ",")...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cr, err := adm.CreateTopic(cctx, int32(b.cfg.partitions), 1, nil, b.cfg.topic)
	if err != nil {
		return fmt.Errorf("creating the direct topic: %w", err)
	}
	if cr.Err != nil {
		return fmt.Errorf("creating the direct topic: %w", cr.Err)
	}

	// Through sluice, the first Metadata naming the collection creates it.
	cl, err := b.sluice.client(loadOpts{})
	if err != nil {
		return err
	}
	defer cl.Close()
	mreq := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(b.cfg.topic)
	mreq.Topics = append(mreq.Topics, t)
	mresp, err := mreq.RequestWith(cctx, cl)
	if err != nil {
		return fmt.Errorf("metadata through sluice: %w", err)
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
		return fmt.Errorf("metadata through sluice: unexpected answer %+v", mresp.Topics)
	}

	// Both topics, as the broker sees them, once the leaders are elected.
	for {
		td, err := adm.ListTopics(cctx)
		if err != nil {
			return err
		}
		parts := map[string]int{}
		ready := true
		for name, d := range td {
			if name != b.cfg.topic && !strings.HasSuffix(name, proj.ID+"."+b.cfg.topic) {
				continue
			}
			if name != b.cfg.topic {
				b.rawTopic = name
			}
			parts[name] = len(d.Partitions)
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					ready = false
				}
			}
		}
		if ready && b.rawTopic != "" && parts[b.cfg.topic] > 0 {
			logf("topics: direct %q (%d partitions), through sluice %q (%d partitions)", b.cfg.topic, parts[b.cfg.topic], b.rawTopic, parts[b.rawTopic])
			if parts[b.rawTopic] != parts[b.cfg.topic] {
				logf("warning: the two topics have different partition counts")
			}
			break
		}
		select {
		case <-cctx.Done():
			return fmt.Errorf("topics not ready: %w", cctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// report is everything measured.
type report struct {
	Throughput    []runResult `json:"throughput"`
	ThroughputLZ4 []runResult `json:"throughput_lz4"`
	Latency       []runResult `json:"latency"`
	PeakRSSkB     int64       `json:"sluice_peak_rss_kb"`
	EndRSSkB      int64       `json:"sluice_end_rss_kb"`
	BrokerRSSkB   int64       `json:"broker_peak_rss_kb"`
	Profile       string      `json:"-"`
	ProfileCum    string      `json:"-"`
	ProfileRun    *runResult  `json:"profile_run,omitempty"`
	Hotspots      []hotspot   `json:"profile_hotspots,omitempty"`
	WallTime      []wallShare `json:"trace_wall_time,omitempty"`
	WallConns     int         `json:"trace_connections,omitempty"`
	Finished      time.Time   `json:"finished"`
	LoadEnd       string      `json:"loadavg_end"`
}

func (b *bench) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.cfg.pause):
		return nil
	}
}

func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{}
	pl := payloads(4096, b.cfg.recordSize)
	none := loadOpts{Compression: "none", Payloads: pl}
	lz4 := loadOpts{Compression: "lz4", Payloads: pl}

	series := func(name string, o loadOpts, d, warm time.Duration, latency bool) ([]runResult, error) {
		var out []runResult
		for pair := 0; pair <= b.cfg.pairs; pair++ {
			dur := d
			if pair == 0 {
				if warm <= 0 {
					continue
				}
				dur = warm
			}
			for _, t := range []target{b.direct, b.sluice} {
				if err := b.pause(ctx); err != nil {
					return nil, err
				}
				var r runResult
				var err error
				if latency {
					r, err = b.runLatency(ctx, t, o, b.cfg.rate, dur, pair)
				} else {
					r, err = b.runThroughput(ctx, t, o, dur, pair)
				}
				if err != nil {
					return nil, fmt.Errorf("%s pair %d: %w", name, pair, err)
				}
				if latency {
					logf("%s pair %d %-6s p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms (late sends %d; sluice CPU %.2f s, machine busy %.2f of %.1f s)",
						name, pair, t.Name, r.P50, r.P99, r.P999, r.Max, r.Late, r.SluiceCPU, r.BusyCPU, r.Elapsed)
				} else {
					logf("%s pair %d %-6s %7.1f MB/s %8.0f records/s (sluice CPU %.2f s, broker %.2f s, loadgen %.2f s, other %.2f s over %.1f s)",
						name, pair, t.Name, r.MBps, r.RecordsPerS, r.SluiceCPU, r.BrokerCPU, r.LoadCPU, r.OtherCPU, r.Elapsed)
				}
				out = append(out, r)
			}
		}
		return out, nil
	}

	var err error
	if rep.Throughput, err = series("throughput", none, b.cfg.duration, b.cfg.warmup, false); err != nil {
		return nil, err
	}
	if rep.Latency, err = series("latency", none, b.cfg.latDuration, b.cfg.warmup/2, true); err != nil {
		return nil, err
	}
	if b.cfg.lz4 {
		if rep.ThroughputLZ4, err = series("throughput-lz4", lz4, b.cfg.lz4Duration, b.cfg.warmup/2, false); err != nil {
			return nil, err
		}
	}
	if b.cfg.sluiceDebug != "" && b.cfg.profile > 0 {
		if err := b.profile(ctx, none, rep); err != nil {
			logf("warning: no CPU profile: %v", err)
		}
	}
	rep.PeakRSSkB = procStatus(b.sluicePID, "VmHWM")
	rep.EndRSSkB = procStatus(b.sluicePID, "VmRSS")
	rep.BrokerRSSkB = procStatus(b.brokerPID, "VmHWM")
	rep.Finished = time.Now()
	rep.LoadEnd = loadAvg()
	if rep.PeakRSSkB == 0 {
		return nil, errors.New("sluice is gone: no VmHWM in /proc/" + b.sluicePID + "/status")
	}
	return rep, nil
}

// profile takes a CPU profile of sluice during an extra through-sluice
// throughput run, outside the measured pairs.
func (b *bench) profile(ctx context.Context, o loadOpts, rep *report) error {
	if err := b.pause(ctx); err != nil {
		return err
	}
	file := filepath.Join(b.cfg.workDir, "sluice-cpu.pprof")
	traceFile := filepath.Join(b.cfg.workDir, "sluice.trace")
	const traceFor = 3 * time.Second
	fetch := func(path, to string, d time.Duration) error {
		pctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(pctx, "GET", "http://"+b.cfg.sluiceDebug+path+"?seconds="+strconv.Itoa(int(d.Seconds())), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, data)
		}
		if err == nil {
			err = os.WriteFile(to, data, 0o644)
		}
		return err
	}
	done := make(chan error, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond) // past the client's warm-up
		err := fetch("/debug/pprof/profile", file, b.cfg.profile)
		if err == nil {
			err = fetch("/debug/pprof/trace", traceFile, traceFor)
		}
		done <- err
	}()
	logf("profiling sluice (CPU for %s, then an execution trace for %s) during an extra through-sluice throughput run", b.cfg.profile, traceFor)
	r, err := b.runThroughput(ctx, b.sluice, o, b.cfg.profile+traceFor+4*time.Second, -1)
	if err != nil {
		return err
	}
	rep.ProfileRun = &r
	if err := <-done; err != nil {
		return err
	}
	if rep.WallTime, rep.WallConns, _, err = connWallTime(traceFile); err != nil {
		logf("warning: reading the execution trace: %v", err)
	}
	logf("CPU profile in %s", file)
	top := func(extra ...string) string {
		args := append([]string{"tool", "pprof", "-top", "-nodecount=30"}, extra...)
		if b.cfg.sluiceBin != "" {
			args = append(args, b.cfg.sluiceBin)
		}
		args = append(args, file)
		cmd := exec.CommandContext(ctx, "go", args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return fmt.Sprintf("go tool pprof failed: %v\n%s", err, errb.String())
		}
		return out.String()
	}
	rep.Profile = top()
	rep.ProfileCum = top("-cum")
	if rep.Hotspots, _, err = hotspots(file); err != nil {
		logf("warning: reading the profile: %v", err)
	}
	return nil
}

// load runs one load against one endpoint and prints its figures: the
// tool for looking into a result by hand (see README.md).
func load(args []string) error {
	var t target
	var seeds, mode, comp string
	var d time.Duration
	var rate, inflight, size int
	var sluicePID, brokerPID string
	fs := flag.NewFlagSet("sluicebench load", flag.ContinueOnError)
	fs.StringVar(&seeds, "bootstrap", "", "SASL_SSL PLAIN bootstrap (host:port)")
	fs.StringVar(&t.CAFile, "ca", "", "PEM CA")
	fs.StringVar(&t.User, "user", "admin", "SASL PLAIN user")
	fs.StringVar(&t.Password, "password", "admin-secret", "SASL PLAIN password")
	fs.StringVar(&t.Topic, "topic", "bench", "topic or collection")
	fs.StringVar(&t.Name, "name", "direct", "label; \"sluice\" also reads sluice's counters")
	fs.StringVar(&mode, "mode", "throughput", "throughput or latency")
	fs.StringVar(&comp, "compression", "none", "none or lz4")
	fs.DurationVar(&d, "duration", 10*time.Second, "length of the run")
	fs.IntVar(&rate, "rate", 2000, "records per second (latency)")
	fs.IntVar(&inflight, "max-inflight", 0, "> 0: non-idempotent producer with this many requests in flight per connection")
	fs.IntVar(&size, "record-size", 1024, "bytes per record")
	fs.StringVar(&sluicePID, "sluice-pid", "", "sluice's pid, for its CPU")
	fs.StringVar(&brokerPID, "broker-pid", "", "the broker's pid, for its CPU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t.Seeds = strings.Split(seeds, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{sluicePID: sluicePID, brokerPID: brokerPID, clkTck: 100}
	o := loadOpts{Compression: comp, Payloads: payloads(4096, size), MaxInflight: inflight}
	var r runResult
	var err error
	if mode == "latency" {
		r, err = b.runLatency(ctx, t, o, rate, d, 1)
	} else {
		r, err = b.runThroughput(ctx, t, o, d, 1)
	}
	if err != nil {
		return err
	}
	r.Latency = nil
	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	return nil
}
