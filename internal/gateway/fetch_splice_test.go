package gateway

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// The gateway's rule for aborted transactions gives the same answer
// spliced as decoded, rewritten and re-encoded: aborted and control
// batches emptied, committed data batches as the broker sent them.
func TestFetchSpliceCommittedView(t *testing.T) {
	var records []byte
	records = append(records, testBatch(0, 3, 1, attrTransactional)...)   // aborted
	records = append(records, testBatch(3, 2, 2, attrTransactional)...)   // committed
	records = append(records, marker(5, 1, false)...)                     // abort of 1
	records = append(records, marker(6, 2, true)...)                      // commit of 2
	records = append(records, testBatch(7, 200, 0, 0)...)                 // not transactional, long
	records = append(records, testBatch(207, 2, 1, attrTransactional)...) // 1 again, after its abort: committed later
	up := kmsg.NewPtrFetchResponse()
	up.Version = 12
	tp := kmsg.NewFetchResponseTopic()
	tp.Topic = "sluice.out.p1.orders"
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = records
	p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 1, FirstOffset: 0}}
	tp.Partitions = append(tp.Partitions, p)
	up.Topics = append(up.Topics, tp)
	body := up.AppendTo(kbin.AppendInt32(nil, 3))
	body = append(body[:4], append([]byte{0}, body[4:]...)...) // empty header tags

	rw := &kafkaproto.FetchRewrite{Names: map[string]string{"sluice.out.p1.orders": "orders"}, Records: committedEdits}
	var sp kafkaproto.Splicer
	segs, counts, err := sp.Fetch(body, 11, 12, rw)
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.Join(segs, nil)

	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	dec, err := kafkaproto.DecodeResponse(bytes.Clone(body), req, 3)
	if err != nil {
		t.Fatal(err)
	}
	resp, wantCounts := kafkaproto.RewriteFetch(dec.(*kmsg.FetchResponse), rw)
	want := resp.AppendTo(append(kbin.AppendInt32(kbin.AppendInt32(nil, 0), 11), 0))
	copy(want, kbin.AppendInt32(nil, int32(len(want)-4)))
	if !bytes.Equal(got, want) {
		t.Fatalf("spliced answer differs:\n got %x\nwant %x", got, want)
	}
	if counts != wantCounts || counts.Records != 2+200+2 {
		t.Fatalf("counts %+v, re-encoded %+v, want 204 records", counts, wantCounts)
	}
	out := resp.Topics[0].Partitions[0].RecordBatches
	var n int
	for _, s := range summarize(t, out) {
		n += int(s.records)
		if s.attrs&(attrControl) != 0 {
			t.Errorf("a control batch reaches the client: %+v", s)
		}
	}
	if n != 204 {
		t.Fatalf("%d records shown, want 204", n)
	}
}
