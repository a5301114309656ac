package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kafkatest"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestBrokerKilledUnderLoad kills, with SIGKILL, the one of three backend
// brokers (RF 3, min.insync.replicas 2) that coordinates the pipeline's
// consumer group, while a producer writes through Kafka Inbound with
// acks=all: every acknowledged event is stored exactly once and published
// exactly once on the outbound stream. The coordinator's death is the hard
// case: the group session can end with an error while a batch holds
// rebalances back, and the batch's commit must then give way (endGrace in
// package pipeline) or wait forever.
func TestBrokerKilledUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// A cluster of its own: the test kills one of its brokers.
	c, err := kafkatest.Start(ctx, kafkatest.Options{Brokers: 3, Props: map[string]string{"min.insync.replicas": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	e := startInboundEnv(t, c, "127.0.0.1")
	p := e.project(t, "broker-failure")
	if st, body := httpDo(t, "PUT", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/streams/kafka/outbound", p.Master, `{"enabled":true}`); st != 200 {
		t.Fatalf("enable outbound: %d %s", st, body)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	victim := groupCoordinator(ctx, t, e)

	// 1,000 events/s for 12 s; the broker dies 4 s in.
	const rate, seconds = 1000, 12
	var mu sync.Mutex
	acked := map[int]bool{}
	var failed int
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	killed := false
	for i := 0; i < rate*seconds; i++ {
		if due := start.Add(time.Duration(i) * time.Second / rate); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		if !killed && time.Since(start) > 4*time.Second {
			killBroker(t, c, victim)
			killed = true
		}
		wg.Add(1)
		n := i
		cl.Produce(ctx, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"n":%d}`, n))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failed++; firstErr == nil {
					firstErr = err
				}
				return
			}
			acked[n] = true
		})
	}
	wg.Wait()
	t.Logf("produced %d events: %d acknowledged, %d failed (first: %v)", rate*seconds, len(acked), failed, firstErr)
	if len(acked) < rate*seconds/2 {
		t.Fatalf("only %d of %d events acknowledged: the surviving brokers should have taken the load", len(acked), rate*seconds)
	}

	// Stored: every acknowledged event, once.
	base := e.sluice.HTTP + "/3.0/projects/" + p.ID
	deadline := time.Now().Add(3 * time.Minute)
	var stored map[int]int
	for {
		stored = storedNs(t, base, p.Read)
		if covers(stored, acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if !covers(stored, acked) {
		// A stalled pipeline shows where it waits: on SIGQUIT Go writes
		// every goroutine's stack to the log printed on failure.
		quitForStacks(e.sluice)
	}
	checkOnce(t, "stored", stored, acked)

	// Published: every stored event, once, read_committed.
	topic := tenancy.BackendOutboundTopic(p.ID, "orders")
	bc, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	published := map[int]int{}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	for total := 0; total < sum(stored) && pctx.Err() == nil; {
		fs := bc.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) {
			var v struct{ N int }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("outbound record %s: %v", r.Value, err)
			}
			published[v.N]++
			total++
		})
	}
	checkOnce(t, "published", published, acked)
	if len(published) != len(stored) {
		t.Fatalf("%d events stored but %d published", len(stored), len(published))
	}
}

// groupCoordinator is the node id of the broker coordinating the
// pipeline's consumer group (the group itself may not exist yet: the
// pipeline joins once a raw topic exists).
func groupCoordinator(ctx context.Context, t *testing.T, e *inboundEnv) int {
	t.Helper()
	for {
		resp, ok := e.admin.FindGroupCoordinators(ctx, pipeline.Group)[pipeline.Group]
		if ok && resp.Err == nil {
			t.Logf("broker %d coordinates the pipeline's group", resp.NodeID)
			return int(resp.NodeID)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("finding the pipeline's group coordinator: %v", resp.Err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quitForStacks sends SIGQUIT to sluice and waits for it to exit.
func quitForStacks(p *proc) {
	if err := p.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
	}
}

// killBroker sends SIGKILL to node k of a kafkatest cluster.
func killBroker(t *testing.T, c *kafkatest.Cluster, k int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("node%d", k), "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed broker %d (pid %d)", k, pid)
}

// storedNs extracts the collection "orders" and counts each event's n.
func storedNs(t *testing.T, base, readKey string) map[int]int {
	t.Helper()
	st, body := httpDo(t, "GET", base+"/queries/extraction?event_collection=orders", readKey, "")
	if st != 200 {
		t.Fatalf("extraction: %d %.300s", st, body)
	}
	var res struct{ Result []struct{ N int } }
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("extraction: %v", err)
	}
	out := map[int]int{}
	for _, ev := range res.Result {
		out[ev.N]++
	}
	return out
}

func covers(got map[int]int, want map[int]bool) bool {
	for n := range want {
		if got[n] == 0 {
			return false
		}
	}
	return true
}

// checkOnce fails unless every wanted n occurs and no n occurs twice.
func checkOnce(t *testing.T, what string, got map[int]int, want map[int]bool) {
	t.Helper()
	var missing, twice []int
	for n := range want {
		if got[n] == 0 {
			missing = append(missing, n)
		}
	}
	for n, k := range got {
		if k > 1 {
			twice = append(twice, n)
		}
	}
	if len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("%s: %d acknowledged events missing (e.g. %v), %d more than once (e.g. %v)",
			what, len(missing), head(missing), len(twice), head(twice))
	}
	t.Logf("%s: all %d acknowledged events exactly once (%d in all)", what, len(want), len(got))
}

func sum(m map[int]int) int {
	s := 0
	for _, k := range m {
		s += k
	}
	return s
}

func head(s []int) []int { return s[:min(5, len(s))] }
