package main

// End to end: produce acknowledged on the Inbound listener → the enriched
// event consumed on the Outbound listener.
//
// One process, one monotonic clock: a producer on the Inbound listener
// sends events to collection "e2e" at a fixed rate, each carrying a run id
// and a sequence number; three consumers of the collection's outbound topic
// note when each sequence number arrives:
//
//   - sluice: the Outbound listener (read_committed, forced by sluice) — the
//     figure the goals are about;
//   - direct, committed: the same backend topic on the broker's SASL_SSL
//     listener at read_committed — what a consumer would see without the
//     listener, so sluice − direct, event by event, is what the listener adds;
//   - direct, uncommitted: the same at read_uncommitted — when the pipeline
//     has written the record into its (still open) transaction, so
//     committed − uncommitted is the wait for the transaction's commit.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const obE2ECollection = "e2e"

// obQuantiles of one distribution, in milliseconds.
type obQuantiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func quantilesOf(ms []float64) obQuantiles {
	s := slices.Clone(ms)
	slices.Sort(s)
	if len(s) == 0 {
		return obQuantiles{}
	}
	return obQuantiles{len(s), quantile(s, .5), quantile(s, .9), quantile(s, .99), quantile(s, .999), s[len(s)-1]}
}

// The distributions measured for every event, by name.
const (
	pathAckToSluice   = "ack → consumed through sluice (Outbound listener)"
	pathSendToSluice  = "produce call → consumed through sluice"
	pathAckToDirect   = "ack → consumed direct, read_committed"
	pathAckToWritten  = "ack → written by the pipeline (direct, read_uncommitted)"
	pathCommitWait    = "written → committed (direct read_committed − read_uncommitted)"
	pathListenerAdds  = "added by the Outbound listener (sluice − direct read_committed)"
	pathProduceAck    = "produce call → ack (Inbound listener)"
	consumerSluice    = "sluice"
	consumerCommitted = "direct-committed"
	consumerWritten   = "direct-uncommitted"
)

var obPaths = []string{pathAckToSluice, pathSendToSluice, pathAckToDirect, pathAckToWritten, pathCommitWait, pathListenerAdds, pathProduceAck}

// obWindow is one measured window of the end-to-end run (or all of them).
type obWindow struct {
	Window  int                    `json:"window"` // 0 = all windows pooled
	Events  int                    `json:"events"`
	Seconds float64                `json:"seconds"`
	Paths   map[string]obQuantiles `json:"paths"`
	Late    int64                  `json:"late_sends"`
	// CPU in cores over the window.
	SluiceCores float64 `json:"sluice_cores"`
	BrokerCores float64 `json:"broker_cores"`
	LoadCores   float64 `json:"loadgen_cores"`
	OtherCores  float64 `json:"other_cores"`
	// The pipeline's committed transactions in the window.
	Transactions float64 `json:"pipeline_transactions"`

	samples  map[string][]float64
	timeline [][2]float64 // (seconds since the first measured send, ack → consumed through sluice in ms)
}

// obE2E is the end-to-end part of the report.
type obE2E struct {
	Rate          int               `json:"rate"`
	WindowSeconds float64           `json:"window_seconds"`
	WarmupSeconds float64           `json:"warmup_seconds"`
	WarmupEvents  int               `json:"warmup_events"`
	Windows       []obWindow        `json:"windows"`
	Pooled        obWindow          `json:"pooled"`
	Missing       map[string]int    `json:"missing"`    // measured events a consumer never got
	Duplicates    map[string]int64  `json:"duplicates"` // events a consumer got twice
	PeakRSSkB     int64             `json:"sluice_peak_rss_kb"`
	EventBytes    int               `json:"event_bytes"`
	Consumers     map[string]string `json:"consumers"`
	// Each consumer's fetch requests during the windows.
	Fetches map[string]obFetches `json:"fetches"`
	// The pipeline's batches committed during the windows.
	Steps []batchStep `json:"batch_steps,omitempty"`
	// A CPU profile and an execution trace of sluice after the windows.
	Hotspots     []hotspot       `json:"profile_hotspots,omitempty"`
	ProfileTop   string          `json:"-"`
	PipelineWall []pipelineShare `json:"pipeline_wall_time,omitempty"`
	TraceSeconds float64         `json:"trace_seconds,omitempty"`
	// The Outbound listener's fetches during the trace.
	ListenerFetches obFetchDelays `json:"trace_outbound_fetches"`
}

// e2eEvent is an event of exactly size bytes (base is a payload of
// size-len(prefix)+1 bytes, starting with '{') carrying run and seq.
func e2eEvent(run string, seq int, base []byte) []byte {
	v := fmt.Appendf(make([]byte, 0, 64+len(base)), `{"bench_run":"%s","bench_seq":"%010d",`, run, seq)
	return append(v, base[1:]...)
}

// e2ePrefixLen is the bytes e2eEvent adds to a payload.
func e2ePrefixLen(run string) int { return len(e2eEvent(run, 0, []byte("{"))) }

// stringField finds "name":"value" in a JSON object's bytes (the pipeline
// may reorder keys and add whitespace, but never escapes these values).
func stringField(doc []byte, name string) (string, bool) {
	key := []byte(`"` + name + `"`)
	for off := 0; ; {
		i := bytes.Index(doc[off:], key)
		if i < 0 {
			return "", false
		}
		rest := bytes.TrimLeft(doc[off+i+len(key):], " \t\r\n")
		off += i + len(key)
		if len(rest) == 0 || rest[0] != ':' {
			continue // the name appeared as a value
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			return "", false
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return "", false
		}
		return string(rest[1 : 1+end]), true
	}
}

// e2eSeq reads the sequence number of an event of run, or -1.
func e2eSeq(value []byte, run string) int {
	if r, ok := stringField(value, "bench_run"); !ok || r != run {
		return -1
	}
	s, ok := stringField(value, "bench_seq")
	if !ok || len(s) != 10 {
		return -1
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// e2eClock is the run's clock: nanoseconds since its start, plus one, so
// that zero means "not yet".
type e2eClock struct{ t0 time.Time }

func (c e2eClock) now() int64 { return int64(time.Since(c.t0)) + 1 }

func (o *obench) e2eBench(ctx context.Context) error {
	c := o.cfg
	run := fmt.Sprintf("%08x", rand.Uint32())
	base := payloads(4096, c.recordSize-e2ePrefixLen(run)+1)
	perWindow := int(float64(c.rate) * c.window.Seconds())
	maxWarmup := c.warmup + time.Minute
	capacity := int(float64(c.rate)*(maxWarmup+c.profile+5*time.Second).Seconds()) + c.windows*perWindow + 1
	res := &obE2E{Rate: c.rate, WindowSeconds: c.window.Seconds(), EventBytes: len(e2eEvent(run, 0, base[0])),
		Missing: map[string]int{}, Duplicates: map[string]int64{}}
	o.rep.E2E = res

	clock := e2eClock{time.Now()}
	sent := make([]int64, capacity)
	acked := make([]atomic.Int64, capacity)
	names := []string{consumerSluice, consumerCommitted, consumerWritten}
	arrived := map[string][]atomic.Int64{}
	got := map[string]*atomic.Int64{}
	for _, n := range names {
		arrived[n] = make([]atomic.Int64, capacity)
		got[n] = &atomic.Int64{}
	}
	dups := map[string]*atomic.Int64{}
	hooks := map[string]*fetchHook{}

	// The consumers, from the start of the topic (it is created by sluice
	// when the collection appears; kgo retries until it exists).
	direct := target{Name: "direct", Seeds: strings.Split(c.directSeeds, ","), CAFile: c.directCA, User: c.directUser, Password: c.directPass,
		Topic: tenancyOut(o.p.ID, obE2ECollection)}
	through := target{Name: "sluice", Seeds: []string{o.sl.outbound}, CAFile: o.sluiceCA, User: o.p.ID, Password: o.p.Read, Topic: obE2ECollection}
	res.Consumers = map[string]string{
		consumerSluice:    "sluice's Outbound listener, topic `" + obE2ECollection + "`, read key (read_committed, forced by sluice)",
		consumerCommitted: "the broker's SASL_SSL listener as admin, backend topic, read_committed",
		consumerWritten:   "the broker's SASL_SSL listener as admin, backend topic, read_uncommitted",
	}
	cctx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	var wg sync.WaitGroup
	var consumeErr atomic.Value
	for _, cs := range []struct {
		name string
		t    target
		iso  kgo.IsolationLevel
	}{{consumerSluice, through, kgo.ReadCommitted()}, {consumerCommitted, direct, kgo.ReadCommitted()}, {consumerWritten, direct, kgo.ReadUncommitted()}} {
		hooks[cs.name] = &fetchHook{}
		cl, err := consumer(cs.t, cs.iso, kgo.MetadataMinAge(250*time.Millisecond), kgo.FetchMaxWait(500*time.Millisecond), kgo.WithHooks(hooks[cs.name]))
		if err != nil {
			return err
		}
		defer cl.Close()
		arr, n, dup := arrived[cs.name], got[cs.name], &atomic.Int64{}
		dups[cs.name] = dup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				at := clock.now()
				fs.EachError(func(topic string, p int32, err error) {
					if !errors.Is(err, context.Canceled) {
						consumeErr.CompareAndSwap(nil, fmt.Errorf("%s: %s[%d]: %w", cs.name, topic, p, err))
					}
				})
				fs.EachRecord(func(r *kgo.Record) {
					seq := e2eSeq(r.Value, run)
					if seq < 0 || seq >= capacity {
						return
					}
					if !arr[seq].CompareAndSwap(0, at) {
						dup.Add(1)
						return
					}
					n.Add(1)
				})
			}
		}()
	}
	failed := func() error {
		e, _ := consumeErr.Load().(error)
		return e
	}

	prod, err := (target{Name: "sluice", Seeds: []string{o.sl.inbound}, CAFile: o.sluiceCA, User: o.p.ID, Password: o.p.Write, Topic: obE2ECollection}).client(loadOpts{Compression: "none"})
	if err != nil {
		return err
	}
	defer prod.Close()
	var produceErr atomic.Value
	seq := 0
	var late int64
	produce := func(due time.Time) {
		i := seq
		seq++
		now := time.Now()
		if now.Sub(due) > time.Millisecond {
			late++
		}
		sent[i] = clock.now()
		prod.Produce(ctx, &kgo.Record{Value: e2eEvent(run, i, base[i%len(base)])}, func(_ *kgo.Record, err error) {
			if err != nil {
				produceErr.CompareAndSwap(nil, err)
				return
			}
			acked[i].Store(clock.now())
		})
	}
	// pace produces events at c.rate from start until stop says so,
	// in 1 ms steps (5 events per step at 5,000/s).
	interval := time.Second / time.Duration(c.rate)
	start := time.Now()
	pace := func(stop func() bool) error {
		for !stop() {
			due := start.Add(time.Duration(seq) * interval)
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(min(d, time.Millisecond)):
				}
				continue
			}
			if seq >= capacity {
				return errors.New("out of sequence numbers")
			}
			produce(due)
			if seq%512 == 0 {
				if e, _ := produceErr.Load().(error); e != nil {
					return fmt.Errorf("producing: %w", e)
				}
				if e := failed(); e != nil {
					return fmt.Errorf("consuming: %w", e)
				}
			}
		}
		return nil
	}

	// Warm-up: until c.warmup has passed and every consumer has an event.
	logf("outbound: end to end at %d events/s: warming up (%s at least)", c.rate, c.warmup)
	var warmErr error
	if err := pace(func() bool {
		el := time.Since(start)
		if el > maxWarmup {
			warmErr = fmt.Errorf("consumers still without events after %s (sluice %d, direct committed %d, uncommitted %d)",
				maxWarmup, got[consumerSluice].Load(), got[consumerCommitted].Load(), got[consumerWritten].Load())
			return true
		}
		if el < c.warmup {
			return false
		}
		for _, n := range names {
			if got[n].Load() == 0 {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	if warmErr != nil {
		return warmErr
	}
	first := seq
	res.WarmupEvents, res.WarmupSeconds = first, time.Since(start).Seconds()
	resetPeakRSS(o.sl.pid)

	// The measured windows, one after the other in one paced stream.
	type mark struct {
		s   sample
		txn float64
		at  int
	}
	txns := func() float64 { return o.metric(`sluice_pipeline_transactions_total{result="committed"}`) }
	metricsAt := func() string {
		text, err := scrapeMetrics(ctx, o.sl.http)
		if err != nil {
			logf("outbound: warning: reading sluice's metrics: %v", err)
		}
		return text
	}
	stepsFrom := metricsAt()
	marks := []mark{{o.sampleNow(target{}), txns(), first}}
	fetches0 := snapshotFetches(hooks)
	lateAt := []int64{late}
	for w := 1; w <= c.windows; w++ {
		end := first + w*perWindow
		if err := pace(func() bool { return seq >= end }); err != nil {
			return err
		}
		marks = append(marks, mark{o.sampleNow(target{}), txns(), seq})
		lateAt = append(lateAt, late)
	}
	last := seq
	res.Steps = batchSteps(stepsFrom, metricsAt())
	res.Fetches = fetchStats(fetches0, snapshotFetches(hooks), marks[len(marks)-1].s.at.Sub(marks[0].s.at))
	if c.profile > 0 {
		// One more stretch of the same stream, not measured: a CPU
		// profile and an execution trace of sluice at this load.
		if err := o.profileE2E(ctx, pace); err != nil {
			logf("outbound: warning: no profile of the end-to-end run: %v", err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := prod.Flush(fctx); err != nil {
		return fmt.Errorf("flushing the producer: %w", err)
	}
	if e, _ := produceErr.Load().(error); e != nil {
		return fmt.Errorf("producing: %w", e)
	}
	// Until every consumer has every measured event, or a minute passed.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if e := failed(); e != nil {
			return fmt.Errorf("consuming: %w", e)
		}
		all := true
		for _, n := range names {
			for i := last - 1; i >= first && all; i-- {
				all = arrived[n][i].Load() != 0
			}
		}
		if all {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.PeakRSSkB = procStatus(o.sl.pid, "VmHWM")
	stopConsumers()
	wg.Wait()

	// The figures.
	for _, n := range names {
		res.Duplicates[n] = dups[n].Load()
		for i := first; i < last; i++ {
			if arrived[n][i].Load() == 0 {
				res.Missing[n]++
			}
		}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	pooled := obWindow{samples: map[string][]float64{}}
	for w := 1; w <= c.windows; w++ {
		a, b := marks[w-1], marks[w]
		win := obWindow{Window: w, Events: b.at - a.at, Seconds: b.s.at.Sub(a.s.at).Seconds(), Late: lateAt[w] - lateAt[w-1],
			Transactions: b.txn - a.txn, samples: map[string][]float64{}}
		el := win.Seconds
		win.SluiceCores = b.s.sluice.sub(a.s.sluice).seconds(c.clkTck) / el
		win.BrokerCores = b.s.broker.sub(a.s.broker).seconds(c.clkTck) / el
		win.LoadCores = b.s.self.sub(a.s.self).seconds(c.clkTck) / el
		win.OtherCores = max(b.s.system.busy(a.s.system, c.clkTck)/el-win.SluiceCores-win.BrokerCores-win.LoadCores, 0)
		for i := a.at; i < b.at; i++ {
			ack, sl, dc, du := acked[i].Load(), arrived[consumerSluice][i].Load(), arrived[consumerCommitted][i].Load(), arrived[consumerWritten][i].Load()
			if ack == 0 {
				continue
			}
			add := func(path string, v float64) { win.samples[path] = append(win.samples[path], v) }
			add(pathProduceAck, ms(ack-sent[i]))
			if sl != 0 {
				add(pathAckToSluice, ms(sl-ack))
				pooled.timeline = append(pooled.timeline, [2]float64{float64(sent[i]-sent[first]) / 1e9, ms(sl - ack)})
				add(pathSendToSluice, ms(sl-sent[i]))
			}
			if dc != 0 {
				add(pathAckToDirect, ms(dc-ack))
			}
			if du != 0 {
				add(pathAckToWritten, ms(du-ack))
			}
			if dc != 0 && du != 0 {
				add(pathCommitWait, ms(dc-du))
			}
			if sl != 0 && dc != 0 {
				add(pathListenerAdds, ms(sl-dc))
			}
		}
		win.Paths = map[string]obQuantiles{}
		for _, p := range obPaths {
			win.Paths[p] = quantilesOf(win.samples[p])
			pooled.samples[p] = append(pooled.samples[p], win.samples[p]...)
		}
		pooled.Events += win.Events
		pooled.Seconds += win.Seconds
		pooled.Late += win.Late
		pooled.Transactions += win.Transactions
		pooled.SluiceCores += win.SluiceCores * el
		pooled.BrokerCores += win.BrokerCores * el
		pooled.LoadCores += win.LoadCores * el
		pooled.OtherCores += win.OtherCores * el
		res.Windows = append(res.Windows, win)
		s := win.Paths[pathAckToSluice]
		logf("outbound: e2e window %d: %d events, ack → consumed through sluice p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f ms; listener adds p50 %.2f ms; %.0f transactions; sluice %.2f cores",
			w, win.Events, s.P50, s.P90, s.P99, s.P999, s.Max, win.Paths[pathListenerAdds].P50, win.Transactions, win.SluiceCores)
	}
	pooled.Paths = map[string]obQuantiles{}
	for _, p := range obPaths {
		pooled.Paths[p] = quantilesOf(pooled.samples[p])
	}
	for _, f := range []*float64{&pooled.SluiceCores, &pooled.BrokerCores, &pooled.LoadCores, &pooled.OtherCores} {
		*f /= pooled.Seconds
	}
	res.Pooled = pooled
	if m := res.Missing[consumerSluice]; m > 0 {
		return fmt.Errorf("%d of %d events never reached the consumer on the Outbound listener", m, last-first)
	}
	return nil
}

// profileE2E takes a CPU profile and an execution trace of sluice while
// pace keeps the stream going.
func (o *obench) profileE2E(ctx context.Context, pace func(stop func() bool) error) error {
	secs := max(int(o.cfg.profile.Seconds()), 1)
	cpuFile := filepath.Join(o.cfg.workDir, "sluice-e2e-cpu.pprof")
	traceFile := filepath.Join(o.cfg.workDir, "sluice-e2e.trace")
	logf("outbound: profiling sluice (CPU and execution trace, %d s) during the end-to-end stream", secs)
	var pending atomic.Int32
	var ferr atomic.Value
	pending.Store(2)
	for path, file := range map[string]string{"/debug/pprof/profile": cpuFile, "/debug/pprof/trace": traceFile} {
		go func() {
			if err := o.debugFetch(ctx, path, secs, file); err != nil {
				ferr.CompareAndSwap(nil, err)
			}
			pending.Add(-1)
		}()
	}
	if err := pace(func() bool { return pending.Load() == 0 }); err != nil {
		return err
	}
	if err, _ := ferr.Load().(error); err != nil {
		return err
	}
	e := o.rep.E2E
	var err error
	if e.Hotspots, _, err = hotspotsBy(cpuFile, e2eHotspotRules); err != nil {
		return err
	}
	e.ProfileTop = pprofTop(ctx, o.cfg.bin, cpuFile)
	var span time.Duration
	if e.PipelineWall, span, err = pipelineWallTime(traceFile); err != nil {
		return err
	}
	e.TraceSeconds = span.Seconds()
	if e.ListenerFetches, err = outboundFetchDelays(traceFile); err != nil {
		logf("outbound: warning: %v", err)
	}
	return nil
}

// obFetches sums a consumer's fetch requests over the windows.
type obFetches struct {
	PerSecond float64 `json:"per_second"`
	MeanMs    float64 `json:"mean_round_trip_ms"`
	MeanKB    float64 `json:"mean_response_kb"`
}

func snapshotFetches(hooks map[string]*fetchHook) map[string][3]int64 {
	out := map[string][3]int64{}
	for n, h := range hooks {
		out[n] = [3]int64{h.requests.Load(), h.bytes.Load(), h.nanos.Load()}
	}
	return out
}

func fetchStats(a, b map[string][3]int64, d time.Duration) map[string]obFetches {
	out := map[string]obFetches{}
	for n := range b {
		reqs := b[n][0] - a[n][0]
		if reqs <= 0 || d <= 0 {
			continue
		}
		out[n] = obFetches{
			PerSecond: float64(reqs) / d.Seconds(),
			MeanKB:    float64(b[n][1]-a[n][1]) / float64(reqs) / 1e3,
			MeanMs:    float64(b[n][2]-a[n][2]) / float64(reqs) / 1e6,
		}
	}
	return out
}
