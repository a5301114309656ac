package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/kafkatest"
	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestMultiNode: three sluice nodes share three Apache Kafka brokers and a
// ClickHouse store of two shards (issue 18's acceptance). Events go in
// through every node's Inbound listener and over every node's HTTP API;
// every node answers count, group_by and extraction with the same, exact
// result. Then one node is SIGKILLed, while its pipeline's transaction is
// open, as events stream in through all three: the survivors keep
// answering queries throughout, the counts settle exact (every
// acknowledged event once, nothing twice), and a read_committed consumer
// on a survivor's Kafka Outbound listener sees every stored event exactly
// once. The test logs how long that consumer waited after the kill. The
// killed node is restarted, takes events again, and all three agree once
// more. Last, a ClickHouse shard is SIGKILLed (every node's queries fail,
// never a partial count) and restarted (every node exact again).
func TestMultiNode(t *testing.T) {
	// A cluster of its own, set up as docs/operations.md recommends for
	// several nodes: the brokers look for timed-out transactions every
	// second (Kafka's default, 10 s, adds up to 10 s to the time a killed
	// node's open transaction holds read_committed consumers back).
	kc := kafkatest.StartForTest(t, kafkatest.Options{Brokers: 3, Props: map[string]string{
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000"}})
	ch := clickhousetest.StartForTest(t, 2)
	const orgID, orgKey = "0123456789abcdef0123abcd", "multinode-org-key-0123456789"
	storeURL := fmt.Sprintf("clickhouse://%s/multinode?cluster=%s", strings.Join(ch.Addrs, ","), clickhousetest.ClusterName)
	m := &multiNode{args: []string{"serve", "--kafka-brokers", strings.Join(kc.Bootstrap, ","),
		"--org-id", orgID, "--org-key", orgKey, "--store", storeURL,
		"--http-addr", "127.0.0.1:0", "--inbound-addr", "127.0.0.1:0", "--outbound-addr", "127.0.0.1:0",
		"--advertised-host", "127.0.0.1"},
		sent: map[int]string{}, acked: map[int]bool{}}
	for range 3 {
		m.nodes = append(m.nodes, m.start(t, t.TempDir()))
	}
	p := createProject(t, m.nodes[0].proc.HTTP, orgID, orgKey, "multinode")
	m.pid, m.write, m.read = p.ID, p.APIKeys["write"], p.APIKeys["read"]
	if st, body := httpDo(t, "PUT", m.nodes[0].proc.HTTP+"/3.0/projects/"+m.pid+"/streams/kafka/outbound", p.APIKeys["master"], `{"enabled":true}`); st != 200 {
		t.Fatalf("enabling Kafka Outbound: %d %s", st, body)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(kc.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	m.admin = kadm.NewClient(admin)

	// 1. Every node's Inbound listener and HTTP API; every node agrees.
	for i, n := range m.nodes {
		m.produceSync(t, n, fmt.Sprintf("inbound-%d", i), 400)
		m.postHTTP(t, n, fmt.Sprintf("http-%d", i), 100)
	}
	m.settle(t, m.nodes)
	m.checkAgree(t, m.nodes, "before the kill")

	// 2. A read_committed consumer on node 0's Outbound listener; events
	// stream in through all three nodes; node 2 is SIGKILLed mid-stream.
	out := m.consume(t, m.nodes[0])
	defer out.close()
	const streamFor, killAfter = 12 * time.Second, 4 * time.Second
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), streamFor)
	defer cancel()
	// Node 2's producers stop just before it is killed (their requests in
	// flight fail).
	victimCtx, stopVictim := context.WithCancel(ctx)
	defer stopVictim()
	var wg sync.WaitGroup
	for i, n := range m.nodes {
		nctx := ctx
		if i == 2 {
			nctx = victimCtx
		}
		wg.Add(2)
		cl := m.producer(t, n)
		go func() { defer wg.Done(); m.stream(nctx, cl, fmt.Sprintf("inbound-%d", i), 100) }()
		go func() { defer wg.Done(); m.streamHTTP(t, nctx, n, fmt.Sprintf("http-%d", i), 5) }()
	}
	time.Sleep(time.Until(start.Add(killAfter)))
	victim := m.nodes[2]
	// The hard case: the kill lands while the node's transaction is open,
	// holding back what read_committed consumers may read until the
	// transaction is aborted.
	open, victimTxn := m.killInTransaction(t, victim, stopVictim)
	killed := time.Now()
	aborted := make(chan time.Time, 1)
	go func() { aborted <- m.txnEnd(victimTxn, 2*time.Minute) }()
	ackedBeforeKill := m.ackedSet()
	t.Logf("node 2 SIGKILLed %s into the stream (its transaction: %s); %d events acknowledged so far",
		killed.Sub(start).Round(time.Millisecond), open, len(ackedBeforeKill))

	// Queries keep working on the survivors from the kill on.
	survivors := m.nodes[:2]
	qctx, stopQueries := context.WithCancel(context.Background())
	queryErrs := make(chan string, 1)
	var queries int
	var qwg sync.WaitGroup
	qwg.Add(1)
	go func() {
		defer qwg.Done()
		for qctx.Err() == nil {
			for i, n := range survivors {
				if st, body := m.query(t, n, "count", ""); st != 200 {
					select {
					case queryErrs <- fmt.Sprintf("node %d answered a count %s after the kill with %d %.300s", i, time.Since(killed).Round(time.Millisecond), st, body):
					default:
					}
				}
				queries++
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()

	// The wait: from the kill until the consumer holds every event
	// acknowledged before it.
	last, missing := out.waitFor(ackedBeforeKill, 2*time.Minute)
	if len(missing) > 0 {
		t.Fatalf("the read_committed Outbound consumer lacks %d events acknowledged before the kill 2 minutes after it (e.g. %v)", len(missing), head(missing))
	}
	abortedAfter := "not within 2 minutes"
	if at := <-aborted; !at.IsZero() {
		abortedAfter = at.Sub(killed).Round(100 * time.Millisecond).String()
	}
	t.Logf("Outbound wait after the kill: the read_committed consumer had every event acknowledged before the kill %s after it; the longest silence of its stream after the kill: %s; the killed node's open transaction ended %s after the kill",
		last.Sub(killed).Round(10*time.Millisecond), out.longestGapAfter(killed).Round(10*time.Millisecond), abortedAfter)
	wg.Wait()
	m.settle(t, survivors)
	m.checkAgree(t, survivors, "after the kill")
	stopQueries()
	qwg.Wait()
	select {
	case e := <-queryErrs:
		t.Fatal(e)
	default:
	}
	t.Logf("survivors answered %d counts between the kill and the settled check, all 200", queries)

	// 3. The killed node comes back with its data dir, takes events, and all
	// three agree; the Outbound stream holds every stored event once.
	m.nodes[2] = m.start(t, victim.dir)
	m.produceSync(t, m.nodes[2], "inbound-2", 200)
	m.postHTTP(t, m.nodes[2], "http-2", 50)
	m.settle(t, m.nodes)
	m.checkAgree(t, m.nodes, "after the restart")

	// 4. A ClickHouse shard dies: every node's queries fail, never a count
	// of the surviving shard; events recorded meanwhile wait in Kafka and
	// the pipeline reports itself degraded; once the shard is back they are
	// stored and every node is exact again.
	if err := ch.Kill(1); err != nil {
		t.Fatal(err)
	}
	shardDown := time.Now()
	for i, n := range m.nodes {
		if st, body := m.query(t, n, "count", ""); st == 200 {
			t.Fatalf("node %d answered a count with a shard down: %s", i, body)
		} else if i == 0 {
			t.Logf("shard 2 down: node 0 answers a count with %d %.200s", st, body)
		}
	}
	m.postHTTP(t, m.nodes[0], "http-0", 50)
	m.produceSync(t, m.nodes[1], "inbound-1", 100)
	degraded := m.waitDegraded(t, time.Minute)
	t.Logf("shard 2 down: events still accepted over HTTP and Inbound; node %d's /healthz said pipeline degraded %s after the kill",
		degraded, time.Since(shardDown).Round(100*time.Millisecond))
	// Down for 10 s: the failing batches back off (1 s, 2 s, 4 s, …).
	time.Sleep(time.Until(shardDown.Add(10 * time.Second)))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel2()
	if err := ch.Restart(ctx2); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	stored := m.settle(t, m.nodes)
	t.Logf("shard 2 back after %s down: every event stored and countable %s after it answered again",
		back.Sub(shardDown).Round(100*time.Millisecond), time.Since(back).Round(100*time.Millisecond))
	m.checkAgree(t, m.nodes, "after the shard came back")
	out.checkExactlyOnce(t, stored)
}

// waitDegraded waits until some node's /healthz reports its pipeline
// degraded and returns that node's index.
func (m *multiNode) waitDegraded(t *testing.T, d time.Duration) int {
	t.Helper()
	var last string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		for i, n := range m.nodes {
			st, body, err := httpTry("GET", n.proc.HTTP+"/healthz", "", "")
			var r struct {
				Components map[string]struct{ Status string }
			}
			if err == nil && json.Unmarshal([]byte(body), &r) == nil && st == 503 && r.Components["pipeline"].Status == "degraded" {
				return i
			}
			last = fmt.Sprintf("node %d: %d %.300s", i, st, body)
		}
	}
	t.Fatalf("no node reported its pipeline degraded within %s of a shard's death (last: %s)", d, last)
	return -1
}

// killInTransaction SIGKILLs n as soon as its pipeline's transaction is
// open (within 10 s; then anyway), calling before just before, and says
// what state the transaction was in, and returns its transactional id.
func (m *multiNode) killInTransaction(t *testing.T, n *mnNode, before func()) (state, id string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "data", "pipeline-transactional-id"))
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(string(b))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	state = "not seen open within 10 s"
	for ctx.Err() == nil {
		d, err := m.admin.DescribeTransactions(ctx, id)
		if err == nil && d[id].Err == nil && d[id].State == "Ongoing" {
			state = fmt.Sprintf("open for %s", time.Since(time.UnixMilli(d[id].StartTimestamp)).Round(time.Millisecond))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	before()
	_ = n.proc.cmd.Process.Signal(syscall.SIGKILL)
	<-n.proc.exited
	return state, id
}

// txnEnd polls the transaction of id until it is no longer open (the
// coordinator aborted it) and returns when, or the zero time after d.
func (m *multiNode) txnEnd(id string, d time.Duration) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ; ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		got, err := m.admin.DescribeTransactions(ctx, id)
		if err == nil && got[id].Err == nil && got[id].State != "Ongoing" {
			return time.Now()
		}
	}
	return time.Time{}
}

// multiNode is the test's cluster of sluice nodes and its ledger of events:
// each event carries a number n, unique in the test.
type multiNode struct {
	args  []string
	nodes []*mnNode
	admin *kadm.Client
	pid   string
	write string
	read  string

	mu    sync.Mutex
	next  int
	sent  map[int]string // n → its source (an Inbound listener or HTTP API)
	acked map[int]bool
}

type mnNode struct {
	dir      string
	proc     *proc
	inbound  string
	outbound string
	tls      *tls.Config
}

func (m *multiNode) start(t *testing.T, dir string) *mnNode {
	t.Helper()
	p := startSluice(t, dir, m.args...)
	cfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &mnNode{dir: dir, proc: p, inbound: addrAfter(t, p, "Kafka Inbound:"), outbound: addrAfter(t, p, "Kafka Outbound:"), tls: cfg}
}

// newEvents reserves count numbers for events from src.
func (m *multiNode) newEvents(src string, count int) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns := make([]int, count)
	for i := range ns {
		ns[i] = m.next
		m.sent[m.next] = src
		m.next++
	}
	return ns
}

func (m *multiNode) ack(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acked[n] = true
}

func (m *multiNode) ackedSet() map[int]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.acked)
}

func mnEvent(n int, src string) []byte {
	return fmt.Appendf(nil, `{"n":%d,"src":%q,"kind":"k%d"}`, n, src, n%4)
}

func (m *multiNode) producer(t *testing.T, n *mnNode) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.inbound), kgo.DialTLSConfig(n.tls),
		kgo.SASL(plain.Auth{User: m.pid, Pass: m.write}.AsMechanism()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// produceSync sends count events through n's Inbound listener and waits
// for every acknowledgement.
func (m *multiNode) produceSync(t *testing.T, n *mnNode, src string, count int) {
	t.Helper()
	cl := m.producer(t, n)
	defer cl.Close()
	var recs []*kgo.Record
	ns := m.newEvents(src, count)
	for _, k := range ns {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: mnEvent(k, src)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing through %s: %v", src, err)
	}
	for _, k := range ns {
		m.ack(k)
	}
}

// stream sends rate events a second through cl (a node's Inbound
// listener) until ctx ends, then closes cl. An event is acknowledged only
// by the listener's answer: those in flight when the node is killed fail,
// and may still have been stored.
func (m *multiNode) stream(ctx context.Context, cl *kgo.Client, src string, rate int) {
	var wg sync.WaitGroup
	for tick := time.NewTicker(time.Second / time.Duration(rate)); ctx.Err() == nil; <-tick.C {
		k := m.newEvents(src, 1)[0]
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: "orders", Value: mnEvent(k, src)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err == nil {
				m.ack(k)
			}
		})
	}
	// A killed node's listener never answers: its records in flight fail
	// when the client closes.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	cl.Close()
	wg.Wait()
}

// postHTTP records count events in one batch over n's HTTP API.
func (m *multiNode) postHTTP(t *testing.T, n *mnNode, src string, count int) {
	t.Helper()
	if err := m.tryPostHTTP(n, src, count); err != nil {
		t.Fatal(err)
	}
}

func (m *multiNode) tryPostHTTP(n *mnNode, src string, count int) error {
	ns := m.newEvents(src, count)
	evs := make([]json.RawMessage, len(ns))
	for i, k := range ns {
		evs[i] = mnEvent(k, src)
	}
	body, _ := json.Marshal(map[string][]json.RawMessage{"orders": evs})
	st, resp, err := httpTry("POST", n.proc.HTTP+"/3.0/projects/"+m.pid+"/events", m.write, string(body))
	if err != nil {
		return fmt.Errorf("recording events over %s: %w", src, err)
	}
	var res map[string][]struct{ Success bool }
	if err := json.Unmarshal([]byte(resp), &res); st != 200 || err != nil || len(res["orders"]) != count {
		return fmt.Errorf("recording events over %s: %d %.300s", src, st, resp)
	}
	for i, r := range res["orders"] {
		if !r.Success {
			return fmt.Errorf("recording events over %s: event %d refused: %.300s", src, i, resp)
		}
		m.ack(ns[i])
	}
	return nil
}

// streamHTTP posts batches of 10 events over n's HTTP API, perSecond
// batches a second, until ctx ends; a batch that fails once n is killed is
// not acknowledged.
func (m *multiNode) streamHTTP(t *testing.T, ctx context.Context, n *mnNode, src string, perSecond int) {
	for tick := time.NewTicker(time.Second / time.Duration(perSecond)); ctx.Err() == nil; <-tick.C {
		if err := m.tryPostHTTP(n, src, 10); err != nil && ctx.Err() == nil {
			t.Errorf("%v", err)
			return
		}
	}
}

// httpTry is httpDo returning transport errors instead of failing.
func httpTry(method, url, key, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", key)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// query runs analysis on n over HTTP with extra query parameters.
func (m *multiNode) query(t *testing.T, n *mnNode, analysis, params string) (int, string) {
	t.Helper()
	st, body, err := httpTry("GET", n.proc.HTTP+"/3.0/projects/"+m.pid+"/queries/"+analysis+"?event_collection=orders"+params, m.read, "")
	if err != nil {
		return 0, err.Error()
	}
	return st, body
}

// answer is what one node says about the collection.
type answer struct {
	count   int
	bySrc   map[string]int
	byKind  map[string]int
	extract map[int]int // n → copies
}

func (m *multiNode) answer(t *testing.T, n *mnNode) answer {
	t.Helper()
	a, err := m.tryAnswer(t, n)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (m *multiNode) tryAnswer(t *testing.T, n *mnNode) (answer, error) {
	a := answer{bySrc: map[string]int{}, byKind: map[string]int{}, extract: map[int]int{}}
	var count struct{ Result int }
	if err := m.get(t, n, "count", "", &count); err != nil {
		return a, err
	}
	a.count = count.Result
	var groups struct {
		Result []struct {
			Src, Kind string
			Result    int
		}
	}
	if err := m.get(t, n, "count", "&group_by=src", &groups); err != nil {
		return a, err
	}
	for _, g := range groups.Result {
		a.bySrc[g.Src] = g.Result
	}
	groups.Result = nil
	if err := m.get(t, n, "count", "&group_by=kind", &groups); err != nil {
		return a, err
	}
	for _, g := range groups.Result {
		a.byKind[g.Kind] = g.Result
	}
	var ext struct{ Result []struct{ N int } }
	if err := m.get(t, n, "extraction", "", &ext); err != nil {
		return a, err
	}
	for _, e := range ext.Result {
		a.extract[e.N]++
	}
	return a, nil
}

func (m *multiNode) get(t *testing.T, n *mnNode, analysis, params string, v any) error {
	st, body := m.query(t, n, analysis, params)
	if err := json.Unmarshal([]byte(body), v); st != 200 || err != nil {
		return fmt.Errorf("%s%s on %s: %d %.300s", analysis, params, n.proc.HTTP, st, body)
	}
	return nil
}

// settle waits until the pipeline has processed every raw record of the
// collection (the group's committed offsets reach the end of every
// partition) and the first node's extraction holds every acknowledged
// event, and returns that extraction's events.
func (m *multiNode) settle(t *testing.T, nodes []*mnNode) map[int]bool {
	t.Helper()
	topic := tenancy.RawTopic(m.pid, "", "orders")
	acked := m.ackedSet()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		lag, lerr := m.rawLag(ctx, topic)
		cancel()
		a, qerr := m.tryAnswer(t, nodes[0])
		missing := 0
		for n := range acked {
			if a.extract[n] == 0 {
				missing++
			}
		}
		if lerr == nil && qerr == nil && lag == 0 && missing == 0 {
			return setOf(a.extract)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled within 3 minutes: the pipeline's lag on %s is %d (%v); %d acknowledged events not in node 0's extraction (%v)", topic, lag, lerr, missing, qerr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rawLag is how many records of topic the pipeline's group has not yet
// committed.
func (m *multiNode) rawLag(ctx context.Context, topic string) (int64, error) {
	ends, err := m.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return -1, err
	}
	committed, err := m.admin.FetchOffsets(ctx, pipeline.Group)
	if err != nil {
		return -1, err
	}
	var lag int64
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		c, _ := committed.Lookup(topic, o.Partition)
		at := max(c.At, 0)
		lag += max(o.Offset-at, 0)
	})
	return lag, lerr
}

func setOf(m map[int]int) map[int]bool {
	s := map[int]bool{}
	for n := range m {
		s[n] = true
	}
	return s
}

// checkAgree checks every node's count, group_by and extraction: exact
// (each acknowledged event once, nothing twice, nothing never sent) and
// the same on every node.
func (m *multiNode) checkAgree(t *testing.T, nodes []*mnNode, when string) {
	t.Helper()
	m.mu.Lock()
	sent, acked := maps.Clone(m.sent), maps.Clone(m.acked)
	m.mu.Unlock()
	var first answer
	for i, n := range nodes {
		a := m.answer(t, n)
		var missing, twice, unknown []int
		for k := range acked {
			if a.extract[k] == 0 {
				missing = append(missing, k)
			}
		}
		wantSrc, wantKind := map[string]int{}, map[string]int{}
		for k, c := range a.extract {
			if c > 1 {
				twice = append(twice, k)
			}
			src, ok := sent[k]
			if !ok {
				unknown = append(unknown, k)
			}
			wantSrc[src]++
			wantKind[fmt.Sprintf("k%d", k%4)]++
		}
		if len(missing)+len(twice)+len(unknown) > 0 {
			t.Fatalf("%s, node %d's extraction: %d acknowledged events missing (e.g. %v), %d more than once (e.g. %v), %d never sent (e.g. %v)",
				when, i, len(missing), head(missing), len(twice), head(twice), len(unknown), head(unknown))
		}
		if a.count != len(a.extract) || !maps.Equal(a.bySrc, wantSrc) || !maps.Equal(a.byKind, wantKind) {
			t.Fatalf("%s, node %d: count %d, group_by src %v, group_by kind %v; its extraction has %d events, by src %v, by kind %v",
				when, i, a.count, a.bySrc, a.byKind, len(a.extract), wantSrc, wantKind)
		}
		if i == 0 {
			first = a
			continue
		}
		if a.count != first.count || !maps.Equal(a.bySrc, first.bySrc) || !maps.Equal(a.extract, first.extract) {
			t.Fatalf("%s, node %d answers count %d (by src %v), node 0 count %d (by src %v)", when, i, a.count, a.bySrc, first.count, first.bySrc)
		}
	}
	t.Logf("%s: %d nodes answer count %d, group_by src %v — exact (%d events acknowledged, %d sent)",
		when, len(nodes), first.count, first.bySrc, len(acked), len(sent))
}

// outConsumer reads the project's outbound topic through a node's Kafka
// Outbound listener (read_committed: the listener forces it) in a group,
// noting when each event arrived.
type outConsumer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	copies  map[int]int
	arrived map[int]time.Time
	times   []time.Time // arrival of each poll with records
	errs    []string
	changed chan struct{}
}

func (m *multiNode) consume(t *testing.T, n *mnNode) *outConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.outbound), kgo.DialTLSConfig(n.tls),
		kgo.SASL(plain.Auth{User: m.pid, Pass: m.read}.AsMechanism()),
		kgo.ConsumerGroup("multinode"), kgo.ConsumeTopics(tenancy.OutboundTopicName("orders")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &outConsumer{cl: cl, cancel: cancel, done: make(chan struct{}), copies: map[int]int{}, arrived: map[int]time.Time{}, changed: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			c.mu.Lock()
			fs.EachError(func(topic string, p int32, err error) {
				if ctx.Err() == nil {
					c.errs = append(c.errs, fmt.Sprintf("%s[%d]: %v", topic, p, err))
				}
			})
			if fs.NumRecords() > 0 {
				c.times = append(c.times, now)
			}
			fs.EachRecord(func(r *kgo.Record) {
				var v struct{ N *int }
				if err := json.Unmarshal(r.Value, &v); err != nil || v.N == nil {
					c.errs = append(c.errs, fmt.Sprintf("not an event of the test: %.200s", r.Value))
					return
				}
				c.copies[*v.N]++
				if _, ok := c.arrived[*v.N]; !ok {
					c.arrived[*v.N] = now
				}
			})
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *outConsumer) close() {
	c.cancel()
	<-c.done
	c.cl.Close()
}

// waitFor waits up to d until every event of want has arrived, and
// returns when the last of them did, or the ones still missing.
func (c *outConsumer) waitFor(want map[int]bool, d time.Duration) (time.Time, []int) {
	deadline := time.After(d)
	for {
		c.mu.Lock()
		var missing []int
		var last time.Time
		for n := range want {
			if at, ok := c.arrived[n]; !ok {
				missing = append(missing, n)
			} else if at.After(last) {
				last = at
			}
		}
		changed := c.changed
		c.mu.Unlock()
		if len(missing) == 0 {
			return last, nil
		}
		select {
		case <-changed:
		case <-deadline:
			slices.Sort(missing)
			return time.Time{}, missing
		}
	}
}

// longestGapAfter is the longest time without records from since until
// the last poll that brought some.
func (c *outConsumer) longestGapAfter(since time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gap time.Duration
	prev := since
	for _, at := range c.times {
		if at.Before(since) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return gap
}

// checkExactlyOnce waits until every stored event has arrived, then checks
// that each arrived once and that nothing else did.
func (c *outConsumer) checkExactlyOnce(t *testing.T, stored map[int]bool) {
	t.Helper()
	if _, missing := c.waitFor(stored, 2*time.Minute); len(missing) > 0 {
		t.Fatalf("the Outbound consumer lacks %d stored events 2 minutes on (e.g. %v)", len(missing), head(missing))
	}
	// Anything published twice or not stored would come with the rest.
	time.Sleep(2 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		t.Fatalf("the Outbound consumer: %d errors, e.g. %s", len(c.errs), c.errs[0])
	}
	var twice, extra []int
	for n, k := range c.copies {
		if k > 1 {
			twice = append(twice, n)
		}
		if !stored[n] {
			extra = append(extra, n)
		}
	}
	if len(twice)+len(extra) > 0 {
		t.Fatalf("the Outbound consumer got %d events more than once (e.g. %v) and %d never stored (e.g. %v)", len(twice), head(twice), len(extra), head(extra))
	}
	t.Logf("the read_committed Outbound consumer got each of the %d stored events exactly once", len(stored))
}
