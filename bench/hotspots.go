package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// hotspot is a share of sluice's CPU profile, by what the code is doing.
type hotspot struct {
	What  string
	Nanos int64
	Share float64
}

// A rule matches a sample whose stack holds every one of all (and, if set,
// one of any). Rules are tried in order; the first match wins.
type rule struct {
	what string
	all  []string
	any  []string
}

var hotspotRules = []rule{
	{what: "TLS: decrypting the client's requests (AES-GCM)", all: []string{"crypto/tls.(*halfConn).decrypt"}},
	{what: "TLS: encrypting the responses", all: []string{"crypto/tls.(*halfConn).encrypt"}},
	{what: "reading the client's socket (read syscalls)", all: []string{"kafkaproto.(*Conn).readFrame", "internal/poll.(*FD).Read"}},
	{what: "copying decrypted bytes out of crypto/tls into the request frame", all: []string{"kafkaproto.(*Conn).readFrame", "crypto/tls.(*Conn).Read"}},
	{what: "allocating (and zeroing) a new buffer for every request frame", all: []string{"kafkaproto.(*Conn).readFrame"}, any: []string{"runtime.makeslice", "runtime.mallocgc"}},
	{what: "decoding the request (kmsg ReadFrom)", all: []string{"kafkaproto.decodeBody"}},
	{what: "splicing the request for the broker (topic names patched; the record batches referenced, not copied)", any: []string{"kafkaproto.(*Splicer).Produce"}},
	{what: "writing the request to the broker's socket (write syscalls)", all: []string{"gateway.(*upstream).send"}},
	{what: "checking the record batches (CRC-32C, every record's lengths, bounded decompression)", any: []string{"gateway.(*batchValidator)"}},
	{what: "reading and decoding the broker's answer", all: []string{"gateway.(*upstream).receive"}},
	{what: "walking the record batch headers (inspectBatches)", all: []string{"gateway.inspectBatches"}},
	{what: "encoding and writing the response to the client", any: []string{"kafkaproto.(*Conn).answer", "kafkaproto.(*Conn).writeRaw", "kafkaproto.appendResponse"}},
	{what: "gateway bookkeeping (names, quotas, metrics, registry lookups)", any: []string{"gateway.(*Gateway).Begin"}},
	{what: "garbage collector", any: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{what: "Go scheduler and network poller", any: []string{"runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.morestack"}},
}

// pipelineRules classify the pipeline-on sluice's profile (the event
// pipeline benchmark) by stage.
var pipelineRules = []rule{
	{what: "typed leaves of the events, for the store's columns (noted while streaming, or flattened from the JSON)", any: []string{"internal/leaf.", "duckdb.flattenAll", "event.(*streamer).noteLeaf"}},
	{what: "store: DuckDB's checkpoints (background; the table's rows written into its file)", any: []string{"duckdb.(*checkpointer)"}},
	{what: "store: partition marks (appended to DuckDB's _marks table in each transaction)", any: []string{"duckdb.(*DuckStore).saveMarks"}},
	{what: "store: DuckDB appender (rows written into its data chunks, then copied by DuckDB into the transaction)", any: []string{"duckdb.(*DuckStore).appendRows", "duckdb.(*chunkAppender)", "duckdb-go/v2.(*Appender)"}},
	{what: "store: DuckDB statements (begin and commit, lookups, DDL)", all: []string{"internal/store/duckdb.", "duckdb-go"}},
	{what: "store: other (grouping, JSON logs, planning)", any: []string{"internal/store/duckdb."}},
	{what: "store: ClickHouse (blocks encoded and sent by clickhouse-go)", any: []string{"internal/store/clickhouse.", "clickhouse-go"}},
	{what: "DuckDB's own threads (C++: parallel parts of commits and checkpoints)", any: []string{"runtime._ExternalCode"}},
	{what: "events: validation, keen object, add-ons, autofill", any: []string{"internal/event."}},
	{what: "HTTP API (the benchmark's count polls and queries)", any: []string{"internal/httpapi.", "net/http."}},
	{what: "pipeline: DLQ, outbound publishing, bookkeeping", any: []string{"internal/pipeline."}},
	{what: "Kafka client (franz-go: fetching, decoding, committing)", any: []string{"franz-go"}},
	{what: "garbage collector", any: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{what: "Go scheduler and network poller", any: []string{"runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.morestack"}},
}

// hotspots reads a CPU profile of the Inbound listener and sums its
// samples by rule.
func hotspots(file string) ([]hotspot, int64, error) { return hotspotsBy(file, hotspotRules) }

// hotspotsBy reads a CPU profile and sums its samples by the first of rules
// that matches. Samples no rule matches are grouped by their leaf function
// under "other".
func hotspotsBy(file string, rules []rule) ([]hotspot, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, 0, err
	}
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, 0, fmt.Errorf("%s: not a CPU profile", file)
	}
	sums := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		var names []string
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil {
					names = append(names, ln.Function.Name)
				}
			}
		}
		sums[classify(names, rules)] += v
	}
	var out []hotspot
	for what, n := range sums {
		out = append(out, hotspot{What: what, Nanos: n, Share: float64(n) / float64(total)})
	}
	slices.SortFunc(out, func(a, b hotspot) int {
		if a.Nanos != b.Nanos {
			if a.Nanos > b.Nanos {
				return -1
			}
			return 1
		}
		return strings.Compare(a.What, b.What)
	})
	return out, total, nil
}

func classify(stack []string, rules []rule) string {
	has := func(sub string) bool {
		for _, n := range stack {
			if strings.Contains(n, sub) {
				return true
			}
		}
		return false
	}
rules:
	for _, r := range rules {
		for _, a := range r.all {
			if !has(a) {
				continue rules
			}
		}
		if len(r.any) > 0 {
			ok := false
			for _, a := range r.any {
				ok = ok || has(a)
			}
			if !ok {
				continue
			}
		}
		return r.what
	}
	for _, n := range stack {
		if n != "" {
			return "other: " + n
		}
	}
	return "other (no symbol)"
}
