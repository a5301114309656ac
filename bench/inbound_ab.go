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
	"syscall"
	"time"
)

// The Inbound A/B (sluicebench inbound-ab, bench/run.sh --benches
// inbound-ab): two builds of sluice, this commit's and a baseline, side by
// side on one broker, each with its own data dir and project, the gateway
// alone (--pipeline=false). The same producer as the Inbound benchmark's
// throughput series runs against each in turn, the order swapped every
// round so neither build always follows the other; each run gives MB/s and
// sluice's CPU per GB. CPU per GB is the figure a change to the gateway's
// own work moves; MB/s also moves with the broker and the client.
type abConfig struct {
	bin, baseline, brokers, brokerPID, workDir string
	rounds, recordSize                         int
	duration, warmup, pause                    time.Duration
	compression                                string
	reportFlags
}

// abRun is one build's run in a round.
type abRun struct {
	Build    string
	Round    int // 0: warm-up
	MBps     float64
	CPUPerGB float64 // sluice's CPU seconds per GB of record values
	Cores    float64 // sluice's CPU ÷ the run's elapsed time
	Result   runResult
}

type abReport struct {
	Commit            string
	Started, Finished time.Time
	Machine           machine
	LoadEnd           string
	Binaries          [2]string // this commit's, the baseline's
	Runs              []abRun
}

func inboundAB(args []string) error {
	var c abConfig
	fs := flag.NewFlagSet("sluicebench inbound-ab", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "this commit's sluice binary")
	fs.StringVar(&c.baseline, "baseline-bin", "", "the sluice binary to compare with (e.g. built from the commit before a change)")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the broker's PLAINTEXT listener (sluice's backend)")
	fs.StringVar(&c.brokerPID, "broker-pid", "", "the broker's pid, for its CPU")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dirs and logs go")
	fs.IntVar(&c.rounds, "rounds", 6, "measured rounds (one run of each build per round)")
	fs.IntVar(&c.recordSize, "record-size", 1024, "bytes of JSON per record")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "length of each run")
	fs.DurationVar(&c.warmup, "warmup", 10*time.Second, "length of each build's warm-up run")
	fs.DurationVar(&c.pause, "pause", time.Second, "idle time between runs")
	fs.StringVar(&c.compression, "compression", "none", "none or lz4")
	c.register(fs, "inbound-ab.md", "", "the figures as JSON (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	if c.bin == "" || c.baseline == "" || c.brokers == "" {
		return errors.New("--sluice-bin, --baseline-bin and --kafka-brokers are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &abReport{Commit: c.shortCommit() + c.modifiedNote(), Started: time.Now(), Machine: describeMachine(), Binaries: [2]string{c.bin, c.baseline}}
	names := [2]string{"this commit", "baseline"}
	var benches [2]*bench
	var targets [2]target
	for i, bin := range []string{c.bin, c.baseline} {
		dir := filepath.Join(c.workDir, fmt.Sprintf("ab-%d", i))
		p, err := startSluice(ctx, bin, filepath.Join(dir, "data"), c.brokers, false, nil, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		defer p.stop()
		proj, err := createProject(ctx, p.http, filepath.Join(dir, "data"), "ab")
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		benches[i] = &bench{sluicePID: p.pid, brokerPID: c.brokerPID, sluiceHTTP: p.http, projectID: proj.ID, clkTck: 100}
		targets[i] = target{Name: "sluice", Seeds: []string{p.inbound}, CAFile: filepath.Join(dir, "data", "tls", "ca.pem"),
			User: proj.ID, Password: proj.Write, Topic: "bench"}
	}
	o := loadOpts{Compression: c.compression, Payloads: payloads(4096, c.recordSize)}
	run := func(i, round int, d time.Duration) error {
		if sleepCtx(ctx, c.pause); ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := benches[i].runThroughput(ctx, targets[i], o, d, round)
		if err != nil {
			return fmt.Errorf("%s, round %d: %w", names[i], round, err)
		}
		r.Side = names[i]
		run := abRun{Build: names[i], Round: round, MBps: r.MBps, Cores: r.SluiceCPU / r.Elapsed, Result: r}
		if r.TotalBytes > 0 {
			run.CPUPerGB = r.SluiceCPU / (float64(r.TotalBytes) / 1e9)
		}
		logf("inbound-ab: round %d, %s: %.1f MB/s, %.2f s per GB", round, names[i], run.MBps, run.CPUPerGB)
		rep.Runs = append(rep.Runs, run)
		return nil
	}
	for i := range benches {
		if err := run(i, 0, c.warmup); err != nil {
			return err
		}
	}
	for round := 1; round <= c.rounds; round++ {
		order := []int{0, 1}
		if round%2 == 0 {
			order = []int{1, 0}
		}
		for _, i := range order {
			if err := run(i, round, c.duration); err != nil {
				return err
			}
		}
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAvg()
	return c.reportFlags.write(rep, rep.markdown(c))
}

// abPairs lines up each measured round's runs: this commit's, the
// baseline's.
func abPairs(runs []abRun) (now, base []abRun) {
	return pairsBy(runs, func(r abRun) (int, string, bool) {
		side := "sluice"
		if r.Build == "this commit" {
			side = "direct" // pairsBy's first side
		}
		return r.Round, side, true
	})
}

func (r *abReport) markdown(c abConfig) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	m := r.Machine
	w("## Inbound A/B: this commit against a baseline build\n\n")
	w("Written by `bench/run.sh --benches inbound-ab` (`bench/inbound_ab.go`). `%s` at commit %s, %s → %s UTC; %d cores (%s), %.0f GiB, Linux %s; load average %s at the start, %s at the end.\n\n",
		c.command, r.Commit, r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04"), m.Cores, m.CPUModel, m.MemGiB, m.Kernel, m.LoadAvg, r.LoadEnd)
	w("Two sluice processes on one broker, each `--pipeline=false` with its own data dir and project: `this commit` (%s) and `baseline` (%s). ", r.Binaries[0], r.Binaries[1])
	w("Each run is the Inbound benchmark's throughput run (franz-go, SASL_SSL, %d B JSON records, acks=all, idempotent, as fast as possible, compression %s) for %s against one of them; ", c.recordSize, c.compression, c.duration)
	w("a warm-up run of %s each, then %d rounds of one run each, the order swapped every round. CPU per GB: sluice's utime+stime over the run (its final flush included) ÷ GB of record values acknowledged.\n\n", c.warmup, c.rounds)
	now, base := abPairs(r.Runs)
	if len(now) == 0 {
		w("No measured round.\n")
		return s.String()
	}
	ratio := func(f func(abRun) float64) spread {
		return spreadOf(pairwise(field(base, f), field(now, f), func(b, n float64) float64 { return n / b }))
	}
	cpu := func(r abRun) float64 { return r.CPUPerGB }
	mbps := func(r abRun) float64 { return r.MBps }
	cores := func(r abRun) float64 { return r.Cores }
	w("| | this commit: median (min … max) | baseline: median (min … max) | this commit ÷ baseline, round by round: median (min … max) |\n|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		f    func(abRun) float64
		fmt  string
	}{
		{"sluice CPU, s per GB", cpu, "%.2f"},
		{"throughput, MB/s", mbps, "%.1f"},
		{"sluice CPU, cores", cores, "%.2f"},
	} {
		n, b, q := spreadOf(field(now, row.f)), spreadOf(field(base, row.f)), ratio(row.f)
		cell := func(sp spread) string {
			return fmt.Sprintf(row.fmt+" ("+row.fmt+" … "+row.fmt+")", sp.Median, sp.Min, sp.Max)
		}
		w("| %s | %s | %s | %.3f (%.3f … %.3f) |\n", row.name, cell(n), cell(b), q.Median, q.Min, q.Max)
	}
	w("\n| round | this commit: MB/s, s per GB | baseline: MB/s, s per GB |\n|---|---|---|\n")
	for i := range now {
		w("| %d | %.1f, %.2f | %.1f, %.2f |\n", now[i].Round, now[i].MBps, now[i].CPUPerGB, base[i].MBps, base[i].CPUPerGB)
	}
	if c.env != "" {
		w("\n")
		for _, kv := range c.envPairs() {
			w("- %s: %s\n", kv[0], kv[1])
		}
	}
	return s.String()
}
