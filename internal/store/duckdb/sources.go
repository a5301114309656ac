package duckdb

// srcKey is a raw topic partition.
type srcKey struct {
	topic string
	part  int32
}

// splitBySource tells which events of one Insert are already stored,
// going by their store.Source (see store.Source): an event below its partition's mark
// is stored; one at or above it is new. lookup lists the events that have
// no Source, or whose partition has no mark yet in this store (a new
// partition, or a store written before marks were kept): only their
// keen.ids can tell. next is every partition's mark once this Insert is
// stored: past the highest offset it was given, whatever became of that
// event (stored, found already stored, or dropped as a duplicate: all are
// done with).
func splitBySource(evs []flatEvent, mark func(srcKey) (int64, bool)) (stored []bool, lookup []int, next map[srcKey]int64) {
	stored = make([]bool, len(evs))
	next = map[srcKey]int64{}
	for i, fe := range evs {
		src := fe.ev.Source
		if src.Topic == "" {
			lookup = append(lookup, i)
			continue
		}
		k := srcKey{src.Topic, src.Partition}
		m, ok := mark(k)
		switch {
		case !ok:
			lookup = append(lookup, i)
		case src.Offset < m:
			stored[i] = true
		}
		if n, seen := next[k]; !seen || src.Offset+1 > n {
			next[k] = max(src.Offset+1, m)
		}
	}
	return stored, lookup, next
}
