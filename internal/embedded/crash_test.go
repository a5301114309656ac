package embedded

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCrashChild is not a test: it is the process the crash tests kill. It
// runs the embedded log in the directory named by SLUICE_EMBEDDED_CHILD and
// prints its address.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("SLUICE_EMBEDDED_CHILD")
	if dir == "" {
		t.Skip("run by the crash tests only")
	}
	log, err := Start(dir, quiet())
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("addr:", log.Addrs()[0])
	select {}
}

// crashChild is an embedded log in another process, to be killed.
type crashChild struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir string) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "SLUICE_EMBEDDED_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashChild{cmd: cmd}
	t.Cleanup(c.kill)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "addr: "); ok {
			c.addr = a
			go func() {
				for sc.Scan() {
				}
			}()
			return c
		}
	}
	t.Fatal("the embedded log process printed no address")
	return nil
}

// kill is SIGKILL: nothing is flushed or closed.
func (c *crashChild) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestCrashInsideATransaction: a transaction open when the log is killed is
// aborted at the next start with a real ABORT marker, so a read_committed
// consumer sees the producer's next transactions (without the marker it
// skips every later batch of that producer id, for good).
func TestCrashInsideATransaction(t *testing.T) {
	dir := t.TempDir()
	child := startChild(t, dir)
	const topic = "t"
	admin := client(t, child.addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 1
	create.Topics = append(create.Topics, ct)
	if _, err := create.RequestWith(ctx(t), admin); err != nil {
		t.Fatal(err)
	}

	txn := func(addr string, value string, commit bool) {
		t.Helper()
		cl := client(t, addr, kgo.TransactionalID("crash-txn"), kgo.DefaultProduceTopic(topic))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx(t), kgo.StringRecord(value)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := cl.EndTransaction(ctx(t), kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	txn(child.addr, "committed before", true)
	txn(child.addr, "open at the crash", false)
	child.kill()

	child = startChild(t, dir)
	txn(child.addr, "committed after", true)

	cons := client(t, child.addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got) < 2 && c.Err() == nil {
		cons.PollFetches(c).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != "committed before,committed after" {
		t.Fatalf("read_committed consumer got %q, want the two committed records", got)
	}
}

// TestCrashAfterAWriteBeforeItsAck: an idempotent producer's retry of a batch
// that was written just before a crash is recognized as a duplicate after
// the restart (its sequence window is rebuilt from the log) instead of being
// appended a second time.
func TestCrashAfterAWriteBeforeItsAck(t *testing.T) {
	dir := t.TempDir()
	child := startChild(t, dir)
	const topic = "t"
	cl := client(t, child.addr)
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 1
	create.Topics = append(create.Topics, ct)
	created, err := create.RequestWith(ctx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	topicID := created.Topics[0].TopicID
	initReq := kmsg.NewPtrInitProducerIDRequest()
	initResp, err := initReq.RequestWith(ctx(t), cl)
	if err != nil || initResp.ErrorCode != 0 {
		t.Fatalf("InitProducerID: %v %v", err, initResp)
	}
	produce := func(cl *kgo.Client, seq int32) (offset int64) {
		t.Helper()
		rec := kmsg.NewRecord()
		rec.Value = fmt.Appendf(nil, "record %d", seq)
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		b := kmsg.NewRecordBatch()
		b.Magic, b.ProducerID, b.ProducerEpoch, b.FirstSequence, b.NumRecords = 2, initResp.ProducerID, initResp.ProducerEpoch, seq, 1
		b.FirstTimestamp, b.MaxTimestamp = time.Now().UnixMilli(), time.Now().UnixMilli()
		b.Records = rec.AppendTo(nil)
		raw := b.AppendTo(nil)
		b.Length = int32(len(raw) - 12)
		b.CRC = int32(crc32c(raw[21:]))
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = b.AppendTo(nil)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx(t), cl)
		if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce seq %d: %v %+v", seq, err, resp)
		}
		return resp.Topics[0].Partitions[0].BaseOffset
	}
	produce(cl, 0)
	second := produce(cl, 1) // its answer "lost" by the crash below
	child.kill()

	child = startChild(t, dir)
	cl = client(t, child.addr)
	if retry := produce(cl, 1); retry != second {
		t.Fatalf("the retried batch was stored again at offset %d (first at %d)", retry, second)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	loResp, err := lo.RequestWith(ctx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if end := loResp.Topics[0].Partitions[0].Offset; end != 2 {
		t.Fatalf("end offset %d after the retry, want 2", end)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
