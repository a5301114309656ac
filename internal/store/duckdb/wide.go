package duckdb

import (
	"fmt"
	"strconv"
)

// ErrPropertyLimit is the Keen-style name of a refusal for too many
// properties (store.Outcome.Name of a store.Refused event).
const ErrPropertyLimit = "PropertyLimitError"

// Wide collections. A collection has one column per (property path, JSON
// type) its events have had (limits.Config.MaxPropertiesPerCollection):
// an event that would take it over is refused, the rest of the Insert
// stored. The check runs before anything else decides the event's fate,
// against the columns the table has plus those of the events accepted
// before it in the same Insert, so a refusal is deterministic: when the
// event is processed again (after a crash, or an aborted Kafka
// transaction), the columns can only have grown, by those very events if
// they were committed, and it is refused again, even though its partition's
// mark is past it. An event that was stored never needs a new column, so it
// is never refused when processed again.
type wideCheck struct {
	cols  map[string]string // the table's columns (nil: a new table)
	added map[string]bool   // the new columns of the events accepted so far: the columns to add
	max   int
	fresh map[string]bool // refuse's scratch
}

func newWideCheck(cols map[string]string, max int) *wideCheck {
	return &wideCheck{cols: cols, added: map[string]bool{}, max: max, fresh: map[string]bool{}}
}

// newKeys counts the fields of fe the collection has no column for yet,
// each once, and leaves them in w.fresh.
func (w *wideCheck) newKeys(fe flatEvent) int {
	clear(w.fresh)
	for i := range fe.fields {
		k := fe.fields[i].Key
		if _, ok := w.cols[k]; ok || w.added[k] {
			continue
		}
		w.fresh[k] = true
	}
	return len(w.fresh)
}

// refuse returns why fe would take the collection over the limit, or "".
func (w *wideCheck) refuse(fe flatEvent, collection string) string {
	n := w.newKeys(fe)
	have := len(w.cols) + len(w.added)
	if n == 0 || have+n <= w.max {
		return ""
	}
	what := "properties"
	if n == 1 {
		what = "property"
	}
	return fmt.Sprintf("the event would add %d %s to collection %s, which has %d of the %d it may have (one per property path and JSON type); the event was not stored",
		n, what, strconv.Quote(collection), have, w.max)
}

// accept counts the new columns of the event refuse was last asked about
// (and did not refuse): they are still in w.fresh.
func (w *wideCheck) accept() {
	for k := range w.fresh {
		w.added[k] = true
	}
}
