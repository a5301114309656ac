package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// countableRun is what measureCountable saw: per event, its acknowledgement
// and the end of the first poll that found it countable (unix nanos; 0:
// never), and each poll's round trip.
type countableRun struct {
	acked, visible []int64
	polls          []time.Duration
}

// measureCountable produces rate events/s for duration into collection
// (through cl, whose default topic is that collection's), each with
// "seq": i, and polls every pollEvery for the events that are countable:
// one select_unique of seq over the events not yet seen (seq ≥ the
// smallest of them). An event's latency is from its acknowledgement to the
// end of the first poll whose answer holds it: an upper bound, within one
// poll interval plus the poll's own round trip (reported apart). Each
// event is timed on its own: one that is late does not delay the figures
// of those after it.
func measureCountable(ctx context.Context, cl *kgo.Client, httpURL string, p project, collection string, pl [][]byte,
	rate int, duration, pollEvery time.Duration) (countableRun, error) {
	total := int(float64(rate) * duration.Seconds())
	acked := make([]atomic.Int64, total)
	run := countableRun{acked: make([]int64, total), visible: make([]int64, total)}
	var produceErr atomic.Value

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the producer, paced by the clock
		defer wg.Done()
		start := time.Now()
		for i := 0; i < total; i++ {
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-pctx.Done():
					return
				case <-time.After(d):
				}
			}
			base := pl[i%len(pl)]
			v := append([]byte(fmt.Sprintf(`{"seq":%d,`, i)), base[1:]...)
			cl.Produce(pctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					produceErr.CompareAndSwap(nil, err)
					return
				}
				acked[i].Store(time.Now().UnixNano())
			})
		}
	}()

	lowest, seen := 0, 0 // the smallest seq not yet seen; how many are
	deadline := time.Now().Add(duration + 60*time.Second)
	for seen < total && time.Now().Before(deadline) {
		if err, _ := produceErr.Load().(error); err != nil {
			return run, err
		}
		// Acknowledgements of different partitions come in any order:
		// every poll asks, once the first event is acknowledged.
		if acked[0].Load() != 0 {
			raw, rtt, err := queryAPI(ctx, httpURL, p.ID, p.Read, "select_unique", map[string]any{
				"event_collection": collection, "target_property": "seq",
				"filters": []any{map[string]any{"property_name": "seq", "operator": "gte", "property_value": lowest}}})
			if err != nil {
				return run, err
			}
			now := time.Now().UnixNano()
			run.polls = append(run.polls, rtt)
			var seqs []int
			if err := json.Unmarshal(raw, &seqs); err != nil {
				return run, fmt.Errorf("select_unique of seq: %w (%.200s)", err, raw)
			}
			for _, i := range seqs {
				if i >= 0 && i < total && run.visible[i] == 0 {
					run.visible[i] = now
					seen++
				}
			}
			for lowest < total && run.visible[lowest] != 0 {
				lowest++
			}
			if lowest == total {
				break
			}
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	cancel()
	wg.Wait()
	for i := range acked {
		run.acked[i] = acked[i].Load()
	}
	return run, nil
}

// latencies returns produce ack → countable in ms, sorted, of the events
// acknowledged from warmup after the first acknowledgement on (measured),
// and of those before (warm: left out of the figures, reported apart), and
// how many were never seen countable. The warm-up runs from the first
// acknowledgement, not the first send: a new collection's first events
// wait for its topic, and are acknowledged together seconds later.
func (r countableRun) latencies(warmup time.Duration) (measured, warm []float64, notSeen int) {
	var first int64
	for _, a := range r.acked {
		if a != 0 && (first == 0 || a < first) {
			first = a
		}
	}
	from := first + int64(warmup)
	for i := range r.acked {
		if r.visible[i] == 0 || r.acked[i] == 0 {
			notSeen++
			continue
		}
		ms := float64(r.visible[i]-r.acked[i]) / 1e6
		if r.acked[i] < from {
			warm = append(warm, ms)
		} else {
			measured = append(measured, ms)
		}
	}
	sortFloats(measured)
	sortFloats(warm)
	return measured, warm, notSeen
}

// writeTSV writes, per event, its seq, acknowledgement and first poll
// that held it (unix nanos; 0: never), for tracing the tail against
// sluice's debug log.
func (r countableRun) writeTSV(path string) error {
	var b strings.Builder
	b.WriteString("seq\tacked_unix_ns\tcountable_unix_ns\n")
	for i := range r.acked {
		fmt.Fprintf(&b, "%d\t%d\t%d\n", i, r.acked[i], r.visible[i])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// pollQuantiles returns the p50 and p99 of the polls' round trips, in ms.
func (r countableRun) pollQuantiles() (p50, p99 float64) {
	ms := make([]float64, len(r.polls))
	for i, d := range r.polls {
		ms[i] = float64(d) / 1e6
	}
	if len(ms) == 0 {
		return 0, 0
	}
	sortFloats(ms)
	return quantile(ms, 0.5), quantile(ms, 0.99)
}
