package clickhouse

import (
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/store"
)

// Looking up claims. keen.ids are hashes, so a set of them hits about
// every granule of a table ordered by keen.id: a lookup would read every
// claim ever written, and Inserts would slow down as events accumulate.
// Claims are therefore ordered by the raw record they come from (src: its
// topic and partition; off: its offset), and a batch's events, which come
// from a few offset ranges, are looked up in those ranges. keen.id is a
// function of the position (event.ID), so a keen.id's claims all have its
// position: an event claimed again is found in its own range. Claims of
// events without a position (src "", written by callers other than the
// pipeline) are looked up too, in their own part of the order; an event
// without a position is looked up by keen.id alone, across every claim.

// claimSource is the src of ev's claims ("" when its position is not known).
func claimSource(ev *store.Event) string {
	if ev.Source.Topic == "" {
		return ""
	}
	return ev.Source.Topic + "/" + strconv.Itoa(int(ev.Source.Partition))
}

// claimFilters returns WHERE conditions over claimsTable, one per
// statement (each under maxSet bytes of keen.ids), that together select
// every claim of evs' keen.ids; evs are all of project.
func claimFilters(project string, evs []*store.Event) []string {
	var out, bare []string
	var chunk []*store.Event
	size := 0
	flush := func() {
		if len(chunk) == 0 {
			return
		}
		ids := make([]string, len(chunk))
		type span struct{ lo, hi int64 }
		spans := map[string]span{}
		var srcs []string
		for i, ev := range chunk {
			ids[i] = ev.ID
			src, off := claimSource(ev), ev.Source.Offset
			sp, ok := spans[src]
			if !ok {
				srcs = append(srcs, src)
				sp = span{off, off}
			}
			spans[src] = span{min(sp.lo, off), max(sp.hi, off)}
		}
		ranges := []string{"src = ''"}
		for _, src := range srcs {
			sp := spans[src]
			ranges = append(ranges, "(src = "+str(src)+" AND off BETWEEN "+strconv.FormatInt(sp.lo, 10)+" AND "+strconv.FormatInt(sp.hi, 10)+")")
		}
		out = append(out, "("+strings.Join(ranges, " OR ")+") AND project = "+str(project)+" AND id IN "+inSet(ids))
		chunk, size = nil, 0
	}
	for _, ev := range evs {
		if claimSource(ev) == "" {
			bare = append(bare, ev.ID)
			continue
		}
		n := len(str(ev.ID))
		if size > 0 && size+n > maxSet {
			flush()
		}
		chunk = append(chunk, ev)
		size += n
	}
	flush()
	for _, set := range inSets(bare) {
		out = append(out, "project = "+str(project)+" AND id IN "+set)
	}
	return out
}
