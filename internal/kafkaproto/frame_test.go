package kafkaproto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The size hint covers a fetch answer's encoding, so encoding it never
// grows the buffer, at every version.
func TestFetchSizeHint(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	for i := range 3 {
		tp := kmsg.NewFetchResponseTopic()
		tp.Topic = strings.Repeat("t", 40+i)
		for j := range 9 {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = int32(j)
			p.RecordBatches = make([]byte, 1000*(j+1))
			p.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, j)
			tp.Partitions = append(tp.Partitions, p)
		}
		resp.Topics = append(resp.Topics, tp)
	}
	for v := int16(4); v <= resp.MaxVersion(); v++ {
		resp.Version = v
		hint := sizeHint(resp)
		if n := len(appendResponse(nil, 1, resp)); n > hint || hint > n+4096 {
			t.Errorf("v%d: hint %d for %d bytes", v, hint, n)
		}
	}
	var bp bufPool
	frame, release := bp.encodeResponse(7, resp)
	if !bytes.Equal(frame, appendResponse(nil, 7, resp)) {
		t.Fatal("pooled encoding differs")
	}
	release()
}
