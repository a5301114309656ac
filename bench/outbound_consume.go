package main

// Consume throughput through the Outbound listener vs direct.
//
// Both sides read the very same backend topic, with the same consumer:
// direct, as the broker's admin on its SASL_SSL listener, by its backend
// name; through sluice, as the project (read key) on the Outbound
// listener, by its client name. Two topics, each preloaded once straight
// into the broker:
//
//   - plain: an idempotent producer's batches (kgo defaults), no
//     transactions: the listener's fast path, batches passed as they are;
//   - transactional: batches written in committed transactions of
//     --txn-records records spread round robin over the 9 partitions, as
//     the pipeline publishes, so every fetch response holds transaction
//     markers that the listener rewrites into empty batches.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// The consumed topics' client names (outbound topic names a collection
// could have).
const (
	obPlainTopic = "consume-plain"
	obTxnTopic   = "consume-txn"
)

// obConsume is one consume run of one side.
type obConsume struct {
	Series string `json:"series"` // plain, transactional
	Side   string `json:"side"`   // direct, sluice
	Pair   int    `json:"pair"`   // 0 = warm-up, -1 = the profiled run
	// Records and bytes of record values consumed, and how long it took
	// from the first fetch to the last record.
	Records     int64   `json:"records"`
	ValueBytes  int64   `json:"value_bytes"`
	Seconds     float64 `json:"seconds"`
	RecordsPerS float64 `json:"records_per_s"`
	MBps        float64 `json:"mb_per_s"`
	// CPU seconds over the same interval (and elapsed seconds).
	SluiceCPU float64 `json:"sluice_cpu_s"`
	BrokerCPU float64 `json:"broker_cpu_s"`
	LoadCPU   float64 `json:"loadgen_cpu_s"`
	OtherCPU  float64 `json:"other_cpu_s"`
	BusyCPU   float64 `json:"machine_busy_cpu_s"`
	Elapsed   float64 `json:"elapsed_s"`
	// The client's fetch requests.
	Fetches     int64   `json:"fetches"`
	MeanFetchMB float64 `json:"mean_fetch_response_mb"`
	MeanFetchMs float64 `json:"mean_fetch_round_trip_ms"`
	// sluice's own count of record batch bytes it delivered (sluice side).
	SluiceBytesOut float64 `json:"sluice_bytes_out"`
}

// fetchHook counts the client's fetch requests: how many, the bytes of
// their responses, and their round trip.
type fetchHook struct{ requests, bytes, nanos atomic.Int64 }

func (h *fetchHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key != 1 || e.WriteErr != nil || e.ReadErr != nil {
		return
	}
	h.requests.Add(1)
	h.bytes.Add(int64(e.BytesRead))
	h.nanos.Add(int64(e.DurationE2E()))
}

// securityOpts are a target's TLS and SASL PLAIN settings.
func securityOpts(t target) ([]kgo.Opt, error) {
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", t.CAFile)
	}
	return []kgo.Opt{
		kgo.SeedBrokers(t.Seeds...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: t.User, Pass: t.Password}.AsMechanism()),
		kgo.ClientID("sluice-bench"),
	}, nil
}

// consumer is a franz-go consumer of t.Topic, every partition from the
// start, no group; otherwise kgo's defaults (fetches of up to 50 MB, 1 MB
// per partition, one fetch in flight per broker).
func consumer(t target, iso kgo.IsolationLevel, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := securityOpts(t)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumeTopics(t.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso),
	)
	return kgo.NewClient(append(opts, extra...)...)
}

// consumeBench preloads both topics and runs both series.
func (o *obench) consumeBench(ctx context.Context) error {
	c := o.cfg
	n := int64(c.consumeMB) * 1_000_000 / int64(c.recordSize)
	pl := payloads(4096, c.recordSize)
	for _, s := range []struct {
		topic string
		txn   int
	}{{obPlainTopic, 0}, {obTxnTopic, c.txnRecords}} {
		backend := tenancyOut(o.p.ID, s.topic)
		if err := o.createOutboundTopic(ctx, backend); err != nil {
			return err
		}
		t0 := time.Now()
		if err := preload(ctx, c.brokers, backend, pl, n, s.txn); err != nil {
			return fmt.Errorf("preloading %s: %w", backend, err)
		}
		logf("outbound: preloaded %s: %d records (%d MB) in %.1f s", backend, n, n*int64(c.recordSize)/1_000_000, time.Since(t0).Seconds())
	}
	o.rep.ConsumeRecords = n

	direct := func(topic string) target {
		return target{Name: "direct", Seeds: strings.Split(c.directSeeds, ","), CAFile: c.directCA, User: c.directUser, Password: c.directPass, Topic: tenancyOut(o.p.ID, topic)}
	}
	through := func(topic string) target {
		return target{Name: "sluice", Seeds: []string{o.sl.outbound}, CAFile: o.sluiceCA, User: o.p.ID, Password: o.p.Read, Topic: topic}
	}
	resetPeakRSS(o.sl.pid)
	for _, s := range []struct{ series, topic string }{{"plain", obPlainTopic}, {"transactional", obTxnTopic}} {
		for pair := 0; pair <= c.pairs; pair++ {
			for _, t := range []target{direct(s.topic), through(s.topic)} {
				if err := o.pauseFor(ctx); err != nil {
					return err
				}
				r, err := o.consumeRun(ctx, t, n, s.series, pair)
				if err != nil {
					return fmt.Errorf("%s pair %d %s: %w", s.series, pair, t.Name, err)
				}
				logf("outbound: consume %s pair %d %-6s %7.1f MB/s %8.0f records/s in %.2f s (sluice CPU %.2f s, broker %.2f s, client %.2f s, other %.2f s; %d fetches of %.2f MB, %.1f ms)",
					s.series, pair, t.Name, r.MBps, r.RecordsPerS, r.Seconds, r.SluiceCPU, r.BrokerCPU, r.LoadCPU, r.OtherCPU, r.Fetches, r.MeanFetchMB, r.MeanFetchMs)
				o.rep.Consume = append(o.rep.Consume, r)
			}
		}
	}
	o.rep.ConsumePeakRSSkB = procStatus(o.sl.pid, "VmHWM")
	if c.profile > 0 {
		if err := o.profileConsume(ctx, through(obTxnTopic), n); err != nil {
			logf("outbound: warning: no CPU profile: %v", err)
		}
	}
	return nil
}

// createOutboundTopic creates a backend outbound topic as sluice does (9
// partitions, 96 h retention, max.message.bytes 1048588; RF 1 here).
func (o *obench) createOutboundTopic(ctx context.Context, backend string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg := map[string]*string{"retention.ms": strptr("345600000"), "max.message.bytes": strptr("1048588")}
	r, err := o.adm.CreateTopic(ctx, 9, 1, cfg, backend)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", backend, err)
	}
	for { // until every partition has a leader
		td, err := o.adm.ListTopics(ctx, backend)
		if err != nil {
			return err
		}
		ready := len(td[backend].Partitions) == 9
		for _, p := range td[backend].Partitions {
			ready = ready && p.Leader >= 0 && p.Err == nil
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s has no leaders: %w", backend, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func strptr(s string) *string { return &s }

// preload writes n records (payloads cycled) to topic on the broker's
// PLAINTEXT listener. txn > 0: in committed transactions of txn records,
// partitions round robin; otherwise kgo's idempotent producer with its
// sticky partitioner.
func preload(ctx context.Context, brokers, topic string, pl [][]byte, n int64, txn int) error {
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0)}
	if txn > 0 {
		opts = append(opts, kgo.TransactionalID("sluice-bench-preload-"+strconv.FormatInt(time.Now().UnixNano(), 36)),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var first atomic.Value
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			first.CompareAndSwap(nil, err)
		}
	}
	failed := func() error { e, _ := first.Load().(error); return e }
	if txn <= 0 {
		for i := int64(0); i < n && failed() == nil; i++ {
			cl.Produce(ctx, &kgo.Record{Value: pl[i%int64(len(pl))]}, done)
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		return failed()
	}
	for i := int64(0); i < n; {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		for j := 0; j < txn && i < n; j, i = j+1, i+1 {
			cl.Produce(ctx, &kgo.Record{Value: pl[i%int64(len(pl))]}, done)
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		if err := failed(); err != nil {
			return err
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
	}
	return nil
}

// consumeRun reads the whole topic once with a new client and measures it.
func (o *obench) consumeRun(ctx context.Context, t target, want int64, series string, pair int) (obConsume, error) {
	r := obConsume{Series: series, Side: t.Name, Pair: pair}
	hook := &fetchHook{}
	cl, err := consumer(t, kgo.ReadCommitted(), kgo.WithHooks(hook))
	if err != nil {
		return r, err
	}
	defer cl.Close()
	// Connect and authenticate before the clock starts.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		return r, fmt.Errorf("connecting: %w", err)
	}
	before := o.sampleNow(t)
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for r.Records < want {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return r, fmt.Errorf("after %d of %d records: %w", r.Records, want, err)
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("%s[%d]: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return r, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.Records++
			r.ValueBytes += int64(len(rec.Value))
		})
	}
	r.Seconds = time.Since(start).Seconds()
	after := o.sampleNow(t)
	if r.Records != want {
		return r, fmt.Errorf("read %d records, %d were written", r.Records, want)
	}
	r.RecordsPerS = float64(r.Records) / r.Seconds
	r.MBps = float64(r.ValueBytes) / 1e6 / r.Seconds
	r.Elapsed = after.at.Sub(before.at).Seconds()
	r.SluiceCPU = after.sluice.sub(before.sluice).seconds(o.cfg.clkTck)
	r.BrokerCPU = after.broker.sub(before.broker).seconds(o.cfg.clkTck)
	r.LoadCPU = after.self.sub(before.self).seconds(o.cfg.clkTck)
	r.BusyCPU = after.system.busy(before.system, o.cfg.clkTck)
	r.OtherCPU = max(r.BusyCPU-r.SluiceCPU-r.BrokerCPU-r.LoadCPU, 0)
	r.SluiceBytesOut = after.fwdByte - before.fwdByte
	if r.Fetches = hook.requests.Load(); r.Fetches > 0 {
		r.MeanFetchMB = float64(hook.bytes.Load()) / float64(r.Fetches) / 1e6
		r.MeanFetchMs = float64(hook.nanos.Load()) / float64(r.Fetches) / 1e6
	}
	return r, nil
}

// sampleNow reads sluice's, the broker's and this process's CPU, the
// machine's, and (sluice side) sluice's bytes-out counter.
func (o *obench) sampleNow(t target) sample {
	s := sample{at: time.Now(), sluice: procCPU(o.sl.pid), broker: procCPU(o.cfg.brokerPID), self: procCPU("self"), system: systemCPU()}
	if t.Name == "sluice" {
		s.fwdByte = o.metric(`sluice_kafka_bytes_out_total{project="` + o.p.ID + `"}`)
	}
	return s
}

// metric reads one series from sluice's /metrics (0 if absent).
func (o *obench) metric(series string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", o.sl.http+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}
