package main

import (
	"cmp"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// e2eHotspotRules sum a CPU profile of sluice during the end-to-end run,
// where the pipeline does most of the work, by component.
var e2eHotspotRules = []rule{
	{what: "pipeline: storing in DuckDB (store.Insert, cgo)", any: []string{"internal/store.", "duckdb"}},
	{what: "pipeline: validating and enriching (internal/event)", any: []string{"internal/event.", "pipeline.(*Pipeline).prepare", "pipeline.(*Pipeline).processPartition"}},
	{what: "pipeline: building and producing outbound records", any: []string{"pipeline.(*Pipeline).storeAndBuild", "pipeline.(*Pipeline).produce", "pipeline.outboundRecords"}},
	{what: "pipeline: franz-go (fetching raw records, producing, transactions)", any: []string{"franz-go/pkg/kgo."}},
	{what: "listeners: TLS", any: []string{"crypto/tls."}},
	{what: "listeners: Kafka protocol and gateway (Inbound and Outbound)", any: []string{"internal/kafkaproto.", "internal/gateway."}},
	{what: "garbage collector", any: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{what: "Go scheduler and network poller", any: []string{"runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.morestack"}},
}

const stepPoll = "1. polling the raw topics (PollRecords)"

// pipelineStep names the step of the pipeline's loop (pipeline.go: poll,
// prepare, begin, store, produce, commit) from a stack of its goroutine.
func pipelineStep(stack []string) string {
	switch {
	case has(stack, "pipeline.(*Pipeline).prepare"):
		return "2. validating and enriching the poll (prepare)"
	case has(stack, "GroupTransactSession).Begin"):
		return "3. beginning the transaction"
	case has(stack, "pipeline.(*Pipeline).storeAndBuild"):
		return "4. storing the poll in DuckDB and building the outbound records"
	case has(stack, "pipeline.(*Pipeline).produce"):
		return "5. producing the outbound records in the transaction"
	case has(stack, "GroupTransactSession).End"):
		return "6. committing: flush, offsets in the transaction, EndTxn"
	case has(stack, "PollRecords"), has(stack, "PollFetches"):
		return stepPoll
	}
	return "other"
}

// pipelineShare is a share of the pipeline loop's wall time.
type pipelineShare struct {
	Step  string        `json:"step"`
	State string        `json:"state"` // running, runnable, blocked, syscall
	Dur   time.Duration `json:"duration_ns"`
	Share float64       `json:"share"`
}

// pipelineWallTime reads a Go execution trace of sluice and splits the
// wall time of the pipeline's loop goroutine (Pipeline.run) by step and
// state. A running interval is put on the step its goroutine was in when
// it stopped running; a blocked one on the step it blocked in.
func pipelineWallTime(file string) ([]pipelineShare, time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return nil, 0, err
	}
	type gstate struct {
		state, step string
		since       trace.Time
		loop        bool
		acc         map[[2]string]time.Duration
	}
	gs := map[trace.GoID]*gstate{}
	newG := func() *gstate { return &gstate{step: "other", acc: map[[2]string]time.Duration{}} }
	var first, last trace.Time
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		now := ev.Time()
		if first == 0 {
			first = now
		}
		last = now
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		g := gs[id]
		if g == nil {
			g = newG()
			gs[id] = g
		}
		var stack []string
		for fr := range st.Stack.Frames() {
			stack = append(stack, fr.Func)
		}
		if has(stack, "pipeline.(*Pipeline).run") {
			g.loop = true
		}
		step := g.step
		if len(stack) > 0 {
			step = pipelineStep(stack)
		}
		if g.state != "" {
			at := g.step // blocked: where it blocked
			if g.state == "running" || g.state == "runnable, waiting for a CPU" {
				at = step // running: where it stopped running
			}
			g.acc[[2]string{at, g.state}] += now.Sub(g.since)
		}
		_, to := st.Goroutine()
		switch to {
		case trace.GoRunning:
			g.state = "running"
		case trace.GoRunnable:
			g.state = "runnable, waiting for a CPU"
		case trace.GoSyscall:
			g.state = "in a system call or cgo (DuckDB)"
		case trace.GoWaiting:
			g.state = "blocked (" + st.Reason + ")"
		default:
			g.state = ""
		}
		if len(stack) > 0 {
			g.step = step
		}
		g.since = now
	}
	sums := map[[2]string]time.Duration{}
	var total time.Duration
	for _, g := range gs {
		if !g.loop {
			continue
		}
		if g.state != "" {
			g.acc[[2]string{g.step, g.state}] += last.Sub(g.since)
		}
		for k, v := range g.acc {
			sums[k] += v
			total += v
		}
	}
	if total == 0 {
		return nil, last.Sub(first), errors.New("no pipeline loop goroutine in the trace")
	}
	var out []pipelineShare
	for k, v := range sums {
		out = append(out, pipelineShare{Step: k[0], State: k[1], Dur: v, Share: float64(v) / float64(total)})
	}
	slices.SortFunc(out, func(a, b pipelineShare) int {
		if c := strings.Compare(a.Step, b.Step); c != 0 {
			return c
		}
		return cmp.Compare(b.Dur, a.Dur)
	})
	return out, last.Sub(first), nil
}
