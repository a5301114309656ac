package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPipelineStep(t *testing.T) {
	for _, tc := range []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.gopark", "github.com/twmb/franz-go/pkg/kgo.(*GroupTransactSession).PollRecords", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).run"}, stepPoll},
		{[]string{"runtime.cgocall", "github.com/sluice-io/sluice/internal/store/duckdb.(*DuckStore).Insert", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).storeAndBuild", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).handle"},
			"3. storing the poll in DuckDB and building the outbound records"},
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
		{[]string{"runtime.memmove", "github.com/sluice-io/sluice/internal/gateway.committedEdits", "github.com/sluice-io/sluice/internal/kafkaproto.(*Splicer).fetchPartition", "github.com/sluice-io/sluice/internal/kafkaproto.(*Splicer).Fetch", "github.com/sluice-io/sluice/internal/gateway.(*upstream).receiveFetch"},
			"emptying transaction markers and aborted batches (committedEdits)"},
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

func TestPipelineHotspotRules(t *testing.T) {
	const duck = "github.com/sluice-io/sluice/internal/store/duckdb."
	for _, tc := range []struct {
		stack []string
		want  string
	}{
		{[]string{"runtime.cgocall", "github.com/duckdb/duckdb-go-bindings.AppenderClose", duck + "(*chunkAppender).close", duck + "(*DuckStore).appendRows.func1", duck + "(*DuckStore).appendRows", duck + "(*DuckStore).Insert"},
			"store: DuckDB appender (rows written into its data chunks, then copied by DuckDB into the transaction)"},
		{[]string{"runtime.cgocall", "github.com/duckdb/duckdb-go/v2.(*Appender).Close", duck + "(*DuckStore).saveMarks.func1", duck + "(*DuckStore).saveMarks", duck + "(*DuckStore).Insert"},
			"store: partition marks (appended to DuckDB's _marks table in each transaction)"},
		{[]string{"runtime.cgocall", "github.com/duckdb/duckdb-go/v2.(*Stmt).ExecContext", "database/sql.(*Conn).ExecContext", duck + "(*DuckStore).Insert", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).storeProject"},
			"store: DuckDB statements (begin and commit, lookups, DDL)"},
		{[]string{"runtime.cgocall", duck + "(*checkpointer).now", duck + "(*checkpointer).run"},
			"store: DuckDB's checkpoints (background; the table's rows written into its file)"},
		{[]string{"github.com/sluice-io/sluice/internal/leaf.(*Flattener).value", duck + "flattenAll.func1"},
			"typed leaves of the events, for the store's columns (noted while streaming, or flattened from the JSON)"},
		{[]string{"syscall.pwrite", duck + "(*jsonLog).appendBatch", duck + "(*DuckStore).writeJSON", duck + "(*DuckStore).Insert", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).storeProject"},
			"store: other (grouping, JSON logs, planning)"},
		{[]string{"runtime.memmove", "github.com/sluice-io/sluice/internal/pipeline.outboundRecords", "github.com/sluice-io/sluice/internal/pipeline.(*Pipeline).build"},
			"pipeline: DLQ, outbound publishing, bookkeeping"},
	} {
		if got := classify(tc.stack, pipelineRules); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.stack[1], got, tc.want)
		}
	}
}

func TestInboundHotspotRules(t *testing.T) {
	const gw = "github.com/sluice-io/sluice/internal/gateway."
	for _, tc := range []struct {
		stack []string
		want  string
	}{
		{[]string{"hash/crc32.castagnoliSSE42Triple", "hash/crc32.archUpdateCastagnoli", gw + "(*batchValidator).validate", gw + "(*batchValidator).validateBatches", gw + "(*Gateway).produce", gw + "(*Gateway).Begin"},
			"checking the record batches (CRC-32C, every record's lengths, bounded decompression)"},
		{[]string{"runtime.mapaccess1", gw + "(*Gateway).produce", gw + "(*Gateway).Begin"},
			"gateway bookkeeping (names, quotas, metrics, registry lookups)"},
		{[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.writev", "net.(*Buffers).WriteTo", gw + "(*upstream).sendProduce", gw + "(*Gateway).produce"},
			"writing the request to the broker's socket (write syscalls)"},
	} {
		if got := classify(tc.stack, hotspotRules); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.stack[0], got, tc.want)
		}
	}
}

// TestDuckDBShare: the rules of DuckDB's work count, sluice's own do not.
func TestDuckDBShare(t *testing.T) {
	duck := map[string]bool{
		"store: DuckDB's checkpoints (background; the table's rows written into its file)":                       true,
		"store: partition marks (appended to DuckDB's _marks table in each transaction)":                         true,
		"store: DuckDB appender (rows written into its data chunks, then copied by DuckDB into the transaction)": true,
		"store: DuckDB statements (begin and commit, lookups, DDL)":                                              true,
		"DuckDB's own threads (C++: parallel parts of commits and checkpoints)":                                  true,
	}
	var hs []hotspot
	for _, r := range pipelineRules {
		hs = append(hs, hotspot{What: r.what, Share: 0.01})
	}
	if got, want := duckDBShare(hs), 0.01*float64(len(duck)); got < want-1e-9 || got > want+1e-9 {
		t.Errorf("duckDBShare = %.2f, want %.2f", got, want)
	}
	for what := range duck {
		if duckDBShare([]hotspot{{What: what, Share: 1}}) != 1 {
			t.Errorf("%q does not count as DuckDB's", what)
		}
	}
}

// TestRulesNameSluiceCode keeps the profile rules in step with sluice's
// code: a rule naming a function that was renamed or removed matches
// nothing, and its samples land under a wrong heading.
func TestRulesNameSluiceCode(t *testing.T) {
	var all []rule
	for _, rs := range [][]rule{hotspotRules, pipelineRules, e2eHotspotRules, outboundHotspotRules} {
		all = append(all, rs...)
	}
	names := []string{"pipeline.(*Pipeline).validate", "pipeline.(*Pipeline).storeAndBuild", "pipeline.(*Pipeline).produce"}
	for _, r := range all {
		names = append(names, r.all...)
		names = append(names, r.any...)
	}
	for _, n := range names {
		if err := sluiceName(n); err != nil {
			t.Error(err)
		}
	}
}

// sluiceName checks that a rule's name of sluice's code ("internal/leaf.",
// "duckdb.flattenAll", "gateway.(*upstream).send") is declared in the
// repository; names of other code pass.
func sluiceName(name string) error {
	pkg, sym, ok := strings.Cut(strings.TrimPrefix(name, "internal/"), ".")
	if !ok || strings.Contains(pkg, "-") {
		return nil
	}
	var dir string
	_ = filepath.WalkDir("../internal", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == pkg || strings.HasSuffix(p, "/"+pkg)) && dir == "" {
			dir = p
		}
		return nil
	})
	if dir == "" {
		return nil // not sluice's (runtime., crypto/tls., Go's internal/poll., ...)
	}
	if sym == "" {
		return nil
	}
	// "(*T).M" or "(*T)" → a method M of *T, or T itself; "F" or "F.func1" → func F.
	var want string
	if typ, method, ok := strings.Cut(strings.TrimPrefix(sym, "(*"), ")"); ok && strings.HasPrefix(sym, "(*") {
		want = "type " + typ + " "
		if m := strings.TrimPrefix(method, "."); m != "" {
			want = "*" + typ + ") " + m + "("
		}
	} else {
		f, _, _ := strings.Cut(sym, ".")
		want = "func " + f + "("
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), want) {
			return nil
		}
	}
	return fmt.Errorf("%q: nothing in %s declares %q", name, dir, want)
}
