package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// soakReport is everything the soak benchmark measured.
type soakReport struct {
	// Commit and Dirty are the repository's when the run started (sluice
	// was built just before): it may have moved on by the report.
	Commit         string    `json:"commit"`
	Dirty          bool      `json:"dirty"`
	Started        time.Time `json:"started"`
	Finished       time.Time `json:"finished"`
	Machine        machine   `json:"machine"`
	LoadEnd        string    `json:"loadavg_end"`
	Backend        string    `json:"backend"`
	Projects       int       `json:"projects"`
	ProjectIDs     []string  `json:"project_ids"`
	Rate           int       `json:"rate_per_project"`
	Duration       float64   `json:"duration_seconds"`
	PoisonEvery    float64   `json:"poison_every_seconds"`
	TrafficSeconds float64   `json:"traffic_seconds"`
	SettleSeconds  float64   `json:"settle_seconds"`
	SettledExact   bool      `json:"settled_exact"`

	Results     []soakProjectResult       `json:"projects_results"`
	Samples     []soakSample              `json:"samples"`
	PoisonKinds []poisonKindInfo          `json:"poison_kinds"`
	Poison      map[string]map[string]int `json:"poison_outcomes"` // kind → outcome → count
	Metrics     map[string]float64        `json:"metrics_end"`
	Logs        []logCount                `json:"log_lines"`
	LogBytes    int64                     `json:"log_bytes"`
	StopError   string                    `json:"stop_error,omitempty"`
	// FinalCountError is why a project's last count is missing (0 in Results).
	FinalCountError string `json:"final_count_error,omitempty"`
}

type soakProjectResult struct {
	ID         string           `json:"id"`
	Produced   int64            `json:"produced"`
	Acked      int64            `json:"acked"`
	Failed     int64            `json:"failed"`
	Failures   map[string]int64 `json:"failures,omitempty"`
	Counted    int64            `json:"counted"`
	Difference int64            `json:"counted_minus_acked"`
}

type poisonKindInfo struct {
	Name string `json:"name"`
	What string `json:"what"`
}

func (r *soakReport) addPoison(kind string, outcomes map[string]int) {
	if r.Poison == nil {
		r.Poison = map[string]map[string]int{}
	}
	if r.Poison[kind] == nil {
		r.Poison[kind] = map[string]int{}
	}
	for k, v := range outcomes {
		r.Poison[kind][k] += v
	}
}

// soakSample is one row of the sample table.
type soakSample struct {
	Seconds    float64 `json:"seconds"` // since the traffic started
	Note       string  `json:"note,omitempty"`
	RSSkB      int64   `json:"rss_kb"`
	FDs        int     `json:"fds"`
	Goroutines int64   `json:"goroutines"`
	// HeapBytes is Go's heap in use (go_memstats_heap_inuse_bytes);
	// StoreBytes the embedded store's own memory (sluice_store_memory_bytes,
	// DuckDB's buffer manager): what RSS holds besides them is C
	// allocations and what neither has given back to the system.
	HeapBytes  float64 `json:"heap_inuse_bytes"`
	StoreBytes float64 `json:"store_memory_bytes"`
	// AnonkB is sluice's anonymous resident memory (RssAnon: RSS without
	// the binary's pages), GoMappedBytes what Go's runtime holds from the
	// system (go_memstats_sys_bytes − go_memstats_heap_released_bytes,
	// its heap's free spans included). AnonkB − GoMappedBytes − StoreBytes
	// is C memory outside DuckDB's buffers: the allocators' own and
	// DuckDB's other structures, where a leak in C would show. Zero in the
	// files of runs that did not sample them.
	AnonkB        int64   `json:"rss_anon_kb,omitempty"`
	GoMappedBytes float64 `json:"go_mapped_bytes,omitempty"`
	CPUSeconds    float64 `json:"cpu_seconds"` // utime+stime of sluice since it started
	Cores         float64 `json:"cores"`       // over the interval since the previous sample
	Acked         []int64 `json:"acked"`
	Counted       []int64 `json:"counted"`
	CountError    string  `json:"count_error,omitempty"`
	LogBytes      int64   `json:"log_bytes"` // sluice's stderr (WARN and above)
	Invalid       float64 `json:"invalid_events"`
	DLQ           float64 `json:"dlq_written"`
	TxAborted     float64 `json:"transactions_aborted"`
	TxFailed      float64 `json:"transactions_failed"`
	Refusals      float64 `json:"kafka_refusals"`
}

// cOutside is the sample's C memory outside DuckDB's buffers, in bytes (see
// AnonkB); NaN when the sample lacks a figure. Go's mapped memory counts
// some pages that are not resident, so it is low by a roughly constant
// amount (below zero at the start).
func (sm soakSample) cOutside() float64 {
	if sm.AnonkB == 0 || sm.GoMappedBytes == 0 {
		return math.NaN()
	}
	return float64(sm.AnonkB)*1024 - sm.GoMappedBytes - max(sm.StoreBytes, 0)
}

type soakSampler struct {
	c          soakConfig
	sl         *sluiceProc
	projects   []*soakProject
	start      time.Time
	errFile    string
	rows       []soakSample
	metricsEnd map[string]float64
}

// take appends one sample; note marks the phase.
func (s *soakSampler) take(ctx context.Context, note string) {
	row := soakSample{Seconds: time.Since(s.start).Seconds(), Note: note,
		RSSkB: procStatus(s.sl.pid, "VmRSS"), AnonkB: procStatus(s.sl.pid, "RssAnon"), FDs: openFDs(s.sl.pid),
		CPUSeconds: procCPU(s.sl.pid).seconds(s.c.clkTck)}
	if row.RSSkB == 0 {
		row.Note = strings.TrimSpace(row.Note + " sluice is not running")
	}
	if n := len(s.rows); n > 0 {
		prev := s.rows[n-1]
		if dt := row.Seconds - prev.Seconds; dt > 0 {
			row.Cores = (row.CPUSeconds - prev.CPUSeconds) / dt
		}
	}
	// Acknowledged first: an event acknowledged after this read may be
	// counted by the queries below, never the other way round.
	for _, sp := range s.projects {
		row.Acked = append(row.Acked, sp.acked.Load())
	}
	counts, err := countAll(ctx, s.sl.http, s.projects)
	row.Counted = counts
	if err != nil {
		row.CountError = truncate(err.Error(), 200)
	}
	if fi, err := os.Stat(s.errFile); err == nil {
		row.LogBytes = fi.Size()
	}
	if text, err := scrapeMetrics(ctx, s.sl.http); err == nil {
		m := parseMetrics(text)
		s.metricsEnd = m
		row.Goroutines = int64(m["go_goroutines"])
		row.HeapBytes = m["go_memstats_heap_inuse_bytes"]
		row.StoreBytes = m["sluice_store_memory_bytes"]
		row.GoMappedBytes = m["go_memstats_sys_bytes"] - m["go_memstats_heap_released_bytes"]
		row.Invalid = m["sluice_pipeline_invalid_events_total"]
		row.DLQ = m[`sluice_pipeline_dlq_records_total{result="written"}`]
		row.TxAborted = m[`sluice_pipeline_transactions_total{result="aborted"}`]
		row.TxFailed = m[`sluice_pipeline_transactions_total{result="failed"}`]
		row.Refusals = m["sluice_kafka_refusals_total"]
	} else if row.CountError == "" {
		row.CountError = "metrics: " + truncate(err.Error(), 200)
	}
	s.rows = append(s.rows, row)
	var acked, counted int64
	for i := range row.Acked {
		acked += row.Acked[i]
		counted += row.Counted[i]
	}
	logf("soak: %4.0f s  RSS %4.0f MiB (Go heap %4.0f, store %4.0f, C outside it %4.0f)  fds %4d  goroutines %5d  %.2f cores  acked %d counted %d%s",
		row.Seconds, float64(row.RSSkB)/1024, row.HeapBytes/(1<<20), row.StoreBytes/(1<<20), row.cOutside()/(1<<20), row.FDs, row.Goroutines, row.Cores, acked, counted, map[bool]string{true: "  (" + row.CountError + ")", false: ""}[row.CountError != ""])
}

func openFDs(pid string) int {
	ents, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

func scrapeMetrics(ctx context.Context, httpURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", httpURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// parseMetrics reads Prometheus text: each metric's sum over its series by
// name, and the sums by name and one label (`name{label="v"}`) for the
// labels "result" and "reason".
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		name, labels, _ := strings.Cut(series, "{")
		out[name] += v
		for _, l := range []string{"result", "reason"} {
			if val, ok := labelValue(labels, l); ok {
				out[name+"{"+l+"=\""+val+"\"}"] += v
			}
		}
	}
	return out
}

func labelValue(labels, name string) (string, bool) {
	for _, part := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		if v, ok := strings.CutPrefix(part, name+"=\""); ok {
			return strings.TrimSuffix(v, "\""), true
		}
	}
	return "", false
}

// logCount is how many of sluice's log lines had one level and message.
type logCount struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Err   string `json:"err,omitempty"` // the shape of the line's err attribute
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
	// First is the first line of the group, whole: its attributes (the
	// error) are what the message alone does not say.
	First string `json:"first"`
}

// slogKey returns the level and message of a log/slog text line
// (`time=… level=WARN msg="…" k=v`); ok is false for anything else.
func slogKey(line string) (level, msg string, ok bool) {
	i := strings.Index(line, " level=")
	if i < 0 {
		return "", "", false
	}
	rest := line[i+len(" level="):]
	level, rest, _ = strings.Cut(rest, " ")
	m, ok := strings.CutPrefix(rest, "msg=")
	if !ok {
		return level, "", true
	}
	if strings.HasPrefix(m, `"`) {
		if q, err := strconv.QuotedPrefix(m); err == nil {
			if s, err := strconv.Unquote(q); err == nil {
				return level, s, true
			}
		}
		return level, m, true
	}
	msg, _, _ = strings.Cut(m, " ")
	return level, msg, true
}

// msgShape groups messages that differ only in numbers and ids (the
// embedded log writes its figures into the message itself): runs of
// digits become "N", hex ids of 16 characters or more "ID".
func msgShape(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		j := i
		for j < len(msg) && isHex(msg[j]) {
			j++
		}
		if j-i >= 16 {
			b.WriteString("ID")
			i = j
			continue
		}
		if msg[i] >= '0' && msg[i] <= '9' {
			for i < len(msg) && (msg[i] >= '0' && msg[i] <= '9' || msg[i] == '.') {
				i++
			}
			b.WriteByte('N')
			continue
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// attrValue returns the value of a log/slog text attribute (` name=v` or
// ` name="v"`).
func attrValue(line, name string) (string, bool) {
	i := strings.Index(line, " "+name+"=")
	if i < 0 {
		return "", false
	}
	v := line[i+len(name)+2:]
	if strings.HasPrefix(v, `"`) {
		if q, err := strconv.QuotedPrefix(v); err == nil {
			if s, err := strconv.Unquote(q); err == nil {
				return s, true
			}
		}
		return v, true
	}
	v, _, _ = strings.Cut(v, " ")
	return v, true
}

// countLogLines counts sluice's log lines by level, message and the shape
// of their error (numbers and ids folded), most frequent first; other
// lines (a panic's stack) are counted together.
func countLogLines(file string) ([]logCount, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	type key struct{ level, msg, err string }
	counts := map[key]*logCount{}
	var total int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		total += int64(len(line)) + 1
		level, msg, ok := slogKey(line)
		if !ok {
			level, msg = "other", "(not a log/slog line)"
		}
		msg = msgShape(msg)
		errShape := ""
		if e, ok := attrValue(line, "err"); ok {
			errShape = truncate(msgShape(e), 120)
		}
		k := key{level, msg, errShape}
		c := counts[k]
		if c == nil {
			c = &logCount{Level: level, Msg: msg, Err: errShape, First: line}
			counts[k] = c
		}
		c.Count++
		c.Bytes += int64(len(line)) + 1
	}
	if err := sc.Err(); err != nil {
		return nil, total, fmt.Errorf("reading %s: %w", file, err)
	}
	out := make([]logCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Msg < out[j].Msg
	})
	return out, total, nil
}

// baselineIndex is the first sample at or after `at`, or the middle one
// when the run was shorter.
func baselineIndex(rows []soakSample, at float64) int {
	for i, r := range rows {
		if r.Seconds >= at && r.Note == "" {
			return i
		}
	}
	return len(rows) / 2
}

func (r *soakReport) markdown(c soakConfig) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	m := r.Machine
	commit := r.Commit
	commitNote := ""
	if r.Dirty {
		commitNote = " (plus uncommitted changes outside bench/ when the run started)"
	}
	w("# Soak: mixed valid and poison traffic from several projects\n\n")
	w("Written by `bench/run.sh --benches soak` (`bench/soak.go`); do not edit by hand, run it again. The acceptance run of issue 15: ")
	w("\"RSS flat, no goroutine growth, every valid event stored exactly once\". Nothing is asserted: the figures are reported.\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s (this part took %s) |\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	w("| machine | %d cores, %s; %.1f GiB memory; Linux %s |\n", m.Cores, m.CPUModel, m.MemGiB, m.Kernel)
	w("| load average before / after | %s / %s |\n", m.LoadAvg, r.LoadEnd)
	w("| commit | `%s`%s |\n", commit, commitNote)
	w("| command | `%s` |\n", c.command)
	w("| sluice backend | %s; pipeline on; `--log-level warn` |\n", r.Backend)
	for _, kv := range c.envPairs() {
		k, v := kv[0], kv[1]
		if r.Backend == "embedded log" { // run.sh's lines about the broker are not about this run
			if strings.HasPrefix(k, "broker") {
				continue
			}
			v = strings.TrimSuffix(v, "; backend connection PLAINTEXT")
		}
		w("| %s | %s |\n", k, v)
	}
	w("\n## Load\n\n| | |\n|---|---|\n")
	w("| projects | %d, each with Kafka Outbound enabled (`PUT /3.0/projects/{PID}/streams/kafka/outbound`) |\n", r.Projects)
	w("| valid traffic | per project a franz-go producer on the Inbound listener (SASL_SSL PLAIN, write key, acks=all, idempotent, linger 5 ms, no delivery timeout) sending %d events/s of about 300 B, each with its sequence number, into collection `events` |\n", r.Rate)
	w("| poison traffic | per project one input every %.0f s into collection `poison`, cycling through the %d kinds below: Kafka records through a second producer (not idempotent, 2 retries, %s timeout), events over HTTP, hand-made record batches through a raw kmsg Produce (acks=all, partitions in turn) |\n",
		r.PoisonEvery, len(r.PoisonKinds), c.poisonTimeout)
	w("| duration | %.0f s of traffic, then the producers flush; then up to %s for every acknowledged event to become countable (took %.0f s) |\n", r.TrafficSeconds, c.settle, r.SettleSeconds)
	w("| samples | every %s: sluice's VmRSS and open fds (/proc), `go_goroutines`, Go's heap in use, the store's memory (`sluice_store_memory_bytes`) and the pipeline's counters (`/metrics`), utime+stime, and each project's `count` of `events` over HTTP (read key) |\n\n", c.sample)

	w("## Every valid event stored exactly once?\n\n")
	w("| project | produced | acknowledged | failed | counted | counted − acknowledged |\n|---|---:|---:|---:|---:|---:|\n")
	var tp, ta, tf, tc int64
	for _, p := range r.Results {
		verdict := "exact"
		if p.Difference != 0 {
			verdict = fmt.Sprintf("**%+d**", p.Difference)
		}
		w("| `%s` | %d | %d | %d | %d | %s |\n", p.ID, p.Produced, p.Acked, p.Failed, p.Counted, verdict)
		tp, ta, tf, tc = tp+p.Produced, ta+p.Acked, tf+p.Failed, tc+p.Counted
	}
	w("| all | %d | %d | %d | %d | %+d |\n\n", tp, ta, tf, tc, tc-ta)
	for _, p := range r.Results {
		for e, n := range p.Failures {
			w("- `%s`: %d valid events failed: %s\n", p.ID, n, e)
		}
	}
	if r.FinalCountError != "" {
		w("The last counts failed (a 0 above is no answer): %s\n\n", mdCell(r.FinalCountError))
	}
	if r.SettledExact {
		w("Every project's count equalled its acknowledged events %.0f s after the load stopped. ", r.SettleSeconds)
	} else {
		w("The counts did **not** settle on the acknowledged events within %.0f s of the load stopping. ", r.SettleSeconds)
	}
	w("A failed event (not acknowledged) may or may not have been written, so it can explain a count above the acknowledged ones, never one below.\n\n")

	w("## Resources\n\n")
	if len(r.Samples) > 0 {
		bi := baselineIndex(r.Samples, c.baseline.Seconds())
		b, e := r.Samples[bi], r.Samples[len(r.Samples)-1]
		w("| | at %.0f s | at the end (%.0f s) | growth |\n|---|---:|---:|---:|\n", b.Seconds, e.Seconds)
		w("| RSS | %.0f MiB | %.0f MiB | %+.0f MiB (%+.0f %%) |\n", float64(b.RSSkB)/1024, float64(e.RSSkB)/1024, float64(e.RSSkB-b.RSSkB)/1024, pct(float64(e.RSSkB), float64(b.RSSkB)))
		w("| Go heap in use | %.0f MiB | %.0f MiB | %+.0f MiB |\n", b.HeapBytes/(1<<20), e.HeapBytes/(1<<20), (e.HeapBytes-b.HeapBytes)/(1<<20))
		w("| store (DuckDB's buffer manager) | %.0f MiB | %.0f MiB | %+.0f MiB |\n", b.StoreBytes/(1<<20), e.StoreBytes/(1<<20), (e.StoreBytes-b.StoreBytes)/(1<<20))
		w("| goroutines | %d | %d | %+d |\n", b.Goroutines, e.Goroutines, e.Goroutines-b.Goroutines)
		w("| open fds | %d | %d | %+d |\n\n", b.FDs, e.FDs, e.FDs-b.FDs)
		peak := int64(0)
		for _, row := range r.Samples {
			peak = max(peak, row.RSSkB)
		}
		w("Peak sampled RSS %.0f MiB. Growth is taken from the sample at or after %s (or the middle one in a shorter run) to the last sample (after the load stopped and the counts settled).\n\n", float64(peak)/1024, c.baseline)
		if ws := memoryWindows(r.Samples, soakWindow, r.TrafficSeconds); len(ws) > 1 {
			w("Memory by %s window of traffic (means of the samples in each). DuckDB's buffer manager keeps what it has read and written up to its memory limit (docs/operations.md), so the store's column grows until it reaches that cap. *rest* is RSS outside Go's heap in use and DuckDB's buffers: the binary's pages, Go's free heap not yet given back (it swings with each GC cycle) and C memory. *C outside the buffers* takes out what Go holds from the system as well (some of which is not resident: the figure is low by a roughly constant amount), leaving the C allocators' memory outside DuckDB's buffers, where a leak in C would show; it also holds DuckDB's metadata of the segments written, which grows with the data stored (about 4 MB per million events of this shape, docs/store.md):\n\n", soakWindow)
			w("| window | samples | RSS (MiB) | Go heap (MiB) | store (MiB) | rest (MiB): median / min / max | C outside the buffers (MiB): median / min / max | goroutines | fds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
			for _, mw := range ws {
				cOut := "—"
				if !math.IsNaN(mw.COutside.Median) {
					cOut = fmt.Sprintf("%.0f / %.0f / %.0f", mw.COutside.Median, mw.COutside.Min, mw.COutside.Max)
				}
				w("| %s | %d | %.0f | %.0f | %.0f | %.0f / %.0f / %.0f | %s | %.0f | %.0f |\n", mw.Label, mw.Samples, mw.RSS, mw.Heap, mw.Store, mw.Rest.Median, mw.Rest.Min, mw.Rest.Max, cOut, mw.Goroutines, mw.FDs)
			}
			w("\n(rest: the median of the window's samples of RSS − Go's heap in use − the store's memory; C outside the buffers: of RssAnon − (`go_memstats_sys_bytes` − `go_memstats_heap_released_bytes`) − the store's memory.)\n\n")
		}
	}
	w("| t (s) | RSS (MiB) | Go heap (MiB) | store (MiB) | fds | goroutines | sluice cores | acknowledged | counted | behind | log (KB) | invalid | DLQ written | tx aborted | tx failed | Kafka refusals | |\n")
	w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range r.Samples {
		var a, n int64
		for i := range row.Acked {
			a += row.Acked[i]
			n += row.Counted[i]
		}
		note := row.Note
		if row.CountError != "" {
			note = strings.TrimSpace(note + " " + strings.ReplaceAll(row.CountError, "|", "/"))
		}
		w("| %.0f | %.0f | %.0f | %.0f | %d | %d | %.2f | %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n",
			row.Seconds, float64(row.RSSkB)/1024, row.HeapBytes/(1<<20), row.StoreBytes/(1<<20), row.FDs, row.Goroutines, row.Cores, a, n, a-n, float64(row.LogBytes)/1024,
			row.Invalid, row.DLQ, row.TxAborted, row.TxFailed, row.Refusals, note)
	}
	w("\n\"behind\" is acknowledged − counted at the sample (events in the pipeline, or lost). ")
	w("\"invalid\", \"DLQ written\", \"tx aborted/failed\", \"Kafka refusals\": sluice's `sluice_pipeline_invalid_events_total`, `sluice_pipeline_dlq_records_total{result=\"written\"}`, `sluice_pipeline_transactions_total{result=\"aborted\"|\"failed\"}`, `sluice_kafka_refusals_total`, summed over projects.\n\n")

	w("## Poison: what each kind got\n\n")
	w("Answers as the sender saw them (a Kafka error name, an HTTP status and Keen error, `acknowledged`, or `timeout` after %s), summed over projects. Nothing is asserted: this records the behaviour of the commit above.\n\n", c.poisonTimeout)
	w("| kind | what is sent | sent | answers |\n|---|---|---:|---|\n")
	for _, k := range r.PoisonKinds {
		outs := r.Poison[k.Name]
		n := 0
		var parts []string
		for o, c := range outs {
			n += c
			parts = append(parts, fmt.Sprintf("%s × %d", o, c))
		}
		sort.Strings(parts)
		w("| %s | %s | %d | %s |\n", k.Name, k.What, n, strings.ReplaceAll(strings.Join(parts, "; "), "|", "/"))
	}
	w("\n")
	if len(r.Metrics) > 0 {
		var keys []string
		for k := range r.Metrics {
			if strings.HasPrefix(k, "sluice_pipeline_") || strings.HasPrefix(k, "sluice_kafka_refusals") || strings.HasPrefix(k, "sluice_kafka_auth_failures") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		w("sluice's pipeline counters at the last sample (summed over projects): ")
		for i, k := range keys {
			if i > 0 {
				w(", ")
			}
			w("`%s` %.0f", k, r.Metrics[k])
		}
		w(".\n\n")
	}

	w("## sluice's log (WARN and above)\n\n")
	w("%d lines, %.1f KB over the run, by level, message and error, numbers and ids folded (most frequent first", sumLines(r.Logs), float64(r.LogBytes)/1024)
	if len(r.Logs) > 25 {
		w("; the first 25 of %d", len(r.Logs))
	}
	w("):\n\n")
	if len(r.Logs) == 0 {
		w("(none)\n")
	} else {
		w("| level | message | err | lines | KB | the first such line |\n|---|---|---|---:|---:|---|\n")
		for i, l := range r.Logs {
			if i == 25 {
				break
			}
			w("| %s | %s | %s | %d | %.1f | `%s` |\n", l.Level, mdCell(truncate(l.Msg, 160)), mdCell(l.Err), l.Count, float64(l.Bytes)/1024, mdCell(truncate(l.First, 300)))
		}
	}
	if r.StopError != "" {
		w("\nStopping sluice (SIGTERM, SIGKILL after 20 s): %s\n", r.StopError)
	}
	return s.String()
}

// mdCell keeps text inside one Markdown table cell (and code span).
func mdCell(s string) string {
	return strings.NewReplacer("|", "/", "`", "'", "\n", " ").Replace(s)
}

func sumLines(ls []logCount) int {
	n := 0
	for _, l := range ls {
		n += l.Count
	}
	return n
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * (a - b) / b
}

// soakWindow is the length of the soak report's memory windows.
const soakWindow = 15 * time.Minute

// memoryWindow sums the samples of one window of the soak's traffic.
type memoryWindow struct {
	Label                             string
	Samples                           int
	RSS, Heap, Store, Goroutines, FDs float64 // means, MiB for memory
	Rest                              spread  // RSS − heap − store, MiB
	COutside                          spread  // soakSample.cOutside, MiB; empty if never sampled
}

// memoryWindows groups the samples taken during traffic of trafficSeconds
// by window of length d (the last may be shorter; a sample just past the
// end of the traffic counts in it).
func memoryWindows(samples []soakSample, d time.Duration, trafficSeconds float64) []memoryWindow {
	var out []memoryWindow
	var rest, cOut []float64
	const mib = 1 << 20
	last := max(int(math.Ceil(trafficSeconds/d.Seconds()-0.01))-1, 0) // the traffic ends a little after its duration
	for _, sm := range samples {
		if sm.Seconds <= 0 || sm.Note != "" {
			continue // the start, and samples after the traffic
		}
		i := min(int(math.Ceil(sm.Seconds/d.Seconds()))-1, last)
		for len(out) <= i {
			k := len(out)
			if len(out) > 0 {
				out[k-1].Rest, out[k-1].COutside = spreadOf(rest), spreadOf(cOut)
			}
			rest, cOut = nil, nil
			out = append(out, memoryWindow{Label: fmt.Sprintf("%.0f–%.0f min", (time.Duration(k) * d).Minutes(), (time.Duration(k+1) * d).Minutes())})
		}
		mw := &out[i]
		n := float64(mw.Samples)
		mean := func(m *float64, v float64) { *m = (*m*n + v) / (n + 1) }
		r, h, st := float64(sm.RSSkB)*1024/mib, sm.HeapBytes/mib, max(sm.StoreBytes, 0)/mib
		mean(&mw.RSS, r)
		mean(&mw.Heap, h)
		mean(&mw.Store, st)
		mean(&mw.Goroutines, float64(sm.Goroutines))
		mean(&mw.FDs, float64(sm.FDs))
		mw.Samples++
		rest = append(rest, r-h-st)
		if c := sm.cOutside(); !math.IsNaN(c) {
			cOut = append(cOut, c/mib)
		}
	}
	if len(out) > 0 {
		out[len(out)-1].Rest, out[len(out)-1].COutside = spreadOf(rest), spreadOf(cOut)
	}
	return out
}
