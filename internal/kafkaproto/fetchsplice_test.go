package kafkaproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// backendFetch is a Fetch response as a backend sends it, after the size
// prefix: correlation id, header tags when flexible, body, then extra.
func backendFetch(resp *kmsg.FetchResponse, corr int32, headerTags, extra []byte) []byte {
	b := kbin.AppendInt32(nil, corr)
	if resp.IsFlexible() {
		if headerTags == nil {
			headerTags = []byte{0}
		}
		b = append(b, headerTags...)
	}
	b = resp.AppendTo(b)
	return append(b, extra...)
}

// decodeFetch decodes a backend's Fetch response (after its size prefix).
func decodeFetch(body []byte, version int16, corr int32) (*kmsg.FetchResponse, error) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	resp, err := DecodeResponse(body, req, corr)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.FetchResponse), nil
}

// fetchReference is the decode→rewrite→encode result for body (copied
// first: the rewrite edits records in place).
func fetchReference(t testing.TB, body []byte, version int16, corr int32, rw *FetchRewrite) ([]byte, FetchCounts) {
	t.Helper()
	up, err := decodeFetch(bytes.Clone(body), version, 5)
	if err != nil {
		t.Fatalf("decoding the backend's response: %v", err)
	}
	resp, counts := RewriteFetch(up, rw)
	return appendResponse(nil, corr, resp), counts
}

// decodeAnswer decodes an answer frame (size prefix included).
func decodeAnswer(t testing.TB, b []byte, version int16, corr int32) *kmsg.FetchResponse {
	t.Helper()
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("size prefix does not match the %d bytes", len(b))
	}
	resp, err := decodeFetch(b[4:], version, corr)
	if err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
	return resp
}

// testRewrite asks for topics a and b (ids 1 and 2), refuses nothing,
// shows node 1 at gw:9001 and hides node 2, and edits records (testEdits).
func testRewrite() *FetchRewrite {
	return &FetchRewrite{
		Names:   map[string]string{"sluice.out.p1.a": "a", "sluice.out.p1.b": "b"},
		IDs:     map[[16]byte]bool{{1}: true, {2}: true},
		Records: testEdits,
		Broker: func(node int32) (string, int32, bool) {
			return "gw", 9000 + node, node%2 == 1
		},
	}
}

// testEdits shrinks records[2:6] to "xy" and, past inlineBelow, grows 10
// bytes to 12, so runs on both sides of each edit are long; the data
// records are len(records) % 7 (any number both ways agree on).
func testEdits(records []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, e *RecordEdits) int {
	if len(records) >= 8 {
		e.Replace(2, 6, []byte("xy"))
	}
	if len(records) >= inlineBelow+100 {
		e.Replace(inlineBelow+10, inlineBelow+20, []byte("twelve bytes"))
	}
	return len(records)%7 + len(aborted)
}

func fetchResponse(version int16, topics ...kmsg.FetchResponseTopic) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version, resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = version, 7, 0, 1234
	resp.Topics = topics
	return resp
}

func fetchTopic(name string, id byte, records ...[]byte) kmsg.FetchResponseTopic {
	t := kmsg.NewFetchResponseTopic()
	t.Topic, t.TopicID = name, [16]byte{id}
	for i, r := range records {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition, p.HighWatermark, p.LastStableOffset, p.LogStartOffset = int32(i), 100, 90, 3
		p.PreferredReadReplica = 2
		p.RecordBatches = r
		p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 9, FirstOffset: 4}}
		t.Partitions = append(t.Partitions, p)
	}
	return t
}

func TestSpliceFetch(t *testing.T) {
	small := []byte("a few records")
	big := bytes.Repeat([]byte("0123456789abcdef"), inlineBelow/4) // referenced, not copied
	refused := fetchTopic("x", 3)
	refused.Partitions = []kmsg.FetchResponseTopicPartition{{Partition: 4, ErrorCode: 17, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1}}
	for _, tc := range []struct {
		name       string
		resp       *kmsg.FetchResponse
		headerTags []byte
		extra      []byte
		refused    bool
	}{
		{name: "v4 one topic", resp: fetchResponse(4, fetchTopic("sluice.out.p1.a", 0, small))},
		{name: "v5 null and empty records, a topic never asked for", resp: fetchResponse(5,
			fetchTopic("sluice.out.p1.a", 0, nil, []byte{}, big), fetchTopic("sluice.out.p2.a", 0, big))},
		{name: "v7 error code, session id", resp: func() *kmsg.FetchResponse {
			r := fetchResponse(7, fetchTopic("sluice.out.p1.b", 0, big, small))
			r.ErrorCode = 70
			return r
		}()},
		{name: "v11 preferred read replica, refused topics first", resp: fetchResponse(11, fetchTopic("sluice.out.p1.a", 0, small)), refused: true},
		{name: "v12 tagged fields", resp: func() *kmsg.FetchResponse {
			tp := fetchTopic("sluice.out.p1.a", 0, big, small)
			tp.UnknownTags.Set(5, []byte("topic tag"))
			tp.Partitions[0].CurrentLeader = kmsg.FetchResponseTopicPartitionCurrentLeader{LeaderID: 2, LeaderEpoch: 8}
			tp.Partitions[0].DivergingEpoch = kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: 3, EndOffset: 50}
			tp.Partitions[1].SnapshotID = kmsg.FetchResponseTopicPartitionSnapshotID{EndOffset: 5, Epoch: 1}
			tp.Partitions[1].UnknownTags.Set(9, []byte("partition tag"))
			return fetchResponse(12, tp, fetchTopic("sluice.out.p1.hidden", 0, big))
		}(), headerTags: []byte{1, 0, 2, 'h', 't'}, extra: []byte("junk")},
		{name: "v13 topic ids", resp: fetchResponse(13, fetchTopic("", 1, big), fetchTopic("", 7, big), fetchTopic("", 2, small)), refused: true},
		{name: "v16 node endpoints, one hidden", resp: func() *kmsg.FetchResponse {
			r := fetchResponse(16, fetchTopic("", 2, small))
			rack := "r1"
			r.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "backend-1", Port: 19092, Rack: &rack}, {NodeID: 2, Host: "backend-2", Port: 19093}, {NodeID: 3, Host: "b3", Port: 1}}
			r.Brokers[2].UnknownTags.Set(4, []byte("node tag"))
			return r
		}()},
		{name: "v18 every node hidden, top-level tags dropped", resp: func() *kmsg.FetchResponse {
			r := fetchResponse(18, fetchTopic("", 1, big, big))
			r.Brokers = []kmsg.FetchResponseBroker{{NodeID: 2, Host: "backend-2", Port: 19093}}
			r.UnknownTags.Set(6, []byte("response tag"))
			return r
		}()},
		{name: "v18 no topics", resp: fetchResponse(18)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := backendFetch(tc.resp, 5, tc.headerTags, tc.extra)
			orig := bytes.Clone(body)
			rw := testRewrite()
			if tc.refused {
				rw.Refused = []kmsg.FetchResponseTopic{refused}
			}
			var s Splicer
			segs, counts, err := s.Fetch(body, 42, tc.resp.Version, rw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, orig) {
				t.Fatal("the splice changed the backend's response")
			}
			got := join(segs)
			want, wantCounts := fetchReference(t, body, tc.resp.Version, 42, rw)
			if !bytes.Equal(got, want) {
				t.Fatalf("spliced answer differs from the re-encoded one:\n got %x\nwant %x", got, want)
			}
			if counts != wantCounts {
				t.Fatalf("counts %+v, want %+v", counts, wantCounts)
			}
			ans := decodeAnswer(t, got, tc.resp.Version, 42)
			for _, tp := range ans.Topics {
				if tp.Topic == "sluice.out.p2.a" || tp.Topic == "sluice.out.p1.hidden" || tp.TopicID == [16]byte{7} {
					t.Errorf("a topic never asked for is shown: %+v", tp)
				}
				for _, p := range tp.Partitions {
					if p.AbortedTransactions != nil || p.PreferredReadReplica != -1 {
						t.Errorf("partition %+v", p)
					}
				}
			}
			if ans.SessionID != 0 || ans.UnknownTags.Len() != 0 {
				t.Errorf("session %d, tags %v", ans.SessionID, ans.UnknownTags)
			}
			for _, n := range ans.Brokers {
				if n.NodeID%2 != 1 || n.Host != "gw" || n.Port != 9000+n.NodeID || n.Rack != nil {
					t.Errorf("node endpoint %+v", n)
				}
			}
			// Long runs of records are referenced in the backend's bytes,
			// short ones copied.
			for _, seg := range segs {
				if inFrame(seg, body) && len(seg) < inlineBelow {
					t.Errorf("a segment of %d bytes refers to the response", len(seg))
				}
			}
		})
	}
}

func TestSpliceFetchRefused(t *testing.T) {
	ok := backendFetch(fetchResponse(12, fetchTopic("sluice.out.p1.a", 0, []byte("x"))), 5, nil, nil)
	for _, tc := range []struct {
		name    string
		body    []byte
		version int16
	}{
		{"empty", nil, 12},
		{"truncated header", ok[:3], 12},
		{"truncated body", ok[:len(ok)-3], 12},
		{"v3", ok, 3},
		{"v19", ok, 19},
		{"tag count bomb", append(ok[:len(ok)-1], 0xff, 0xff, 0xff, 0xff, 0x0f), 12},
		{"aborted transactions bomb", func() []byte {
			b := kbin.AppendInt32(nil, 5)
			b = append(b, 0)           // header tags
			b = kbin.AppendInt32(b, 0) // throttle
			b = kbin.AppendInt16(b, 0) // error
			b = kbin.AppendInt32(b, 0) // session
			b = append(b, 2)           // one topic
			b = kbin.AppendCompactString(b, "sluice.out.p1.a")
			b = append(b, 2)                   // one partition
			b = append(b, make([]byte, 30)...) // partition .. log start offset
			b = kbin.AppendUvarint(b, 1<<20)   // a million aborted transactions
			return append(b, make([]byte, 1<<10)...)
		}(), 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Splicer
			if _, _, err := s.Fetch(tc.body, 1, tc.version, testRewrite()); !errors.Is(err, errSplice) {
				t.Fatalf("got %v, want a splice error", err)
			}
		})
	}
}

// A Splicer reused for a smaller answer leaves nothing of the larger one.
func TestSpliceFetchReuse(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 3*inlineBelow)
	var s Splicer
	first := backendFetch(fetchResponse(12, fetchTopic("sluice.out.p1.a", 0, big, big)), 5, nil, nil)
	if _, _, err := s.Fetch(first, 1, 12, testRewrite()); err != nil {
		t.Fatal(err)
	}
	second := backendFetch(fetchResponse(4, fetchTopic("sluice.out.p1.b", 0, []byte("x"))), 5, nil, nil)
	segs, _, err := s.Fetch(second, 2, 4, testRewrite())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := join(segs), func() []byte { w, _ := fetchReference(t, second, 4, 2, testRewrite()); return w }(); !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
}

func TestRecordEditsApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits func(e *RecordEdits)
		want  string
	}{
		{"none", func(*RecordEdits) {}, "0123456789"},
		{"shrink", func(e *RecordEdits) { e.Replace(1, 4, []byte("x")); e.Replace(6, 9, nil) }, "0x459"},
		{"grow", func(e *RecordEdits) { e.Replace(0, 1, []byte("abc")); e.Replace(9, 10, []byte("Z")) }, "abc12345678Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e RecordEdits
			tc.edits(&e)
			records := []byte("0123456789")
			if got := e.Apply(records); string(got) != tc.want || e.Len([]byte("0123456789")) != len(tc.want) {
				t.Fatalf("got %q (len %d), want %q", got, e.Len(records), tc.want)
			}
		})
	}
}

// FuzzSpliceFetch compares the splice with decode→rewrite→encode on any
// response kmsg decodes as Fetch v4–18, with the rewrite drawn from the
// fuzzer's bits: the two answers are the same to a decoder, and byte for
// byte the same when the backend's own encoding was canonical (kmsg
// re-encodes its body to the same bytes).
// `go test -fuzz FuzzSpliceFetch ./internal/kafkaproto`.
func FuzzSpliceFetch(f *testing.F) {
	big := bytes.Repeat([]byte{1}, inlineBelow+200)
	for _, resp := range []*kmsg.FetchResponse{
		fetchResponse(4, fetchTopic("sluice.out.p1.a", 0, []byte("x"))),
		fetchResponse(11, fetchTopic("sluice.out.p1.a", 0, nil, big), fetchTopic("sluice.out.p1.b", 0, []byte("y"))),
		fetchResponse(12, fetchTopic("sluice.out.p1.a", 0, []byte("0123456789"), big)),
		fetchResponse(13, fetchTopic("", 1, big), fetchTopic("", 2, nil, []byte{})),
		func() *kmsg.FetchResponse {
			r := fetchResponse(17, fetchTopic("", 1, big))
			r.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "h", Port: 1}, {NodeID: 2, Host: "i", Port: 2}}
			return r
		}(),
	} {
		f.Add(backendFetch(resp, 5, nil, nil), resp.Version, uint64(0xffff))
		f.Add(backendFetch(resp, 5, nil, []byte{1, 2}), resp.Version, uint64(0x5a5a))
	}
	f.Fuzz(func(t *testing.T, body []byte, version int16, bits uint64) {
		if version < 4 || version > 18 {
			return
		}
		up, err := decodeFetch(bytes.Clone(body), version, 5)
		if err != nil {
			return
		}
		rw := &FetchRewrite{Names: map[string]string{}, IDs: map[[16]byte]bool{}, Records: testEdits}
		for i, tp := range up.Topics {
			if bits>>(i%64)&1 == 1 {
				rw.Names[tp.Topic] = "client-" + tp.Topic
				rw.IDs[tp.TopicID] = true
			}
		}
		if bits&(1<<63) != 0 {
			rw.Refused = []kmsg.FetchResponseTopic{fetchTopic("refused", 9, nil)}
		}
		if bits&(1<<62) != 0 {
			rw.Broker = func(node int32) (string, int32, bool) { return "gw", node, node%2 == 0 }
		}
		var s Splicer
		segs, counts, err := s.Fetch(bytes.Clone(body), 9, version, rw)
		if err != nil {
			t.Fatalf("kmsg decodes the response, the splice refuses it: %v", err)
		}
		got := join(segs)
		want, wantCounts := fetchReference(t, body, version, 9, rw)
		if counts != wantCounts {
			t.Fatalf("counts %+v, want %+v", counts, wantCounts)
		}
		if bytes.Equal(got, want) {
			return
		}
		if canonicalFetch(body, up) {
			t.Fatalf("canonical backend response, spliced bytes differ:\n got %x\nwant %x", got, want)
		}
		if g, w := decodeAnswer(t, got, version, 9), decodeAnswer(t, want, version, 9); !reflect.DeepEqual(g, w) {
			t.Fatalf("spliced answer differs from the re-encoded one:\n got %+v\nwant %+v", g, w)
		}
	})
}

// canonicalFetch says whether the backend encoded the body of resp as kmsg
// encodes up (the decoded response), trailing bytes aside.
func canonicalFetch(body []byte, up *kmsg.FetchResponse) bool {
	r := kbin.Reader{Src: body}
	r.Int32()
	if up.IsFlexible() && skipTags(&r) != nil {
		return false
	}
	return bytes.HasPrefix(r.Src, up.AppendTo(nil))
}
