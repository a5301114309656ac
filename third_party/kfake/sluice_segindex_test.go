package kfake

// SLUICE: tests of the eviction of sealed segments' indexes (SLUICE.md,
// change 4).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keepSealedIndexes keeps every sealed segment's index in memory, as
// upstream kfake does.
func keepSealedIndexes() Opt { return opt{func(cfg *cfg) { cfg.keepSealedIndexes = true }} }

const segIdxTopic = "segidx"

// TestSluiceSealedIndexesAnswerAsBefore runs the same traffic against a log
// that evicts sealed segments' indexes and one that keeps them (upstream's
// behaviour), with segments small enough to roll every few batches, and
// compares everything a client can ask, and each segment's index entry by
// entry: after producing (plain records and transactions, some aborted,
// interleaved with plain records, timestamps not monotonic), after
// DeleteRecords into the middle of a sealed segment, after a clean restart
// (loaded from snapshots), after a restart replaying the segments (as after
// a crash), and after time and size retention.
func TestSluiceSealedIndexesAnswerAsBefore(t *testing.T) {
	t.Parallel()
	now := time.Now().UnixMilli()
	evicting := newSegIdxLog(t, false)
	keeping := newSegIdxLog(t, true)
	for _, l := range []*segIdxLog{evicting, keeping} {
		l.produce(t, now)
	}

	compare := func(when string) {
		t.Helper()
		got, want := evicting.answers(t, now), keeping.answers(t, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the evicting log answers differently:\n%s", when, firstDiff(got, want))
		}
		if errs := evicting.errors.get(); len(errs) > 0 {
			t.Fatalf("%s: the evicting log logged errors: %q", when, errs)
		}
		segs, warm := evicting.residentIndexes()
		if segs < 5 {
			t.Fatalf("%s: %d segments; the test needs many sealed segments", when, segs)
		}
		if warm > warmSealedSegments {
			t.Fatalf("%s: %d sealed segments keep their index, at most %d should", when, warm, warmSealedSegments)
		}
		t.Logf("%s: %d segments, %d sealed ones with their index in memory; %d batches (%d bytes), %d records visible read_committed",
			when, segs, warm, len(got.Index), got.NBytes, len(got.Committed))
	}
	compare("after producing")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.deleteRecords(t, 137)
	}
	compare("after DeleteRecords to offset 137")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.restart(t, false)
	}
	compare("after a clean restart")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.restart(t, true)
	}
	compare("after a restart replaying the segments")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.restartWithTornFile(t)
	}
	compare("after a restart with a torn segment file at the end")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.producePlain(t, now, 400, 30)
	}
	compare("after more records")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.c.ApplyRetention() // default retention.ms, 7 days: the old records go
	}
	compare("after time retention")

	for _, l := range []*segIdxLog{evicting, keeping} {
		l.alterRetentionBytes(t, 20000)
		l.c.ApplyRetention()
	}
	compare("after size retention")
}

type segIdxLog struct {
	dir    string
	opts   []Opt
	c      *Cluster
	errors errorLog
}

// errorLog records the log's errors: reading an index back must not log any.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Logf(level LogLevel, msg string, args ...any) {
	if level == LogLevelError {
		l.mu.Lock()
		l.lines = append(l.lines, fmt.Sprintf(msg, args...))
		l.mu.Unlock()
	}
}

func (l *errorLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func newSegIdxLog(t *testing.T, keep bool) *segIdxLog {
	l := &segIdxLog{dir: t.TempDir()}
	l.opts = []Opt{
		NumBrokers(1),
		DataDir(l.dir),
		SeedTopics(1, segIdxTopic),
		BrokerConfigs(map[string]string{"log.segment.bytes": "2048"}),
		WithLogger(&l.errors),
	}
	if keep {
		l.opts = append(l.opts, keepSealedIndexes())
	}
	l.start(t)
	return l
}

func (l *segIdxLog) start(t *testing.T) {
	t.Helper()
	c, err := NewCluster(l.opts...)
	if err != nil {
		t.Fatal(err)
	}
	l.c = c
	t.Cleanup(func() { l.c.Close() })
}

// restart closes the log and opens it again; replay removes the partition's
// snapshot first, so its segments are replayed as after a crash.
func (l *segIdxLog) restart(t *testing.T, replay bool) {
	t.Helper()
	l.c.Close()
	if replay {
		if err := os.Remove(filepath.Join(partDir(l.dir, segIdxTopic, 0), "snapshot.json")); err != nil {
			t.Fatal(err)
		}
	}
	l.start(t)
}

// produce writes 400 records: plain ones and, every 20, a transaction of 3
// records interleaved with 3 plain ones, a third of the transactions
// aborted. Every 7th record's timestamp goes back 500 ms.
func (l *segIdxLog) produce(t *testing.T, now int64) {
	t.Helper()
	plain := newPlainClient(t, l.c, kgo.DefaultProduceTopic(segIdxTopic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	txn := newPlainClient(t, l.c, kgo.DefaultProduceTopic(segIdxTopic), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.TransactionalID("segidx-txn"))
	ctx := context.Background()
	for i := range 400 {
		r := &kgo.Record{
			Key:       []byte("k" + strconv.Itoa(i)),
			Value:     []byte(strings.Repeat("v", 40+(i*37)%200)),
			Timestamp: time.UnixMilli(segIdxTimestamp(now, i)),
		}
		inTxn := i%20 < 6
		if i%20 == 0 {
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		if inTxn && i%2 == 0 {
			produceSync(t, txn, r)
		} else {
			produceSync(t, plain, r)
		}
		if i%20 == 5 {
			commit := kgo.TransactionEndTry((i/20)%3 != 0)
			if err := txn.EndTransaction(ctx, commit); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// segIdxTimestamp is record i's timestamp: 10 days old for the first 250,
// a day ahead for the others (the transaction markers carry the broker's
// clock, which answers normalizes as it differs between the two logs).
// restartWithTornFile closes the log, adds a segment file after the last one
// holding only a torn batch (cut off at load: the file before it becomes the
// active segment again) and opens the log again.
func (l *segIdxLog) restartWithTornFile(t *testing.T) {
	t.Helper()
	var hwm int64
	l.c.admin(func() {
		pd, _ := l.c.data.tps.getp(segIdxTopic, 0)
		hwm = pd.highWatermark
	})
	l.c.Close()
	pdir := partDir(l.dir, segIdxTopic, 0)
	if err := os.WriteFile(filepath.Join(pdir, segmentFileName(hwm)), []byte("torn batch"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.start(t)
}

// producePlain produces n plain records, from record number first on.
func (l *segIdxLog) producePlain(t *testing.T, now int64, first, n int) {
	t.Helper()
	cl := newPlainClient(t, l.c, kgo.DefaultProduceTopic(segIdxTopic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := first; i < first+n; i++ {
		produceSync(t, cl, &kgo.Record{
			Key:       []byte("k" + strconv.Itoa(i)),
			Value:     []byte(strings.Repeat("w", 40+(i*37)%200)),
			Timestamp: time.UnixMilli(segIdxTimestamp(now, i)),
		})
	}
}

func segIdxTimestamp(now int64, i int) int64 {
	day := 24 * time.Hour.Milliseconds()
	ts := now + day + int64(i)*10
	if i < 250 {
		ts = now - 10*day + int64(i)*10
	}
	if i%7 == 0 {
		ts -= 500
	}
	return ts
}

func (l *segIdxLog) deleteRecords(t *testing.T, to int64) {
	t.Helper()
	cl := newPlainClient(t, l.c)
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = segIdxTopic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = to
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("DeleteRecords: error code %d", code)
	}
}

func (l *segIdxLog) alterRetentionBytes(t *testing.T, n int) {
	t.Helper()
	cl := newPlainClient(t, l.c)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeTopic
	r.ResourceName = segIdxTopic
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name = "retention.bytes"
	cfg.Value = kmsg.StringPtr(strconv.Itoa(n))
	r.Configs = append(r.Configs, cfg)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Resources[0].ErrorCode; code != 0 {
		t.Fatalf("IncrementalAlterConfigs: error code %d", code)
	}
}

// residentIndexes counts the partition's segments and the sealed ones whose
// index is in memory.
func (l *segIdxLog) residentIndexes() (segs, warm int) {
	l.c.admin(func() {
		pd, _ := l.c.data.tps.getp(segIdxTopic, 0)
		segs = len(pd.segments)
		for i := range len(pd.segments) - 1 {
			if pd.segments[i].index != nil {
				warm++
			}
		}
	})
	return segs, warm
}

type (
	segIdxAnswers struct {
		HWM, LSO, LogStart int64
		NBytes             int64
		Uncommitted        []segIdxRecord
		Committed          []segIdxRecord
		Fetches            []segIdxFetch
		Listed             []segIdxListed
		Index              []batchMeta // every segment's, in order, producer ids numbered
	}
	segIdxRecord struct {
		Offset, Timestamp int64
		Key               string
		ValueLen          int
	}
	segIdxFetch struct {
		Offset                     int64
		ReadCommitted              bool
		ErrorCode                  int16
		HWM, LSO, LogStart         int64
		Batches                    [][3]int64 // first offset, records, max timestamp
		AbortedPIDs, AbortedFirsts []int64
	}
	segIdxListed struct {
		Timestamp       int64
		ReadCommitted   bool
		ErrorCode       int16
		Offset          int64
		LeaderEpoch     int32
		TimestampAnswer int64
	}
)

// answers is everything compared between the two logs.
func (l *segIdxLog) answers(t *testing.T, now int64) segIdxAnswers {
	t.Helper()
	var a segIdxAnswers
	// A timestamp of the test's run is a marker's (broker clock).
	wall := func(ts int64) int64 {
		if ts > now-time.Minute.Milliseconds() && ts < now+time.Hour.Milliseconds() {
			return -42
		}
		return ts
	}
	pids := map[int64]int64{-1: -1}
	pidNo := func(pid int64) int64 {
		if n, ok := pids[pid]; ok {
			return n
		}
		pids[pid] = int64(len(pids))
		return pids[pid]
	}
	l.c.admin(func() {
		pd, _ := l.c.data.tps.getp(segIdxTopic, 0)
		a.HWM, a.LSO, a.LogStart, a.NBytes = pd.highWatermark, pd.lastStableOffset, pd.logStartOffset, pd.nbytes
		if err := pd.eachBatchMeta(func(_, _ int, m *batchMeta) bool {
			e := *m
			e.producerID = pidNo(e.producerID)
			e.firstTimestamp, e.maxTimestamp, e.maxEarlierTimestamp = wall(e.firstTimestamp), wall(e.maxTimestamp), wall(e.maxEarlierTimestamp)
			a.Index = append(a.Index, e)
			return true
		}); err != nil {
			t.Error(err)
		}
	})

	a.Uncommitted = l.consumeAll(t, a.LogStart, a.HWM, kgo.ReadUncommitted())
	a.Committed = l.consumeAll(t, a.LogStart, a.LSO, kgo.ReadCommitted())

	cl := newPlainClient(t, l.c)
	for o := a.LogStart - 1; o <= a.HWM+1; o += 7 {
		for _, rc := range []bool{false, true} {
			f := l.rawFetch(t, cl, o, rc, pidNo)
			for i := range f.Batches {
				f.Batches[i][2] = wall(f.Batches[i][2])
			}
			a.Fetches = append(a.Fetches, f)
		}
	}
	tss := []int64{-1, -2, -3, 0, now, now + 2*24*time.Hour.Milliseconds()}
	for i := 0; i < 430; i += 3 {
		ts := segIdxTimestamp(now, i)
		tss = append(tss, ts-1, ts, ts+1)
	}
	for _, ts := range tss {
		for _, rc := range []bool{false, true} {
			ls := l.listOffset(t, cl, ts, rc)
			ls.TimestampAnswer = wall(ls.TimestampAnswer)
			a.Listed = append(a.Listed, ls)
		}
	}
	return a
}

// consumeAll reads [from, to) with a consumer of the given isolation. The
// last record produced is a plain one, so both isolations reach to-1.
func (l *segIdxLog) consumeAll(t *testing.T, from, to int64, isolation kgo.IsolationLevel) []segIdxRecord {
	t.Helper()
	cl := newPlainClient(t, l.c,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{segIdxTopic: {0: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(isolation),
		kgo.FetchMaxPartitionBytes(1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rs []segIdxRecord
	for next := from; next < to; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consuming from %d to %d (at %d): %v", from, to, next, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			rs = append(rs, segIdxRecord{r.Offset, r.Timestamp.UnixMilli(), string(r.Key), len(r.Value)})
			next = r.Offset + 1
		})
	}
	return rs
}

func (l *segIdxLog) rawFetch(t *testing.T, cl *kgo.Client, o int64, readCommitted bool, pidNo func(int64) int64) segIdxFetch {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MaxBytes = 1 << 20
	if readCommitted {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = segIdxTopic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = o
	rp.PartitionMaxBytes = 700
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	f := segIdxFetch{Offset: o, ReadCommitted: readCommitted, ErrorCode: p.ErrorCode, HWM: p.HighWatermark, LSO: p.LastStableOffset, LogStart: p.LogStartOffset}
	for _, at := range p.AbortedTransactions {
		f.AbortedPIDs = append(f.AbortedPIDs, pidNo(at.ProducerID))
		f.AbortedFirsts = append(f.AbortedFirsts, at.FirstOffset)
	}
	for raw := p.RecordBatches; len(raw) > 0; {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("fetch at %d: %v", o, err)
		}
		f.Batches = append(f.Batches, [3]int64{b.FirstOffset, int64(b.NumRecords), b.MaxTimestamp})
		raw = raw[12+int(b.Length):]
	}
	return f
}

func (l *segIdxLog) listOffset(t *testing.T, cl *kgo.Client, ts int64, readCommitted bool) segIdxListed {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if readCommitted {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = segIdxTopic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	return segIdxListed{Timestamp: ts, ReadCommitted: readCommitted, ErrorCode: p.ErrorCode, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, TimestampAnswer: p.Timestamp}
}

// firstDiff describes the first difference between two answers.
func firstDiff(got, want segIdxAnswers) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if reflect.DeepEqual(g, w) {
			continue
		}
		if gv.Field(i).Kind() == reflect.Slice {
			gs, ws := gv.Field(i), wv.Field(i)
			for j := range min(gs.Len(), ws.Len()) {
				if !reflect.DeepEqual(gs.Index(j).Interface(), ws.Index(j).Interface()) {
					return fmt.Sprintf("%s[%d]: got %+v, want %+v", name, j, gs.Index(j).Interface(), ws.Index(j).Interface())
				}
			}
			return fmt.Sprintf("%s: got %d entries, want %d", name, gs.Len(), ws.Len())
		}
		return fmt.Sprintf("%s: got %+v, want %+v", name, g, w)
	}
	return "no difference"
}

// TestSluiceSealedIndexMemory measures the heap the index takes per batch
// with sealed segments' indexes evicted and kept: a figure for SLUICE.md and
// docs/embedded.md (go test -run TestSluiceSealedIndexMemory -v). It checks
// only what does not depend on the garbage collector: the index entries in
// memory are those of the active segment and at most warmSealedSegments
// sealed ones.
func TestSluiceSealedIndexMemory(t *testing.T) {
	const batches = 200_000
	for _, keep := range []bool{false, true} {
		opts := []Opt{NumBrokers(1), DataDir(t.TempDir()), SeedTopics(1, "mem"),
			BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(256 << 10)})}
		if keep {
			opts = append(opts, keepSealedIndexes())
		}
		c, err := NewCluster(opts...)
		if err != nil {
			t.Fatal(err)
		}
		heap := func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		var entries, segs, perSeg int
		c.admin(func() {
			pd, _ := c.data.tps.getp("mem", 0)
			for range batches {
				b := makeTestBatch(pd.highWatermark, 1)
				c.pushBatch(pd, b.nbytes, b.RecordBatch, false)
			}
			segs = len(pd.segments)
			perSeg = pd.segments[0].n
			for i := range pd.segments {
				entries += len(pd.segments[i].index)
			}
		})
		after := heap()
		c.Close()
		grown := int64(after) - int64(before)
		resident := int64(entries) * int64(unsafe.Sizeof(batchMeta{}))
		t.Logf("keep sealed indexes=%v: %d batches in %d segments (%d batches each), %d index entries in memory (%d bytes); heap grew %d bytes, %.1f per batch",
			keep, batches, segs, perSeg, entries, resident, grown, float64(grown)/batches)
		if !keep {
			t.Logf("evicting: %.2f bytes of heap per evicted batch beyond the entries in memory", float64(grown-resident)/float64(batches-entries))
		}
		if !keep && entries > (1+warmSealedSegments)*perSeg {
			t.Fatalf("%d index entries in memory, at most %d expected", entries, (1+warmSealedSegments)*perSeg)
		}
		if keep && entries != batches {
			t.Fatalf("keeping every index: %d entries, want %d", entries, batches)
		}
	}
}
