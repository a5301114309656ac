package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// target is one side of an A/B pair: a SASL_SSL PLAIN endpoint and a topic.
type target struct {
	Name     string // "direct" or "sluice"
	Seeds    []string
	CAFile   string
	User     string
	Password string
	Topic    string
}

// loadOpts is the producer load, the same for both sides.
type loadOpts struct {
	Compression string // "none" or "lz4"
	Payloads    [][]byte
	// MaxInflight > 0 disables idempotence and allows that many produce
	// requests in flight per connection (diagnostics only; the default is
	// kgo's idempotent producer with up to 5).
	MaxInflight int
}

// produceHook counts the client's produce requests: how many, how large,
// and their round trip (from the start of the write to the end of reading
// the response, queueing behind earlier requests on the connection included).
type produceHook struct {
	requests, bytes, e2eNanos atomic.Int64
}

func (h *produceHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key != 0 || e.WriteErr != nil || e.ReadErr != nil {
		return
	}
	h.requests.Add(1)
	h.bytes.Add(int64(e.BytesWritten))
	h.e2eNanos.Add(int64(e.DurationE2E()))
}

func (h *produceHook) snapshot() [3]int64 {
	return [3]int64{h.requests.Load(), h.bytes.Load(), h.e2eNanos.Load()}
}

func (t target) client(o loadOpts, hooks ...kgo.Hook) (*kgo.Client, error) {
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", t.CAFile)
	}
	codec := kgo.NoCompression()
	if o.Compression == "lz4" {
		codec = kgo.Lz4Compression()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(t.Seeds...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: t.User, Pass: t.Password}.AsMechanism()),
		kgo.ClientID("sluice-bench"),
		kgo.DefaultProduceTopic(t.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(60 * time.Second),
		kgo.WithHooks(hooks...),
	}
	if o.MaxInflight > 0 {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(o.MaxInflight))
	}
	return kgo.NewClient(opts...)
}

// warm connects, authenticates, learns metadata and the producer id, so
// that none of it is inside a measured window.
func warm(ctx context.Context, cl *kgo.Client, o loadOpts) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 200)
	for i := range recs {
		recs[i] = &kgo.Record{Value: o.Payloads[i%len(o.Payloads)]}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// sample is what is read from /proc around a run.
type sample struct {
	at      time.Time
	sluice  cpuTicks
	broker  cpuTicks
	self    cpuTicks
	system  sysTicks
	fwdByte float64 // sluice_kafka_bytes_in_total for the project
}

// runResult is one run of one side.
type runResult struct {
	Mode        string  `json:"mode"` // throughput, latency
	Side        string  `json:"side"` // direct, sluice
	Compression string  `json:"compression"`
	Pair        int     `json:"pair"` // 0 = warm-up
	Seconds     float64 `json:"seconds"`
	// Throughput: acknowledged within the window.
	Records     int64   `json:"records"`
	MBps        float64 `json:"mb_per_s"`
	RecordsPerS float64 `json:"records_per_s"`
	Errors      int64   `json:"errors"`
	// Everything acknowledged from the window's start to the final flush,
	// the denominator of CPU per GB.
	TotalRecords int64   `json:"total_records"`
	TotalBytes   int64   `json:"total_payload_bytes"`
	WireBytes    float64 `json:"sluice_forwarded_batch_bytes"` // sluice's own counter (sluice side only)
	// CPU seconds over the same interval.
	SluiceCPU float64 `json:"sluice_cpu_s"`
	BrokerCPU float64 `json:"broker_cpu_s"`
	LoadCPU   float64 `json:"loadgen_cpu_s"`
	OtherCPU  float64 `json:"other_cpu_s"` // everything else on the machine
	BusyCPU   float64 `json:"machine_busy_cpu_s"`
	Elapsed   float64 `json:"elapsed_s"`
	// The client's produce requests over the same interval.
	Requests      int64   `json:"produce_requests"`
	MeanRequestKB float64 `json:"mean_request_kb"`
	MeanRoundTrip float64 `json:"mean_request_round_trip_ms"`
	// Latency (ms).
	P50     float64   `json:"p50_ms,omitempty"`
	P99     float64   `json:"p99_ms,omitempty"`
	P999    float64   `json:"p999_ms,omitempty"`
	Max     float64   `json:"max_ms,omitempty"`
	Late    int64     `json:"late_sends,omitempty"` // sends more than 1 ms behind schedule
	Latency []float64 `json:"-"`
}

func (r *runResult) requestsFrom(a, b [3]int64) {
	r.Requests = b[0] - a[0]
	if r.Requests > 0 {
		r.MeanRequestKB = float64(b[1]-a[1]) / float64(r.Requests) / 1024
		r.MeanRoundTrip = float64(b[2]-a[2]) / float64(r.Requests) / 1e6
	}
}

func (r *runResult) cpuFrom(a, b sample, clkTck float64) {
	r.Elapsed = b.at.Sub(a.at).Seconds()
	r.SluiceCPU = b.sluice.sub(a.sluice).seconds(clkTck)
	r.BrokerCPU = b.broker.sub(a.broker).seconds(clkTck)
	r.LoadCPU = b.self.sub(a.self).seconds(clkTck)
	r.BusyCPU = b.system.busy(a.system, clkTck)
	r.OtherCPU = max(r.BusyCPU-r.BrokerCPU-r.LoadCPU-r.SluiceCPU, 0)
}

// runThroughput produces as fast as the client allows for d.
func (b *bench) runThroughput(ctx context.Context, t target, o loadOpts, d time.Duration, pair int) (runResult, error) {
	res := runResult{Mode: "throughput", Side: t.Name, Compression: o.Compression, Pair: pair, Seconds: d.Seconds()}
	hook := &produceHook{}
	cl, err := t.client(o, hook)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := warm(ctx, cl, o); err != nil {
		return res, fmt.Errorf("%s: warming the producer: %w", t.Name, err)
	}
	before, reqs0 := b.sample(ctx, t), hook.snapshot()
	start := time.Now()
	deadline := start.Add(d)
	var inWindow, total, totalBytes, errs atomic.Int64
	var firstErr atomic.Value
	n := len(o.Payloads)
	size := int64(len(o.Payloads[0]))
	for i := 0; ; i++ {
		if i&63 == 0 && !time.Now().Before(deadline) {
			break
		}
		rec := &kgo.Record{Value: o.Payloads[i%n]}
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			total.Add(1)
			totalBytes.Add(size)
			if time.Now().Before(deadline) {
				inWindow.Add(1)
			}
		})
	}
	fctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return res, fmt.Errorf("%s: flushing: %w", t.Name, err)
	}
	after := b.sample(ctx, t)
	res.cpuFrom(before, after, b.clkTck)
	res.requestsFrom(reqs0, hook.snapshot())
	res.Records = inWindow.Load()
	res.RecordsPerS = float64(res.Records) / d.Seconds()
	res.MBps = res.RecordsPerS * float64(size) / 1e6
	res.Errors = errs.Load()
	res.TotalRecords = total.Load()
	res.TotalBytes = totalBytes.Load()
	res.WireBytes = after.fwdByte - before.fwdByte
	if e, ok := firstErr.Load().(error); ok {
		return res, fmt.Errorf("%s: %d records failed, first: %w", t.Name, res.Errors, e)
	}
	return res, nil
}

// runLatency produces rate records per second for d and measures each
// record from the Produce call to its acknowledgement, on one clock.
func (b *bench) runLatency(ctx context.Context, t target, o loadOpts, rate int, d time.Duration, pair int) (runResult, error) {
	res := runResult{Mode: "latency", Side: t.Name, Compression: o.Compression, Pair: pair, Seconds: d.Seconds()}
	hook := &produceHook{}
	cl, err := t.client(o, hook)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := warm(ctx, cl, o); err != nil {
		return res, fmt.Errorf("%s: warming the producer: %w", t.Name, err)
	}
	count := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, count)
	var wg sync.WaitGroup
	var errs atomic.Int64
	var firstErr atomic.Value
	interval := time.Second / time.Duration(rate)
	n := len(o.Payloads)
	size := int64(len(o.Payloads[0]))
	before, reqs0 := b.sample(ctx, t), hook.snapshot()
	start := time.Now()
	wg.Add(count)
	for i := range count {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		sent := time.Now()
		if sent.Sub(due) > time.Millisecond {
			res.Late++
		}
		cl.Produce(ctx, &kgo.Record{Value: o.Payloads[i%n]}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				lat[i] = -1
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			lat[i] = time.Since(sent)
		})
	}
	fctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return res, fmt.Errorf("%s: flushing: %w", t.Name, err)
	}
	wg.Wait()
	after := b.sample(ctx, t)
	res.cpuFrom(before, after, b.clkTck)
	res.requestsFrom(reqs0, hook.snapshot())
	res.Errors = errs.Load()
	if e, ok := firstErr.Load().(error); ok {
		return res, fmt.Errorf("%s: %d records failed, first: %w", t.Name, res.Errors, e)
	}
	res.Records = int64(count)
	res.TotalRecords = int64(count)
	res.TotalBytes = int64(count) * size
	res.RecordsPerS = float64(count) / d.Seconds()
	res.MBps = res.RecordsPerS * float64(size) / 1e6
	res.WireBytes = after.fwdByte - before.fwdByte
	ms := make([]float64, 0, count)
	for _, l := range lat {
		ms = append(ms, float64(l)/1e6)
	}
	sortFloats(ms)
	res.Latency = ms
	res.P50, res.P99, res.P999, res.Max = quantile(ms, 0.50), quantile(ms, 0.99), quantile(ms, 0.999), ms[len(ms)-1]
	return res, nil
}

// payloads builds n distinct JSON events of exactly size bytes, made of
// words rather than random bytes so that lz4 compresses them about as well
// as it compresses real events.
func payloads(n, size int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(`page view click purchase signup login logout search cart checkout
		product category home about pricing docs blog careers contact support account settings
		chrome firefox safari edge android ios linux windows macos mobile desktop tablet
		paris london berlin madrid tokyo sydney toronto chicago austin denver seattle boston`)
	out := make([][]byte, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, `{"event_id":"%016x%016x","keen":{"timestamp":"2026-01-%02dT%02d:%02d:%02d.%03dZ"},`,
			r.Uint64(), r.Uint64(), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
		fmt.Fprintf(&b, `"user":{"id":%d,"plan":"%s","country":"%s"},"action":"%s","amount":%d.%02d,"tags":[`,
			r.IntN(1_000_000), words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1000), r.IntN(100))
		for j := range 4 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"%s"`, words[r.IntN(len(words))])
		}
		b.WriteString(`],"text":"`)
		tail := `"}`
		for b.Len()+len(tail) < size {
			w := words[r.IntN(len(words))]
			if b.Len()+len(tail)+len(w)+1 > size {
				w = strings.Repeat("x", size-b.Len()-len(tail))
				b.WriteString(w)
				break
			}
			b.WriteString(w)
			b.WriteByte(' ')
		}
		b.WriteString(tail)
		s := b.String()
		if len(s) != size {
			panic(fmt.Sprintf("payload of %d bytes, want %d", len(s), size))
		}
		out[i] = []byte(s)
	}
	return out
}
