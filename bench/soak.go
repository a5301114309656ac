package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// The soak benchmark (sluicebench soak): the acceptance run of issue 15,
// "30 minutes of mixed valid and poison traffic from several projects; RSS
// flat, no goroutine growth, every valid event stored exactly once".
//
// It starts its own sluice with the pipeline on (on the embedded log with
// --embedded, else on --kafka-brokers), creates --projects projects with
// Kafka Outbound enabled, and for --duration runs, per project, a producer
// of valid events into collection "events" at --rate and a poison loop that
// sends one poison input every --poison-every into collection "poison" (so
// the count of "events" stays exact). It samples sluice's RSS, fds,
// goroutines and CPU every --sample, then stops the load, waits (at most
// --settle) until each project's count equals its acknowledged events and
// writes the "soak" section of RESULTS.md. Nothing is asserted: the exit
// code is non-zero only when the harness itself failed.
type soakConfig struct {
	bin, brokers, workDir string
	embedded              bool
	nice                  string
	projects, rate        int
	duration              time.Duration
	poisonEvery           time.Duration
	poisonTimeout         time.Duration
	sample                time.Duration
	baseline              time.Duration
	settle                time.Duration
	clkTck                float64
	reportFlags
}

const (
	soakValidCollection  = "events"
	soakPoisonCollection = "poison"
)

func soakBench(args []string) error {
	var c soakConfig
	fs := flag.NewFlagSet("sluicebench soak", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the backend's PLAINTEXT listener (or --embedded)")
	fs.BoolVar(&c.embedded, "embedded", false, "run sluice on its embedded log (no --kafka-brokers)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dir and logs go")
	fs.StringVar(&c.nice, "nice", "", "run sluice under nice -n N")
	fs.IntVar(&c.projects, "projects", 4, "projects, each with a valid producer and a poison loop")
	fs.IntVar(&c.rate, "rate", 300, "valid events per second per project")
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "how long the traffic runs")
	fs.DurationVar(&c.poisonEvery, "poison-every", 2*time.Second, "one poison input per project this often, cycling through the kinds")
	fs.DurationVar(&c.poisonTimeout, "poison-timeout", 30*time.Second, "how long one poison input waits for its answer")
	fs.DurationVar(&c.sample, "sample", 30*time.Second, "sampling interval of sluice's RSS, fds, goroutines, CPU and counts")
	fs.DurationVar(&c.baseline, "baseline", 5*time.Minute, "the sample growth is measured from (the middle one if the run is shorter)")
	fs.DurationVar(&c.settle, "settle", 5*time.Minute, "after the traffic, wait at most this long for every acknowledged event to be countable")
	fs.Float64Var(&c.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	c.register(fs, "soak.md", "", "every figure as JSON (empty: none)")
	from := fs.String("report-from", "", "write the report of an earlier run from its JSON (that run's --raw) instead of running; give that run's flags, --command and --env")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var rep soakReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("reading %s: %w", *from, err)
		}
		c.raw = "" // the run's own JSON stays as it is
		return c.reportFlags.write(&rep, rep.markdown(c))
	}
	c.stamp()
	if c.bin == "" {
		return errors.New("--sluice-bin is required")
	}
	if c.embedded == (c.brokers != "") {
		return errors.New("give exactly one of --embedded and --kafka-brokers")
	}
	if c.projects < 1 || c.rate < 1 || c.duration <= 0 || c.sample <= 0 || c.poisonEvery <= 0 {
		return errors.New("--projects, --rate, --duration, --sample and --poison-every must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runSoak(ctx, c)
	if err != nil {
		return err
	}
	return c.reportFlags.write(rep, rep.markdown(c))
}

// soakProject is one project's traffic and what became of it.
type soakProject struct {
	p        project
	acked    atomic.Int64 // valid events acknowledged
	produced atomic.Int64 // valid events handed to the producer
	failMu   sync.Mutex
	failures map[string]int64 // valid events that failed, by error
	poison   *poisonSender
}

func (sp *soakProject) failed(err error) {
	sp.failMu.Lock()
	sp.failures[errText(err)]++
	sp.failMu.Unlock()
}

func (sp *soakProject) failureCounts() (map[string]int64, int64) {
	sp.failMu.Lock()
	defer sp.failMu.Unlock()
	out := map[string]int64{}
	var n int64
	for k, v := range sp.failures {
		out[k] = v
		n += v
	}
	return out, n
}

func runSoak(ctx context.Context, c soakConfig) (*soakReport, error) {
	rep := &soakReport{Commit: c.commit, Dirty: c.modified, Started: time.Now(), Machine: describeMachine(), Projects: c.projects, Rate: c.rate,
		Duration: c.duration.Seconds(), PoisonEvery: c.poisonEvery.Seconds(), Backend: "embedded log"}
	if !c.embedded {
		rep.Backend = "Apache Kafka at " + c.brokers
	}
	if !c.embedded {
		// The pipeline consumes every raw topic from its start: an earlier
		// benchmark's would be drained during the soak.
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
		if err != nil {
			return nil, err
		}
		err = deleteTopics(ctx, kadm.NewClient(cl), "soak", func(name string) bool { return strings.HasPrefix(name, "sluice.in") })
		cl.Close()
		if err != nil {
			return nil, fmt.Errorf("deleting earlier benchmarks' raw topics: %w", err)
		}
	}
	dataDir := filepath.Join(c.workDir, "soak-data")
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, err
	}
	var nice []string
	if c.nice != "" {
		nice = []string{"nice", "-n", c.nice}
	}
	logPrefix := filepath.Join(c.workDir, "soak-sluice")
	sl, err := startSluice(ctx, c.bin, dataDir, c.brokers, true, nice, logPrefix)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			sl.stop()
		}
	}()
	ca := filepath.Join(dataDir, "tls", "ca.pem")
	logf("soak: sluice %s ready (%s), HTTP %s, Inbound %s", sl.pid, rep.Backend, sl.http, sl.inbound)

	projects := make([]*soakProject, c.projects)
	for i := range projects {
		p, err := createProject(ctx, sl.http, dataDir, fmt.Sprintf("soak-%d", i+1))
		if err != nil {
			return nil, err
		}
		if err := enableOutboundFor(ctx, sl.http, p); err != nil {
			return nil, fmt.Errorf("project %s: %w", p.ID, err)
		}
		ps, err := newPoisonSender(ctx, sl, ca, p, c.poisonTimeout)
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", p.ID, err)
		}
		defer ps.close()
		projects[i] = &soakProject{p: p, failures: map[string]int64{}, poison: ps}
		rep.ProjectIDs = append(rep.ProjectIDs, p.ID)
		logf("soak: project %s, Kafka Outbound enabled", p.ID)
	}

	// The traffic.
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var producers, poisoners sync.WaitGroup
	producerErrs := make(chan error, len(projects))
	for _, sp := range projects {
		cl, err := soakProducer(sl.inbound, ca, sp.p)
		if err != nil {
			return nil, err
		}
		producers.Add(1)
		go func() {
			defer producers.Done()
			producerErrs <- produceValid(trafficCtx, cl, sp, runID, c.rate)
		}()
		poisoners.Add(1)
		go func() {
			defer poisoners.Done()
			sp.poison.loop(trafficCtx, c.poisonEvery)
		}()
	}
	logf("soak: %d projects × %d valid events/s into %q, one poison input per project every %s into %q, for %s",
		c.projects, c.rate, soakValidCollection, c.poisonEvery, soakPoisonCollection, c.duration)

	start := time.Now()
	smp := &soakSampler{c: c, sl: sl, projects: projects, start: start, errFile: logPrefix + ".err"}
	smp.take(ctx, "")
	tick := time.NewTicker(c.sample)
	end := time.After(c.duration)
traffic:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			smp.take(ctx, "")
		case <-end:
			break traffic
		}
	}
	tick.Stop()

	// Stop the load: producers flush what they hold (bounded), poison
	// inputs in flight get their answer or their timeout.
	stopTraffic()
	producers.Wait()
	poisoners.Wait()
	close(producerErrs)
	for err := range producerErrs {
		if err != nil {
			return nil, err
		}
	}
	rep.TrafficSeconds = time.Since(start).Seconds()
	smp.take(ctx, "load stopped")
	logf("soak: load stopped after %.0f s; waiting up to %s until every acknowledged event is countable", rep.TrafficSeconds, c.settle)

	// Settle: until every project's count equals its acknowledged events,
	// or the counts stop moving for two minutes (a stalled pipeline), or
	// c.settle.
	settleStart := time.Now()
	lastChange, last := time.Now(), int64(-1)
	for {
		counts, err := countAll(ctx, sl.http, projects)
		var total int64
		exact := err == nil
		for i, sp := range projects {
			total += counts[i]
			exact = exact && counts[i] == sp.acked.Load()
		}
		if total != last {
			last, lastChange = total, time.Now()
		}
		if exact {
			rep.SettledExact = true
			break
		}
		if time.Since(settleStart) >= c.settle || (err == nil && time.Since(lastChange) >= 2*time.Minute) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	rep.SettleSeconds = time.Since(settleStart).Seconds()
	smp.take(ctx, "settled")
	logf("soak: settled in %.0f s (exact: %v)", rep.SettleSeconds, rep.SettledExact)

	// Per project: acknowledged vs countable.
	counts, err := countAll(ctx, sl.http, projects)
	if err != nil { // sluice wedged or gone: that is a finding, not the harness's failure
		rep.FinalCountError = err.Error()
		logf("soak: final counts: %v", err)
	}
	kinds := poisonKinds()
	for i, sp := range projects {
		fails, nfail := sp.failureCounts()
		pr := soakProjectResult{ID: sp.p.ID, Produced: sp.produced.Load(), Acked: sp.acked.Load(), Failed: nfail,
			Failures: fails, Counted: counts[i]}
		pr.Difference = pr.Counted - pr.Acked
		rep.Results = append(rep.Results, pr)
		for k, o := range sp.poison.outcomes() {
			rep.addPoison(kinds[k].name, o)
		}
	}
	rep.PoisonKinds = make([]poisonKindInfo, len(kinds))
	for i, k := range kinds {
		rep.PoisonKinds[i] = poisonKindInfo{Name: k.name, What: k.what}
	}
	rep.Samples = smp.rows
	rep.Metrics = smp.metricsEnd

	stopped = true
	if err := sl.stop(); err != nil {
		rep.StopError = err.Error()
	}
	rep.Logs, rep.LogBytes, err = countLogLines(logPrefix + ".err")
	if err != nil {
		return nil, err
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAvg()
	return rep, nil
}

// enableOutboundFor turns a project's Kafka Outbound on, as a user would.
func enableOutboundFor(ctx context.Context, httpURL string, p project) error {
	req, _ := http.NewRequestWithContext(ctx, "PUT", httpURL+"/3.0/projects/"+p.ID+"/streams/kafka/outbound", strings.NewReader(`{"enabled":true}`))
	req.Header.Set("Authorization", p.Master)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("enabling Kafka Outbound: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("enabling Kafka Outbound: HTTP %d: %s", resp.StatusCode, body)
	}
	return nil
}

// countAll asks each project's count of valid events over HTTP (GET, as
// the brief of the soak says: `queries/count?event_collection=events`).
func countAll(ctx context.Context, httpURL string, projects []*soakProject) ([]int64, error) {
	out := make([]int64, len(projects))
	var first error
	for i, sp := range projects {
		n, err := getCount(ctx, httpURL, sp.p)
		if err != nil && first == nil {
			first = fmt.Errorf("count of project %s: %w", sp.p.ID, err)
		}
		out[i] = n
	}
	return out, first
}

func getCount(ctx context.Context, httpURL string, p project) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", httpURL+"/3.0/projects/"+p.ID+"/queries/count?event_collection="+soakValidCollection, nil)
	req.Header.Set("Authorization", p.Read)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return 0, nil // no event stored yet: the collection does not exist
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(body), 200))
	}
	var doc struct {
		Result int64 `json:"result"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return doc.Result, nil
}

// tlsSASL are the options every client of the Inbound listener shares.
func tlsSASL(addr, ca string, p project) ([]kgo.Opt, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", ca)
	}
	return []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()),
		kgo.ClientID("sluice-soak"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}, nil
}

// soakProducer is a project's producer of valid events: idempotent,
// acks=all, no delivery timeout (an event is acknowledged or still being
// retried when the load stops).
func soakProducer(addr, ca string, p project) (*kgo.Client, error) {
	opts, err := tlsSASL(addr, ca, p)
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, kgo.DefaultProduceTopic(soakValidCollection), kgo.ProducerLinger(5*time.Millisecond))...)
}

// produceValid sends valid events at rate per second until ctx ends, then
// flushes and closes the client. The records' own context is not ctx:
// ending the load must not cancel the events already handed over, only a
// producer still stuck 2 minutes later gives up (its records then fail,
// counted as such).
func produceValid(ctx context.Context, cl *kgo.Client, sp *soakProject, runID string, rate int) error {
	defer cl.Close()
	pctx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(2*time.Minute, giveUp) })
	defer stopAfter()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seq int64
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			sp.failed(err)
			return
		}
		sp.acked.Add(1)
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(rate))
		for ; seq < due; seq++ {
			if ctx.Err() != nil {
				break loop
			}
			sp.produced.Add(1)
			cl.Produce(pctx, &kgo.Record{Value: soakEvent(runID, sp.p.ID, seq)}, done)
		}
	}
	if err := cl.Flush(pctx); err != nil {
		logf("soak: project %s: %d events still unacknowledged 2 minutes after the load stopped", sp.p.ID, sp.produced.Load()-sp.acked.Load())
	}
	return nil
}

var soakWords = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")

// soakEvent is a valid event of about 300 bytes with the project's
// sequence number.
func soakEvent(runID, pid string, seq int64) []byte {
	w := func(i int64) string { return soakWords[int(i%int64(len(soakWords)))] }
	ev := fmt.Sprintf(`{"soak_run":%q,"project":%q,"seq":%d,"user":{"id":"u-%05d","country":%q,"plan":%q},"amount":%d.%02d,"tags":[%q,%q],"page":"/products/%s-%d","text":%q}`,
		runID, pid, seq, seq%50000, w(seq), w(seq/7), seq%1000, seq%100, w(seq/3), w(seq/11), w(seq/13), seq%997,
		strings.Join([]string{w(seq), w(seq + 5), w(seq + 9), w(seq + 17), w(seq + 21), w(seq + 2), w(seq + 13), w(seq + 19), w(seq / 5), w(seq / 17), w(seq / 23), w(seq + 1)}, " "))
	return []byte(ev)
}

// ---- poison ----

// poisonKind is one kind of poison input; send returns what sluice
// answered (an error name, an HTTP status, "acknowledged", "timeout").
type poisonKind struct {
	name, what string
	send       func(ctx context.Context, ps *poisonSender, n int) string
}

func poisonKinds() []poisonKind {
	return []poisonKind{
		{"kafka: invalid JSON", "a record `{\"a\": 1,` (not JSON)", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, []byte(`{"a": 1,`))
		}},
		{"kafka: 180 KB of <", "a record of 180,000 `<` (not JSON; 6 bytes each once escaped into a DLQ record)", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, bytes.Repeat([]byte("<"), 180_000))
		}},
		{"kafka: 1,500 properties", "a valid event with 1,500 top-level properties (the same names each time)", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, manyProperties(1500, n))
		}},
		{"kafka: 100,000-deep nesting", "a record `[[[…]]]` nested 100,000 deep", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, deepNesting(100_000))
		}},
		{"kafka: NUL and invalid UTF-8", "an event whose strings hold `\\u0000` and the raw bytes 0xff 0xfe 0xfd", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, []byte("{\"nul\":\"a\\u0000b\",\"bad_utf8\":\"x\xff\xfe\xfdy\",\"n\":"+strconv.Itoa(n)+"}"))
		}},
		{"kafka: ua_parser on 800 KB", "an event with the `keen:ua_parser` add-on on a distinct 800,000-byte user-agent string", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.record(ctx, hugeUAEvent(800_000, n))
		}},
		{"http: invalid event", "`POST /events/poison` of `{\"bad.name\": 1}` (a property name with a dot)", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.post(ctx, []byte(`{"bad.name": 1, "n": `+strconv.Itoa(n)+`}`))
		}},
		{"http: oversized event", "`POST /events/poison` of a 900,100-byte valid event", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.post(ctx, paddedEvent(900_100))
		}},
		{"batch: gzip of random bytes", "a record batch flagged gzip whose records are 1,024 random bytes, valid CRC-32C", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.batch(ctx, n, gzipRandomBatch(1024))
		}},
		{"batch: claims 3 records, holds 1", "an uncompressed record batch with NumRecords 3 and LastOffsetDelta 2 holding one valid event, valid CRC-32C", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.batch(ctx, n, shortBatch(3, []byte(`{"claims":3,"holds":1}`)))
		}},
		{"batch: gzip of one 5 MB record", "a gzip record batch (a few KB on the wire) holding one valid event of 5,000,000 bytes", func(ctx context.Context, ps *poisonSender, n int) string {
			return ps.batch(ctx, n, gzipBigRecordBatch(5_000_000))
		}},
	}
}

// poisonSender sends one project's poison inputs: Kafka records through a
// producer of their own (not idempotent, so that a refused record does not
// fence the others), hand-made batches through a raw client, events over
// HTTP.
type poisonSender struct {
	p       project
	http    string
	timeout time.Duration
	records *kgo.Client
	raw     *kgo.Client
	topicID [16]byte

	mu   sync.Mutex
	sent []map[string]int // per kind: outcome → count
}

func newPoisonSender(ctx context.Context, sl *sluiceProc, ca string, p project, timeout time.Duration) (*poisonSender, error) {
	opts, err := tlsSASL(sl.inbound, ca, p)
	if err != nil {
		return nil, err
	}
	records, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(soakPoisonCollection), kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(timeout))...)
	if err != nil {
		return nil, err
	}
	// Produce v13 names topics by id only: both the name and the id are
	// set, and the raw client stays at v12 or below in case the id is
	// unknown.
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(0, 12)
	raw, err := kgo.NewClient(append(opts, kgo.MaxVersions(versions))...)
	if err != nil {
		records.Close()
		return nil, err
	}
	ps := &poisonSender{p: p, http: sl.http, timeout: timeout, records: records, raw: raw, sent: make([]map[string]int, len(poisonKinds()))}
	// The collection's topic exists once a Metadata request has named it.
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	mreq := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(soakPoisonCollection)
	mreq.Topics = append(mreq.Topics, t)
	mresp, err := mreq.RequestWith(mctx, raw)
	if err != nil {
		ps.close()
		return nil, fmt.Errorf("metadata of %q: %w", soakPoisonCollection, err)
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
		ps.close()
		return nil, fmt.Errorf("metadata of %q: unexpected answer %+v", soakPoisonCollection, mresp.Topics)
	}
	ps.topicID = mresp.Topics[0].TopicID
	return ps, nil
}

func (ps *poisonSender) close() {
	ps.records.Close()
	ps.raw.Close()
}

// loop sends one poison input every `every`, cycling through the kinds,
// until ctx ends; the input in flight then gets its answer or its timeout.
func (ps *poisonSender) loop(ctx context.Context, every time.Duration) {
	kinds := poisonKinds()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		k := n % len(kinds)
		sctx, cancel := context.WithTimeout(context.Background(), ps.timeout)
		outcome := kinds[k].send(sctx, ps, n)
		cancel()
		ps.mu.Lock()
		if ps.sent[k] == nil {
			ps.sent[k] = map[string]int{}
		}
		ps.sent[k][outcome]++
		ps.mu.Unlock()
	}
}

func (ps *poisonSender) outcomes() []map[string]int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]map[string]int, len(ps.sent))
	for i, m := range ps.sent {
		out[i] = map[string]int{}
		for k, v := range m {
			out[i][k] = v
		}
	}
	return out
}

// record produces one record into the poison collection.
func (ps *poisonSender) record(ctx context.Context, value []byte) string {
	err := ps.records.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr()
	if err == nil {
		return "acknowledged"
	}
	return errText(err)
}

// post sends one event over HTTP into the poison collection.
func (ps *poisonSender) post(ctx context.Context, body []byte) string {
	req, _ := http.NewRequestWithContext(ctx, "POST", ps.http+"/3.0/projects/"+ps.p.ID+"/events/"+soakPoisonCollection, bytes.NewReader(body))
	req.Header.Set("Authorization", ps.p.Write)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return errText(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var doc struct {
		Code string `json:"error_code"`
	}
	_ = json.Unmarshal(b, &doc)
	if doc.Code != "" {
		return fmt.Sprintf("HTTP %d %s", resp.StatusCode, doc.Code)
	}
	return fmt.Sprintf("HTTP %d", resp.StatusCode)
}

// batch sends one hand-made record batch to a partition of the poison
// collection (they rotate, as a producer's partitioner would).
func (ps *poisonSender) batch(ctx context.Context, n int, records []byte) string {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(ps.timeout.Milliseconds())
	t := kmsg.NewProduceRequestTopic()
	t.Topic, t.TopicID = soakPoisonCollection, ps.topicID
	part := kmsg.NewProduceRequestTopicPartition()
	part.Partition = int32(n % 9)
	part.Records = records
	t.Partitions = append(t.Partitions, part)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, ps.raw)
	if err != nil {
		return errText(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return "malformed answer"
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode == 0 {
		return "acknowledged"
	}
	if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
		var ke *kerr.Error
		if errors.As(e, &ke) {
			return ke.Message
		}
		return e.Error()
	}
	return "error " + strconv.Itoa(int(p.ErrorCode))
}

// errText names an error briefly: a Kafka error by its name, a timeout as
// such, anything else by its text.
func errText(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout (no answer)"
	case errors.Is(err, context.Canceled):
		return "given up, unacknowledged 2 minutes after the load stopped"
	case errors.Is(err, kgo.ErrClientClosed):
		return "client closed (unacknowledged at the end)"
	}
	return truncate(err.Error(), 120)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// manyProperties is a valid event with n top-level properties. The names
// are the same in every input: the poison is the event's width, not a
// flood of new columns (a distinct set each time would add n columns to
// the collection every few seconds, a separate case with its own limits).
func manyProperties(n, seq int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%d`, i, seq+i)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func deepNesting(depth int) []byte {
	return append(bytes.Repeat([]byte("["), depth), bytes.Repeat([]byte("]"), depth)...)
}

// hugeUAEvent is an event with the keen:ua_parser add-on on a distinct
// user-agent string of about size bytes.
func hugeUAEvent(size, seq int) []byte {
	var ua strings.Builder
	for i := 0; ua.Len() < size; i++ {
		fmt.Fprintf(&ua, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36 ", 100+i%30, seq, i)
	}
	ev, _ := json.Marshal(map[string]any{
		"ua": ua.String()[:size],
		"keen": map[string]any{"addons": []any{map[string]any{
			"name": "keen:ua_parser", "input": map[string]any{"ua_string": "ua"}, "output": "parsed"}}},
	})
	return ev
}

// paddedEvent is a valid event of exactly size bytes.
func paddedEvent(size int) []byte {
	const head, tail = `{"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

// ---- hand-made record batches ----

const attrGzip = 1 // compression codec bits of a batch's attributes

// recordBatch encodes a v2 record batch (magic 2, no producer id) with the
// given attributes, claimed record count and records section, and fills in
// Length and a valid CRC-32C, as a producer would.
func recordBatch(attrs int16, numRecords int32, records []byte) []byte {
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs, LastOffsetDelta: numRecords - 1,
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: numRecords, Records: records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12)) // Length: everything after it
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// encodeRecord is one v2 record (no key, no headers) with its varint length.
func encodeRecord(offsetDelta int32, value []byte) []byte {
	r := kmsg.Record{OffsetDelta: offsetDelta, Value: value}
	body := r.AppendTo(nil)[1:] // Length 0 is one varint byte
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// gzipRandomBatch is flagged gzip but holds n random bytes: no gzip stream.
func gzipRandomBatch(n int) []byte {
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(rand.IntN(256))
	}
	junk[0] = 0 // never the gzip magic
	return recordBatch(attrGzip, 1, junk)
}

// shortBatch claims `claims` records but holds one.
func shortBatch(claims int32, value []byte) []byte {
	return recordBatch(0, claims, encodeRecord(0, value))
}

// gzipBigRecordBatch holds one valid event of size bytes, gzip-compressed.
func gzipBigRecordBatch(size int) []byte {
	return recordBatch(attrGzip, 1, gzipped(encodeRecord(0, paddedEvent(size))))
}
