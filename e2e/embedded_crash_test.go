package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestEmbeddedExactlyOnceAcrossSIGKILL: on the embedded log (no
// --kafka-brokers), a producer sends events at a steady rate through Kafka
// Inbound while sluice is killed with SIGKILL and started again, ten times,
// then stopped with SIGTERM once; the producer's client keeps retrying across
// each restart with the same idempotent producer. After every run, the store
// counts each event once, a read_committed consumer of Kafka Outbound gets
// every acknowledged event exactly once, and no outbound partition is stuck
// (every event the store counts is delivered).
func TestEmbeddedExactlyOnceAcrossSIGKILL(t *testing.T) {
	const (
		runs        = 10
		perRun      = 1200
		ratePerSec  = 1500
		orgID       = "0123456789abcdef01234567"
		orgKey      = "embedded-crash-org-key-0123456789"
		collection  = "orders"
		maxRunDelay = 90 * time.Second
	)
	dir := t.TempDir()
	args := append([]string{"serve", "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)
	p := startSluice(t, dir, args...)
	inbound, outbound := addrAfter(t, p, "Kafka Inbound:"), addrAfter(t, p, "Kafka Outbound:")
	proj := createProject(t, p.HTTP, orgID, orgKey, "crash")
	if st, body := httpDo(t, "PUT", p.HTTP+"/3.0/projects/"+proj.ID+"/streams/kafka/outbound", proj.APIKeys["master"], `{"enabled":true}`); st != 200 {
		t.Fatalf("enabling Kafka Outbound: %d %s", st, body)
	}
	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}

	acked := map[int]bool{} // every event a producer was told is written
	failed, next := 0, 0
	failedRuns, prevTwice, prevExcess := 0, 0, 0
	for run := 0; run <= runs; run++ {
		sigterm := run == runs
		// One client for the whole run: its retries cross the restart.
		cl, err := kgo.NewClient(kgo.SeedBrokers(inbound), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: proj.ID, Pass: proj.APIKeys["write"]}.AsMechanism()),
			kgo.RecordDeliveryTimeout(maxRunDelay), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		runFailed := 0
		produced := make(chan struct{})
		go func() {
			defer close(produced)
			tick := time.NewTicker(time.Second / 100)
			defer tick.Stop()
			for i := 0; i < perRun; {
				<-tick.C
				for k := 0; k < ratePerSec/100 && i < perRun; k, i = k+1, i+1 {
					n := next + i
					wg.Add(1)
					cl.Produce(context.Background(), &kgo.Record{Topic: collection, Value: fmt.Appendf(nil, `{"n":%d,"run":%d}`, n, run)},
						func(_ *kgo.Record, err error) {
							defer wg.Done()
							mu.Lock()
							defer mu.Unlock()
							if err != nil {
								runFailed++
								return
							}
							acked[n] = true
						})
				}
			}
		}()
		// Stop sluice somewhere in the middle of the stream.
		time.Sleep(time.Duration(200+rand.IntN(500)) * time.Millisecond)
		if sigterm {
			if code := p.stop(60 * time.Second); code != 0 {
				t.Fatalf("run %d: exit code %d after SIGTERM", run, code)
			}
		} else {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		p = startSluice(t, dir, args...)
		<-produced
		wg.Wait()
		cl.Close()
		next += perRun
		failed += runFailed

		got := consumeOutbound(t, outbound, tlsCfg, proj.ID, proj.APIKeys["read"], collection, len(acked))
		seen := map[int]int{}
		for _, v := range got {
			var ev struct{ N int }
			if err := json.Unmarshal(v, &ev); err != nil {
				t.Fatalf("run %d: outbound value %s: %v", run, v, err)
			}
			seen[ev.N]++
		}
		twice, missing := 0, 0
		for _, c := range seen {
			if c > 1 {
				twice++
			}
		}
		for n := range acked {
			if seen[n] == 0 {
				missing++
			}
		}
		stored := waitCount(t, p.HTTP, proj, collection, len(seen))
		stuck := stuckPartitions(t, p, dir, tenancy.BackendOutboundTopic(proj.ID, collection))
		recovered := 0 // transactions the restart found open (the kill fell inside them)
		for _, l := range p.stderr.all() {
			if strings.Contains(l, "crash recovery: transaction") {
				recovered++
			}
		}
		t.Logf("run %d (%s): %d acked so far, %d not acked, outbound %d records of %d events, %d delivered more than once, %d acked never delivered, store counts %d, stuck outbound partitions %v, open transactions ended at restart %d",
			run, map[bool]string{true: "SIGTERM", false: "SIGKILL"}[sigterm], len(acked), failed, len(got), len(seen), twice, missing, stored, stuck, recovered)
		// Counts are cumulative: a run fails if it added a duplicate or
		// left an acked event undelivered.
		if twice > prevTwice || missing > 0 || stored-len(seen) > prevExcess || len(stuck) > 0 {
			failedRuns++
			t.Errorf("run %d: exactly-once broken: %d events delivered more than once, %d acked events never delivered, the store counts %d events for %d delivered, stuck outbound partitions (last stable offset below the end) %v",
				run, twice, missing, stored, len(seen), stuck)
		}
		prevTwice, prevExcess = twice, stored-len(seen)
	}
	t.Logf("%d of %d runs broke exactly-once", failedRuns, runs+1)
}

// consumeOutbound reads a collection's outbound topic from the start through
// Kafka Outbound (read_committed) until it has want records, or until it
// has been quiet for a few seconds after a minute.
func consumeOutbound(t *testing.T, addr string, tlsCfg *tls.Config, project, key, topic string, want int) [][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(tlsCfg), kgo.SASL(plain.Auth{User: project, Pass: key}.AsMechanism()),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out [][]byte
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && len(out) < want {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	// Whatever else arrives shortly after is a duplicate.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	return out
}

// waitCount waits until the store counts want events of the collection (or a
// minute has passed) and returns the last count.
func waitCount(t *testing.T, base string, proj httpProject, collection string, want int) int {
	t.Helper()
	n := -1
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, body := httpDo(t, "POST", base+"/3.0/projects/"+proj.ID+"/queries/count", proj.APIKeys["read"], fmt.Sprintf(`{"event_collection":%q}`, collection))
		var r struct{ Result int }
		if st == 200 && json.Unmarshal([]byte(body), &r) == nil {
			n = r.Result
			if n >= want {
				return n
			}
		}
	}
	return n
}

// stuckPartitions returns the partitions of the backend topic whose last
// stable offset stays below their end offset for longer than the pipeline's
// transaction timeout (30 s), asking the embedded log directly with the
// credentials sluice keeps in its data dir. It also checks that the log
// answers nothing to a client without them.
func stuckPartitions(t *testing.T, p *proc, dir, topic string) []int32 {
	t.Helper()
	line, ok := p.stdout.wait("backend:", time.Second)
	if !ok {
		t.Fatal("start-up printed no backend line")
	}
	_, addr, _ := strings.Cut(line, "listening on ")
	addr, _, _ = strings.Cut(addr, " ")
	raw, err := os.ReadFile(filepath.Join(dir, "data", "kafka", "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ Username, Password string }
	if err := json.Unmarshal(raw, &creds); err != nil {
		t.Fatal(err)
	}

	intruder, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ictx, icancel := context.WithTimeout(context.Background(), 5*time.Second)
	if _, err := kadm.NewClient(intruder).ListEndOffsets(ictx, topic); err == nil {
		t.Error("the embedded log answered a client without credentials")
	}
	icancel()
	intruder.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: creds.Username, Pass: creds.Password}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var stuck []int32
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ends, err1 := adm.ListEndOffsets(ctx, topic)
		stable, err2 := adm.ListCommittedOffsets(ctx, topic)
		cancel()
		if err1 != nil || err2 != nil {
			t.Fatalf("listing offsets of %s: %v %v", topic, err1, err2)
		}
		stuck = stuck[:0]
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := stable.Lookup(topic, o.Partition); !ok || s.Offset < o.Offset {
				stuck = append(stuck, o.Partition)
			}
		})
		if len(stuck) == 0 || time.Now().After(deadline) {
			return stuck
		}
	}
}
