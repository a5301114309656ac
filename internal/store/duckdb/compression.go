package duckdb

import "github.com/sluice-io/sluice/internal/leaf"

// Column compression. DuckDB chooses a compression for every column
// segment it writes by trying each method on the data. For strings that
// seldom repeat (ids, free text) the dictionary it tries first cannot help,
// and hashing every string to find that out was, with FSST (disabled
// outright, see duck.go), a fifth of what the store spent per event: 1M
// events with 700 bytes of text and a few ids cost 21 µs of CPU each with
// the analysis, 17 µs without (BenchmarkLoad1M, SLUICE_BENCH_WORDS=1).
// So a string column whose first values are all, or almost all, distinct
// is created uncompressed; every other column keeps DuckDB's choice, which
// dictionary-compresses the strings that repeat (countries, plans, URLs).
//
// "Almost all" and not "most": a property of 1,000 values (a country)
// shows about 630 distinct ones among its first 1,024, yet a row group
// (16,384 rows) holds each about 16 times, and a filter on it scans three
// times faster dictionary-compressed (docs/store.md, "Queries over 10M
// events"). Among n values of a property of K equally likely values,
// about n²/2K repeat; n/128 repeats or fewer means K is above about 64 n
// (65,000 for a sample of 1,024), too many to repeat within a row group.

// uncompressed is the column option that skips compression.
const uncompressed = "USING COMPRESSION uncompressed"

// distinctSample is how many of a new column's first values are looked at;
// minSample is how many it takes to judge (a column first seen in a small
// batch keeps DuckDB's choice).
const (
	distinctSample = 1024
	minSample      = 256
)

// mostlyDistinct tells whether at most one in 128 of vals repeats an
// earlier one, judged on at least minSample values.
func mostlyDistinct(vals [][]byte) bool {
	if len(vals) < minSample {
		return false
	}
	seen := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		seen[string(v)] = struct{}{}
	}
	return (len(vals)-len(seen))*128 <= len(vals)
}

// stringSamples returns, for each string field of keys, up to limit of
// its values in evs, in one pass over the events.
func stringSamples(evs []flatEvent, keys map[string]bool, limit int) map[string][][]byte {
	out := map[string][][]byte{}
	for _, fe := range evs {
		for i := range fe.fields {
			f := &fe.fields[i]
			if !keys[f.Key] || len(out[f.Key]) == limit {
				continue
			}
			if _, typ := leaf.SplitKey(f.Key); typ == leaf.String {
				out[f.Key] = append(out[f.Key], f.Str)
			}
		}
	}
	return out
}
