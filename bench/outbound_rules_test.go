package main

import "testing"

func TestPipelineStep(t *testing.T) {
	for _, tc := range []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.gopark", "github.com/twmb/franz-go/pkg/kgo.(*GroupTransactSession).PollRecords", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).run"}, stepPoll},
		{[]string{"runtime.cgocall", "github.com/sluice-io/sluice/internal/store.(*Duck).Insert", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).storeAndBuild", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).handle"},
			"4. storing the poll in DuckDB and building the outbound records"},
		{[]string{"runtime.selectgo", "github.com/twmb/franz-go/pkg/kgo.(*GroupTransactSession).End", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).handle"},
			"6. committing: flush, offsets in the transaction, EndTxn"},
		// produce's own flush is producing, not committing.
		{[]string{"github.com/twmb/franz-go/pkg/kgo.(*Client).Flush", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).produce"},
			"5. producing the outbound records in the transaction"},
		{[]string{"runtime.gopark", "main.main"}, "other"},
	} {
		if got := pipelineStep(tc.stack); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.stack, got, tc.want)
		}
	}
}

func TestOutboundHotspotRules(t *testing.T) {
	for _, tc := range []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.memmove", "runtime.growslice", "github.com/twmb/franz-go/pkg/kmsg.(*FetchResponse).AppendTo", "github.com/sluice-io/sluice/internal/kafkaproto.appendResponse", "github.com/sluice-io/sluice/internal/kafkaproto.(*Conn).answer"},
			"encoding the response: growing its buffer (appendResponse starts from nil: reallocations, copies, zeroing)"},
		{[]string{"runtime.memmove", "github.com/twmb/franz-go/pkg/kmsg.(*FetchResponse).AppendTo", "github.com/sluice-io/sluice/internal/kafkaproto.appendResponse"},
			"encoding the response for the client (copies every record batch)"},
		{[]string{"runtime.memmove", "github.com/sluice-io/sluice/internal/gateway.committedView", "github.com/sluice-io/sluice/internal/gateway.(*Gateway).mapFetch"},
			"emptying transaction markers and aborted batches (committedView)"},
		{[]string{"crypto/internal/fips140/aes/gcm.gcmAesEnc", "crypto/tls.(*halfConn).encrypt", "crypto/tls.(*Conn).Write", "github.com/sluice-io/sluice/internal/kafkaproto.(*Conn).writeRaw"},
			"TLS: encrypting the responses (AES-GCM)"},
		{[]string{"runtime.memclrNoHeapPointers", "runtime.mallocgc", "runtime.makeslice", "github.com/sluice-io/sluice/internal/gateway.(*upstream).receive"},
			"allocating (and zeroing) a buffer for every broker response"},
		{[]string{"some.unknownLeaf", "main.main"}, "other: some.unknownLeaf"},
	} {
		if got := classify(tc.stack, outboundHotspotRules); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.stack[0], got, tc.want)
		}
	}
}

func TestObPairs(t *testing.T) {
	rs := []obConsume{
		{Series: "plain", Side: "direct", Pair: 0, MBps: 1},
		{Series: "plain", Side: "sluice", Pair: 0, MBps: 1},
		{Series: "plain", Side: "direct", Pair: 1, MBps: 100},
		{Series: "plain", Side: "sluice", Pair: 1, MBps: 90},
		{Series: "transactional", Side: "direct", Pair: 1, MBps: 7},
		{Series: "plain", Side: "direct", Pair: 2, MBps: 200},
		{Series: "plain", Side: "sluice", Pair: 2, MBps: 100},
		{Series: "transactional", Side: "sluice", Pair: -1, MBps: 5},
	}
	f := consumeFiguresOf(rs, "plain")
	if len(f.direct) != 2 || len(f.sluice) != 2 {
		t.Fatalf("pairs: %d direct, %d sluice; want 2 and 2 (warm-ups and other series left out)", len(f.direct), len(f.sluice))
	}
	if f.ratio.Min != 0.5 || f.ratio.Max != 0.9 || f.ratio.Median != 0.7 {
		t.Errorf("ratio spread %+v, want pair by pair 0.9 and 0.5", f.ratio)
	}
}
