package pipeline

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// planBatch groups a poll's partitions by project, the projects with the
// fewest records first (fetch order among equals), and leaves out empty
// partitions and topics that are no raw topics.
func TestPlanBatch(t *testing.T) {
	part := func(p int32, n int) kgo.FetchPartition {
		fp := kgo.FetchPartition{Partition: p}
		for i := range n {
			fp.Records = append(fp.Records, &kgo.Record{Offset: int64(i)})
		}
		return fp
	}
	raw := func(pid, coll string) string { return tenancy.RawTopic(pid, "", coll) }
	topic := func(name string, parts ...kgo.FetchPartition) kgo.FetchTopic {
		return kgo.FetchTopic{Topic: name, Partitions: parts}
	}
	// got lists each project as "id: records [topic/partition …]".
	got := func(b *batch) []string {
		out := []string{}
		for _, pb := range b.projects {
			s := fmt.Sprintf("%s: %d", pb.id, pb.records)
			for _, fp := range pb.parts {
				s += fmt.Sprintf(" %s/%d", fp.Topic, fp.Partition)
			}
			out = append(out, s)
		}
		return out
	}
	flood, quiet, other := "f100000000000000000000aa", "a200000000000000000000bb", "b300000000000000000000cc"
	for _, tc := range []struct {
		name    string
		fetches kgo.Fetches
		want    []string
	}{
		{"empty", kgo.Fetches{}, []string{}},
		{"the quiet project first, whatever the fetch order",
			kgo.Fetches{{Topics: []kgo.FetchTopic{
				topic(raw(flood, "a"), part(0, 500), part(1, 400)),
				topic(raw(quiet, "b"), part(3, 2)),
				topic(raw(flood, "c"), part(0, 10)),
			}}},
			[]string{
				quiet + ": 2 " + raw(quiet, "b") + "/3",
				flood + ": 910 " + raw(flood, "a") + "/0 " + raw(flood, "a") + "/1 " + raw(flood, "c") + "/0",
			}},
		{"equal sizes keep the fetch order; empty partitions and other topics left out",
			kgo.Fetches{{Topics: []kgo.FetchTopic{
				topic(raw(other, "x"), part(0, 3), part(1, 0)),
				topic("not-a-raw-topic", part(0, 1)),
				topic(raw(quiet, "y"), part(2, 3)),
			}}, {Topics: []kgo.FetchTopic{topic(raw(flood, "z"), part(0, 0))}}},
			[]string{
				other + ": 3 " + raw(other, "x") + "/0",
				quiet + ": 3 " + raw(quiet, "y") + "/2",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if g := got(planBatch(tc.fetches)); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("planBatch:\n got %q\nwant %q", g, tc.want)
			}
		})
	}
}
