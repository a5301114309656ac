package kfake

// SLUICE: tests of sluice_recovery.go (see SLUICE.md). Run them with
// go test github.com/twmb/franz-go/pkg/kfake -run Sluice from sluice's module.

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// crashMidCommit opens a transaction with one record on each of the two
// partitions of topic t and an offset staged for group g, then stops the
// commit the way a crash would: the prepare entry written or not, the COMMIT
// marker written on partition 0 only, the offset not committed. The cluster
// is then abandoned without Close.
func crashMidCommit(t *testing.T, dir string, prepared bool) {
	t.Helper()
	c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1), SeedTopics(2, "t"))
	cl := newPlainClient(t, c, kgo.TransactionalID("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.admin(func() {
		pidinf := c.pids.byTxid["tx"]
		pidinf.txGroups = append(pidinf.txGroups, "g")
		var offs tps[offsetCommit]
		offs.set("t", 0, offsetCommit{offset: 5, leaderEpoch: -1})
		pidinf.txOffsets = map[string]tps[offsetCommit]{"g": offs}
		if prepared {
			c.persistPIDEntry(pidinf.prepareEntry())
		}
		pd, _ := c.data.tps.getp("t", 0)
		b, n := txnMarkerBatch(pidinf.id, pidinf.epoch, true, 0)
		c.pushBatch(pd, n, b, false)
	})
}

func readCommitted(t *testing.T, c *Cluster, n int) int {
	t.Helper()
	cl := newPlainClient(t, c, kgo.ConsumeTopics("t"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	got := 0
	for got < n && ctx.Err() == nil {
		got += cl.PollFetches(ctx).NumRecords()
	}
	return got
}

func stable(t *testing.T, c *Cluster) {
	t.Helper()
	for p := range int32(2) {
		pd, _ := c.data.tps.getp("t", p)
		if pd.lastStableOffset != pd.highWatermark {
			t.Errorf("partition %d: last stable offset %d, end %d", p, pd.lastStableOffset, pd.highWatermark)
		}
	}
}

// TestSluiceCrashMidCommitIsCompleted: a commit whose decision was logged is
// completed at the next start on the partition that missed its marker, and
// its offsets are committed.
func TestSluiceCrashMidCommitIsCompleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	crashMidCommit(t, dir, true)

	c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1))
	if got := readCommitted(t, c, 2); got != 2 {
		t.Fatalf("read_committed sees %d of the transaction's 2 records", got)
	}
	if o, ok := groupCommits(c, "g")["t"][0]; !ok || o.Offset != 5 {
		t.Fatalf("the transaction's offset was not committed: %+v %v", o, ok)
	}
	stable(t, c)
}

// TestSluiceCrashBeforeCommitDecisionAborts: without the logged decision the
// open part of the transaction is aborted with a marker (the partition that
// got its COMMIT marker before the crash keeps it: that is why the decision is
// logged first), and the partitions are stable.
func TestSluiceCrashBeforeCommitDecisionAborts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	crashMidCommit(t, dir, false)

	c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1))
	if got := readCommitted(t, c, 2); got != 1 {
		t.Fatalf("read_committed sees %d records, want the 1 of partition 0", got)
	}
	if _, ok := groupCommits(c, "g")["t"][0]; ok {
		t.Fatal("an offset of an aborted transaction was committed")
	}
	stable(t, c)
	pd, _ := c.data.tps.getp("t", 1)
	if len(pd.abortedTxns) != 1 || pd.abortedTxns[0].lastOffset != pd.highWatermark-1 {
		t.Fatalf("partition 1: aborted %+v, end %d: want one range ending at an abort marker", pd.abortedTxns, pd.highWatermark)
	}
}
