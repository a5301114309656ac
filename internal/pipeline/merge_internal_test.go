package pipeline

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMergeFetches(t *testing.T) {
	rec := func(off int64) *kgo.Record { return &kgo.Record{Offset: off} }
	part := func(p int32, offs ...int64) kgo.FetchPartition {
		fp := kgo.FetchPartition{Partition: p}
		for _, o := range offs {
			fp.Records = append(fp.Records, rec(o))
		}
		return fp
	}
	fetch := func(topics ...kgo.FetchTopic) kgo.Fetches { return kgo.Fetches{{Topics: topics}} }
	topic := func(name string, parts ...kgo.FetchPartition) kgo.FetchTopic {
		return kgo.FetchTopic{Topic: name, Partitions: parts}
	}
	// offsets gives topic → partition → offsets, and how often each
	// partition appears.
	type view map[string]map[int32][]int64
	see := func(fs kgo.Fetches) (view, int) {
		v, n := view{}, 0
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			n++
			if v[fp.Topic] == nil {
				v[fp.Topic] = map[int32][]int64{}
			}
			for _, r := range fp.Records {
				v[fp.Topic][fp.Partition] = append(v[fp.Topic][fp.Partition], r.Offset)
			}
			if len(fp.Records) == 0 {
				v[fp.Topic][fp.Partition] = []int64{}
			}
		})
		return v, n
	}
	broken := errors.New("corrupt batch")
	for _, tc := range []struct {
		name  string
		a, b  kgo.Fetches
		want  view
		parts int
		errs  int
	}{
		{"the second empty", fetch(topic("t", part(0, 1, 2))), nil, view{"t": {0: {1, 2}}}, 1, 0},
		{"the same partition: one entry, in order", fetch(topic("t", part(0, 1, 2), part(1, 5))), fetch(topic("t", part(0, 3, 4))),
			view{"t": {0: {1, 2, 3, 4}, 1: {5}}}, 2, 0},
		{"new topics and partitions are added", fetch(topic("t", part(0, 1))), fetch(topic("u", part(2, 7)), topic("t", part(3, 9))),
			view{"t": {0: {1}, 3: {9}}, "u": {2: {7}}}, 3, 0},
		{"the poll's own deadline is left out", fetch(topic("t", part(0, 1))), kgo.NewErrFetch(context.DeadlineExceeded),
			view{"t": {0: {1}}}, 1, 0},
		{"a partition's error is kept", fetch(topic("t", part(0, 1))), fetch(topic("t", kgo.FetchPartition{Partition: 0, Err: broken})),
			view{"t": {0: {1}}}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeFetches(tc.a, tc.b)
			v, n := see(got)
			if !reflect.DeepEqual(v, tc.want) || n != tc.parts {
				t.Fatalf("merged %v in %d partition entries, want %v in %d", v, n, tc.want, tc.parts)
			}
			errs := 0
			got.EachError(func(_ string, _ int32, err error) {
				if errors.Is(err, broken) {
					errs++
				}
			})
			if errs != tc.errs {
				t.Fatalf("%d errors kept, want %d", errs, tc.errs)
			}
		})
	}
}
