package kafkaproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const spliceClientID = "sluice-inbound-p1"

// clientFrame is a Produce request frame as a client sends it (no size
// prefix): header (client id, header tags when flexible), body, then extra.
func clientFrame(req *kmsg.ProduceRequest, clientID *string, headerTags, extra []byte) []byte {
	b := kbin.AppendInt16(nil, req.Key())
	b = kbin.AppendInt16(b, req.Version)
	b = kbin.AppendInt32(b, 77)
	b = kbin.AppendNullableString(b, clientID)
	if req.IsFlexible() {
		if headerTags == nil {
			headerTags = []byte{0}
		}
		b = append(b, headerTags...)
	}
	b = req.AppendTo(b)
	return append(b, extra...)
}

// reference is the decode→rewrite→encode result for frame and routes.
func reference(t testing.TB, frame []byte, corr int32, routes []ProduceRoute) []byte {
	t.Helper()
	req, err := decodeProduce(frame)
	if err != nil {
		t.Fatalf("decoding the client's frame: %v", err)
	}
	fwd, err := RewriteProduce(req, routes)
	if err != nil {
		t.Fatalf("RewriteProduce: %v", err)
	}
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID(spliceClientID)).AppendRequest(nil, fwd, corr)
}

// decodeProduce decodes a Produce frame (no size prefix) as the server does.
func decodeProduce(frame []byte) (*kmsg.ProduceRequest, error) {
	h, r, err := parseHeader(frame)
	if err != nil {
		return nil, err
	}
	if h.key != int16(kmsg.Produce) {
		return nil, errors.New("not a produce request")
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(h.version)
	if err := decodeBody(req, r); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeForwarded decodes a forwarded frame (size prefix included),
// checking its size and header.
func decodeForwarded(t testing.TB, b []byte, corr int32) *kmsg.ProduceRequest {
	t.Helper()
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("size prefix does not match the %d bytes", len(b))
	}
	h, r, err := parseHeader(b[4:])
	if err != nil || h.corr != corr || h.clientID != spliceClientID {
		t.Fatalf("header %+v, %v", h, err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(h.version)
	if err := decodeBody(req, r); err != nil {
		t.Fatalf("decoding the forwarded request: %v", err)
	}
	return req
}

func join(segs [][]byte) []byte { return bytes.Join(segs, nil) }

func keepAll(n int) []bool {
	k := make([]bool, n)
	for i := range k {
		k[i] = true
	}
	return k
}

func produceRequest(version int16, topics ...kmsg.ProduceRequestTopic) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, -1, 30000
	req.Topics = topics
	return req
}

func topic(name string, records ...[]byte) kmsg.ProduceRequestTopic {
	t := kmsg.ProduceRequestTopic{Topic: name}
	for i, r := range records {
		t.Partitions = append(t.Partitions, kmsg.ProduceRequestTopicPartition{Partition: int32(i), Records: r})
	}
	return t
}

func tagged(t kmsg.ProduceRequestTopic, key uint32, val string) kmsg.ProduceRequestTopic {
	t.UnknownTags.Set(key, []byte(val))
	for i := range t.Partitions {
		t.Partitions[i].UnknownTags.Set(key+1, []byte(val+"-p"))
	}
	return t
}

func TestSpliceProduce(t *testing.T) {
	small := []byte("a small batch")
	big := bytes.Repeat([]byte("0123456789abcdef"), inlineBelow/8) // referenced, not copied
	id := "client-1"
	for _, tc := range []struct {
		name       string
		req        *kmsg.ProduceRequest
		clientID   *string
		headerTags []byte
		extra      []byte
		routes     []ProduceRoute
	}{
		{name: "v3 one topic", req: produceRequest(3, topic("pageviews", small)), clientID: &id,
			routes: []ProduceRoute{{"sluice.in.p1.pageviews", keepAll(1)}}},
		{name: "v8 null client id, null and empty records", req: produceRequest(8, topic("c", nil, []byte{}, small)),
			routes: []ProduceRoute{{"sluice.in.p1.c", keepAll(3)}}},
		{name: "v8 a partition dropped, a topic dropped", req: produceRequest(8, topic("a", small, big, small), topic("b", small), topic("c", big)),
			routes: []ProduceRoute{{"sluice.in.p1.a", []bool{true, false, true}}, {"ignored", []bool{false}}, {"sluice.in.p1.c", []bool{true}}}},
		{name: "v9 compact strings", req: produceRequest(9, topic("pageviews", small, big)), clientID: &id,
			routes: []ProduceRoute{{"sluice.in.p1.pageviews", keepAll(2)}}},
		{name: "v12 tagged fields everywhere", req: func() *kmsg.ProduceRequest {
			r := produceRequest(12, tagged(topic("a", small, big), 5, "x"), tagged(topic("b", big), 7, "yy"))
			r.UnknownTags.Set(3, []byte("request tag"))
			return r
		}(), clientID: &id, routes: []ProduceRoute{{"sluice.in.p1.a", []bool{false, true}}, {"sluice.in.p1.b", []bool{true}}}},
		{name: "v12 header tags and trailing bytes are not forwarded", req: produceRequest(12, topic("a", big)),
			headerTags: []byte{1, 0, 3, 'a', 'b', 'c'}, extra: []byte("junk"),
			routes: []ProduceRoute{{"sluice.in.p1.a", keepAll(1)}}},
		{name: "v10 every partition dropped", req: produceRequest(10, topic("a", small), topic("b", big)),
			routes: []ProduceRoute{{"x", []bool{false}}, {"y", []bool{false}}}},
		{name: "v9 no topics", req: produceRequest(9), routes: nil},
		{name: "v9 a long name", req: produceRequest(9, topic("a", small)),
			routes: []ProduceRoute{{"sluice.in." + strings.Repeat("p", 200) + ".a", keepAll(1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := clientFrame(tc.req, tc.clientID, tc.headerTags, tc.extra)
			var s Splicer
			segs, err := s.Produce(frame, 42, spliceClientID, tc.routes)
			if err != nil {
				t.Fatal(err)
			}
			got := join(segs)
			if want := reference(t, frame, 42, tc.routes); !bytes.Equal(got, want) {
				t.Fatalf("spliced request differs from the re-encoded one:\n got %x\nwant %x", got, want)
			}
			decodeForwarded(t, got, 42)
			// Large batches are referenced in the client's frame, small ones copied.
			for _, seg := range segs {
				if inFrame(seg, frame) && len(seg) < inlineBelow {
					t.Errorf("a segment of %d bytes refers to the frame", len(seg))
				}
			}
		})
	}
}

// inFrame says whether seg lies inside frame's memory.
func inFrame(seg, frame []byte) bool {
	if len(seg) == 0 || len(frame) == 0 {
		return false
	}
	s, f := uintptr(unsafe.Pointer(&seg[0])), uintptr(unsafe.Pointer(&frame[0]))
	return s >= f && s < f+uintptr(len(frame))
}

// A Splicer reused for a smaller request leaves nothing of the larger one.
func TestSpliceReuse(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 3*inlineBelow)
	var s Splicer
	first := clientFrame(produceRequest(9, topic("a", big, big), topic("b", big)), nil, nil, nil)
	routes := []ProduceRoute{{"sluice.in.p1.a", keepAll(2)}, {"sluice.in.p1.b", keepAll(1)}}
	if _, err := s.Produce(first, 1, spliceClientID, routes); err != nil {
		t.Fatal(err)
	}
	second := clientFrame(produceRequest(4, topic("c", []byte("x"))), nil, nil, nil)
	routes = []ProduceRoute{{"sluice.in.p1.c", keepAll(1)}}
	segs, err := s.Produce(second, 2, spliceClientID, routes)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := join(segs), reference(t, second, 2, routes); !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
}

// Tags out of order or repeated, and lengths encoded with more bytes than
// needed, are forwarded encoded afresh: the same request to a decoder.
func TestSpliceNonCanonical(t *testing.T) {
	uv := func(b []byte, n uint32, width int) []byte { // a uvarint padded to width bytes
		for i := 0; i < width-1; i++ {
			b = append(b, byte(n&0x7f)|0x80)
			n >>= 7
		}
		return append(b, byte(n))
	}
	b := []byte{0, 0, 0, 9, 0, 0, 0, 77, 0xff, 0xff, 0} // Produce v9, corr 77, null client id, no header tags
	b = append(b, 0)                                    // null transactional id
	b = kbin.AppendInt16(b, 1)
	b = kbin.AppendInt32(b, 1000)
	b = uv(b, 2, 3)                    // one topic
	b = append(uv(b, 2, 2), 't')       // "t"
	b = uv(b, 2, 2)                    // one partition
	b = kbin.AppendInt32(b, 3)         // partition 3
	b = append(uv(b, 4, 4), "abc"...)  // records "abc"
	b = append(uv(b, 2, 1), 9, 1, 'z') // partition tags: 9 → "z",
	b = append(b, 2, 1, 'y')           // then 2 → "y" (out of order)
	b = append(uv(b, 2, 2), 4, 1, 'q') // topic tags: 4 → "q",
	b = append(b, 4, 1, 'r')           // 4 again → "r"
	b = append(b, 0)                   // no request tags
	routes := []ProduceRoute{{"sluice.in.p1.t", keepAll(1)}}
	var s Splicer
	segs, err := s.Produce(b, 5, spliceClientID, routes)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeForwarded(t, join(segs), 5)
	want := decodeForwarded(t, reference(t, b, 5, routes), 5)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if p := got.Topics[0].Partitions[0]; p.Partition != 3 || string(p.Records) != "abc" || got.Topics[0].Topic != "sluice.in.p1.t" {
		t.Fatalf("forwarded %+v", got.Topics[0])
	}
}

func TestSpliceRefused(t *testing.T) {
	ok := clientFrame(produceRequest(9, topic("a", []byte("x"), []byte("y"))), nil, nil, nil)
	routes := []ProduceRoute{{"sluice.in.p1.a", keepAll(2)}}
	for _, tc := range []struct {
		name   string
		frame  []byte
		routes []ProduceRoute
	}{
		{"empty", nil, routes},
		{"truncated header", ok[:7], routes},
		{"truncated body", ok[:len(ok)-3], routes},
		{"v13 names topics by id", clientFrame(produceRequest(13), nil, nil, nil), nil},
		{"v2", clientFrame(produceRequest(2, topic("a", []byte("x"), []byte("y"))), nil, nil, nil), routes},
		{"not produce", append([]byte{0, 3}, ok[2:]...), routes},
		{"more routes than topics", ok, append(routes, ProduceRoute{"b", nil})},
		{"fewer partitions in the route", ok, []ProduceRoute{{"sluice.in.p1.a", keepAll(1)}}},
		{"tag count bomb", append(ok[:len(ok)-1], 0xff, 0xff, 0xff, 0xff, 0x0f), routes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Splicer
			if _, err := s.Produce(tc.frame, 1, spliceClientID, tc.routes); !errors.Is(err, errSplice) {
				t.Fatalf("got %v, want a splice error", err)
			}
		})
	}
}

// FuzzSpliceProduce compares the splice with decode→rewrite→encode on any
// frame kmsg decodes as Produce v3–12, with routes drawn from the fuzzer's
// bits: the two requests are the same to a decoder, and byte for byte the
// same when the client's own encoding was canonical (kmsg re-encodes its
// body to the same bytes). `go test -fuzz FuzzSpliceProduce ./internal/kafkaproto`.
func FuzzSpliceProduce(f *testing.F) {
	big := bytes.Repeat([]byte{1}, inlineBelow+10)
	for _, req := range []*kmsg.ProduceRequest{
		produceRequest(3, topic("a", []byte("x"))),
		produceRequest(8, topic("a", nil, big), topic("b", []byte("y"))),
		produceRequest(9, tagged(topic("a", []byte("x"), big), 1, "t")),
		produceRequest(12, topic("a", []byte("x")), topic("b", nil, []byte{})),
	} {
		f.Add(clientFrame(req, nil, nil, nil), uint64(0xffff), "p1")
		f.Add(clientFrame(req, nil, nil, []byte{1, 2}), uint64(0x5a5a), "")
	}
	f.Fuzz(func(t *testing.T, frame []byte, bits uint64, project string) {
		req, err := decodeProduce(frame)
		if err != nil || req.Version < 3 || req.Version > 12 {
			return
		}
		var routes []ProduceRoute
		for i, tp := range req.Topics {
			rt := ProduceRoute{Topic: "sluice.in." + project + "." + tp.Topic, Keep: make([]bool, len(tp.Partitions))}
			for j := range rt.Keep {
				rt.Keep[j] = bits>>((i*7+j)%64)&1 == 1
			}
			routes = append(routes, rt)
		}
		var s Splicer
		segs, err := s.Produce(frame, 9, spliceClientID, routes)
		if err != nil {
			t.Fatalf("kmsg decodes the frame, the splice refuses it: %v", err)
		}
		got := join(segs)
		want := reference(t, frame, 9, routes)
		if bytes.Equal(got, want) {
			return
		}
		if canonical(frame, req) {
			t.Fatalf("canonical client request, spliced bytes differ:\n got %x\nwant %x", got, want)
		}
		if g, w := decodeForwarded(t, got, 9), decodeForwarded(t, want, 9); !reflect.DeepEqual(g, w) {
			t.Fatalf("spliced request differs from the re-encoded one:\n got %+v\nwant %+v", g, w)
		}
	})
}

// canonical says whether the client encoded the body of frame as kmsg
// encodes req (the decoded frame), tags in order, trailing bytes aside.
func canonical(frame []byte, req *kmsg.ProduceRequest) bool {
	_, r, err := parseHeader(frame)
	if err != nil {
		return false
	}
	if req.IsFlexible() && skipTags(&r) != nil {
		return false
	}
	body := req.AppendTo(nil)
	return bytes.HasPrefix(r.Src, body)
}
