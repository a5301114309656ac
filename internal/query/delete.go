package query

import (
	"encoding/json"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// Selection is the store query selecting the events of a collection that
// Keen's filters, timeframe and timezone (JSON values; nil when not given)
// select at time now: what a DELETE of an event collection with those
// parameters deletes. Its Analysis is unset (store.Deletion does not use
// it).
func Selection(pid, collection string, filters, timeframeJSON, timezoneJSON json.RawMessage, now time.Time) (store.Query, error) {
	q := store.Query{ProjectID: pid, Collection: collection}
	loc, err := timezone(timezoneJSON)
	if err != nil {
		return q, err
	}
	if q.Start, q.End, err = timeframe(timeframeJSON, now, loc); err != nil {
		return q, err
	}
	q.Filters, err = parseFilters(filters)
	return q, err
}
