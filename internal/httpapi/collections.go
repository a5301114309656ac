package httpapi

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// GET /3.0/projects/{PID}/streams/collections (master key; sluice's own,
// for the Streams page; docs/http-api.md): the project's collections, each
// with its outbound and DLQ topic names and its event rates in, out and to
// the DLQ.
//
// Rates come from the backend, not from this process: the sum of the end
// offsets of the collection's raw topics (in), outbound topic (out) and DLQ
// topic (dlq), sampled at each request and compared with this process's
// earlier sample of the same project, at most rateWindow old. Every sluice
// process sharing the backend therefore reports the same figures, whichever
// one wrote or processed the events. Offsets count records, plus one marker
// per transaction on topics written transactionally, so "out" is an upper
// bound.

const (
	rateWindow = 10 * time.Second // rates average over at most this long
	rateMinGap = 500 * time.Millisecond
	rateForget = time.Minute // a project nobody looks at is forgotten
)

type flowDoc struct {
	Total     int64    `json:"total"`
	PerSecond *float64 `json:"per_second"` // null until two samples exist
}

type collectionDoc struct {
	Name          string  `json:"name"`
	OutboundTopic string  `json:"outbound_topic"`
	DLQTopic      string  `json:"dlq_topic"`
	In            flowDoc `json:"in"`
	Out           flowDoc `json:"out"`
	DLQ           flowDoc `json:"dlq"`
}

type collectionsDoc struct {
	OutboundEnabled bool            `json:"outbound_enabled"`
	SampledSeconds  float64         `json:"sampled_seconds"` // the rates' window, 0 without rates
	Collections     []collectionDoc `json:"collections"`
}

// sample is one reading of backend end offsets.
type sample struct {
	at   time.Time
	ends map[string]int64 // backend topic → sum of its partitions' end offsets
}

// rateSampler keeps each project's recent samples.
type rateSampler struct {
	mu        sync.Mutex
	byProject map[string][]sample // oldest first
}

func newRateSampler() *rateSampler { return &rateSampler{byProject: map[string][]sample{}} }

// add records cur for pid and returns the sample to compare it with: the
// oldest one within rateWindow and at least rateMinGap old (ok false if
// none).
func (s *rateSampler) add(pid string, cur sample) (prev sample, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, ss := range s.byProject {
		if cur.at.Sub(ss[len(ss)-1].at) > rateForget {
			delete(s.byProject, p)
		}
	}
	var kept []sample
	for _, old := range s.byProject[pid] {
		if cur.at.Sub(old.at) <= rateWindow {
			kept = append(kept, old)
		}
	}
	for _, old := range kept {
		if cur.at.Sub(old.at) >= rateMinGap {
			prev, ok = old, true
			break
		}
	}
	s.byProject[pid] = append(kept, cur)
	return prev, ok
}

// flow is the total and rate of a set of backend topics between two
// samples. A topic missing from prev had no records then; a smaller offset
// (a topic deleted and created again) counts as no progress.
func flow(topics []string, prev sample, havePrev bool, cur sample) flowDoc {
	var d flowDoc
	var delta int64
	for _, t := range topics {
		d.Total += cur.ends[t]
		if havePrev {
			delta += max(0, cur.ends[t]-prev.ends[t])
		}
	}
	if havePrev {
		if secs := cur.at.Sub(prev.at).Seconds(); secs > 0 {
			r := float64(delta) / secs
			d.PerSecond = &r
		}
	}
	return d
}

// projectTopics groups pid's backend topics by collection: its raw topics
// (one per writing autofill key, plus the plain one), its outbound topic and
// its DLQ, the latter two only if they exist.
type collectionTopics struct {
	raw           []string
	outbound, dlq string // client names
	out, dlqB     []string
}

func projectTopics(pid string, all []string) map[string]*collectionTopics {
	exists := make(map[string]bool, len(all))
	for _, t := range all {
		exists[t] = true
	}
	byName := map[string]*collectionTopics{}
	for _, t := range all {
		r, ok := tenancy.ParseRawTopic(t)
		if !ok || r.ProjectID != pid {
			continue
		}
		c := byName[r.Collection]
		if c == nil {
			out := tenancy.OutboundTopicName(r.Collection)
			c = &collectionTopics{outbound: out, dlq: tenancy.DLQTopicName(out)}
			if b := tenancy.BackendOutboundTopic(pid, c.outbound); exists[b] {
				c.out = []string{b}
			}
			if b := tenancy.BackendOutboundTopic(pid, c.dlq); exists[b] {
				c.dlqB = []string{b}
			}
			byName[r.Collection] = c
		}
		c.raw = append(c.raw, t)
	}
	return byName
}

func (a *API) listCollections(w http.ResponseWriter, r *http.Request, p registry.Project) {
	if a.cfg.Offsets == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", "Collection statistics are not available on this server.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	all, err := a.cfg.Offsets.Topics(ctx)
	if err != nil {
		a.internalError(w, r, "listing collections", err)
		return
	}
	byName := projectTopics(p.ID, all)
	var topics []string
	for _, c := range byName {
		topics = append(append(append(topics, c.raw...), c.out...), c.dlqB...)
	}
	ends, err := a.cfg.Offsets.EndOffsets(ctx, topics)
	if err != nil {
		a.internalError(w, r, "reading collection offsets", err)
		return
	}
	cur := sample{at: a.now(), ends: ends}
	prev, havePrev := a.rates.add(p.ID, cur)
	s, _ := a.cfg.Registry.Streams(p.ID)
	doc := collectionsDoc{OutboundEnabled: s.OutboundEnabled, Collections: []collectionDoc{}}
	if havePrev {
		doc.SampledSeconds = cur.at.Sub(prev.at).Seconds()
	}
	for name, c := range byName {
		doc.Collections = append(doc.Collections, collectionDoc{
			Name: name, OutboundTopic: c.outbound, DLQTopic: c.dlq,
			In:  flow(c.raw, prev, havePrev, cur),
			Out: flow(c.out, prev, havePrev, cur),
			DLQ: flow(c.dlqB, prev, havePrev, cur),
		})
	}
	sort.Slice(doc.Collections, func(i, j int) bool { return doc.Collections[i].Name < doc.Collections[j].Name })
	writeJSON(w, http.StatusOK, doc)
}
