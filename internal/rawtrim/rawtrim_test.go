package rawtrim_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/rawtrim"
	"github.com/sluice-io/sluice/internal/tenancy"
)

const pid = "0123456789abcdef01234567"

func TestPlan(t *testing.T) {
	raw := tenancy.RawTopic(pid, "", "clicks")
	p0, p1, p2 := rawtrim.Partition{Topic: raw, Partition: 0}, rawtrim.Partition{Topic: raw, Partition: 1}, rawtrim.Partition{Topic: raw, Partition: 2}
	out := rawtrim.Partition{Topic: "clicks", Partition: 0}
	cases := []struct {
		name             string
		committed, start map[rawtrim.Partition]int64
		want             map[rawtrim.Partition]int64
	}{
		{"committed past the start: trimmed to the commit",
			map[rawtrim.Partition]int64{p0: 10}, map[rawtrim.Partition]int64{p0: 0}, map[rawtrim.Partition]int64{p0: 10}},
		{"already trimmed there", map[rawtrim.Partition]int64{p0: 10}, map[rawtrim.Partition]int64{p0: 10}, map[rawtrim.Partition]int64{}},
		{"start past the commit (retention went further): nothing", map[rawtrim.Partition]int64{p0: 5}, map[rawtrim.Partition]int64{p0: 8}, map[rawtrim.Partition]int64{}},
		{"no start offset known: nothing", map[rawtrim.Partition]int64{p0: 5}, map[rawtrim.Partition]int64{}, map[rawtrim.Partition]int64{}},
		{"nothing committed (-1) or zero: nothing", map[rawtrim.Partition]int64{p0: -1, p1: 0}, map[rawtrim.Partition]int64{p0: 0, p1: 0}, map[rawtrim.Partition]int64{}},
		{"a topic that is not raw is never trimmed", map[rawtrim.Partition]int64{out: 10}, map[rawtrim.Partition]int64{out: 0}, map[rawtrim.Partition]int64{}},
		{"partitions each on their own",
			map[rawtrim.Partition]int64{p0: 3, p1: 7, p2: 1}, map[rawtrim.Partition]int64{p0: 0, p1: 7, p2: 0},
			map[rawtrim.Partition]int64{p0: 3, p2: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rawtrim.Plan(c.committed, c.start); !maps.Equal(got, c.want) {
				t.Fatalf("Plan = %v, want %v", got, c.want)
			}
		})
	}
}

// TestOnceOnTheEmbeddedLog: on the embedded log itself, records below the
// group's committed offsets of raw topics go, and nothing else does: not
// above the commit, not in a partition without one, not in another topic
// the group has committed on.
func TestOnceOnTheEmbeddedLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := embedded.Start(t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(l.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	raw, other := tenancy.RawTopic(pid, "", "clicks"), "not-raw"
	for _, topic := range []string{raw, other} {
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		for part := range int32(2) {
			for i := range 10 {
				// One record per request: one batch each, so the log can
				// trim at any offset.
				r := &kgo.Record{Topic: topic, Partition: part, Value: []byte{byte(i)}}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	const group = "sluice.pipeline"
	var commit kadm.Offsets
	commit.Add(kadm.Offset{Topic: raw, Partition: 0, At: 6, LeaderEpoch: -1})
	commit.Add(kadm.Offset{Topic: other, Partition: 0, At: 6, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, commit); err != nil {
		t.Fatal(err)
	}
	tr := rawtrim.New(adm, group, time.Hour, logger)
	n, err := tr.Once(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Once = %d, %v; want 1 partition trimmed", n, err)
	}
	starts, err := adm.ListStartOffsets(ctx, raw, other)
	if err != nil {
		t.Fatal(err)
	}
	want := map[rawtrim.Partition]int64{{Topic: raw, Partition: 0}: 6, {Topic: raw, Partition: 1}: 0, {Topic: other, Partition: 0}: 0, {Topic: other, Partition: 1}: 0}
	got := map[rawtrim.Partition]int64{}
	starts.Each(func(o kadm.ListedOffset) { got[rawtrim.Partition{Topic: o.Topic, Partition: o.Partition}] = o.Offset })
	if !maps.Equal(got, want) {
		t.Fatalf("start offsets after trimming = %v, want %v", got, want)
	}
	// What remains is readable from the new start, and a second round has
	// nothing left to do.
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{raw: {0: kgo.NewOffset().AtStart()}})
	fs := cl.PollRecords(ctx, 100)
	if recs := fs.Records(); len(recs) == 0 || recs[0].Offset != 6 {
		t.Fatalf("first record after trimming: %d records, want offset 6 first", len(recs))
	}
	if n, err := tr.Once(ctx); err != nil || n != 0 {
		t.Fatalf("second Once = %d, %v; want nothing to do", n, err)
	}
}
