package saved

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Runner runs saved queries as the query API runs ad-hoc ones: package
// query parses, runs and shapes them.
type Runner struct {
	Store store.Store
	// MaxExtractionBytes bounds an extraction's events (0:
	// limits.Default's), as for the query API.
	MaxExtractionBytes int64
}

// Run answers a saved query at now: Keen's answer object ({"result": …},
// and a funnel's "steps" and "actors") as JSON. keyFilters (an access
// key's) are ANDed in. A refusal is a *query.Error; an extraction over its
// bounds a *store.TooLargeError.
func (r Runner) Run(ctx context.Context, sq registry.SavedQuery, keyFilters []registry.Filter, now time.Time) (json.RawMessage, error) {
	q, err := Parse(sq.ProjectID, sq.Query, keyFilters, now)
	if err != nil {
		return nil, err
	}
	if q.Analysis == query.Extraction {
		q.Store.MaxBytes = r.MaxExtractionBytes
		if q.Store.MaxBytes == 0 {
			q.Store.MaxBytes = limits.Default().MaxExtractionBytes
		}
	}
	ans, err := query.Run(ctx, r.Store, q)
	if err != nil {
		return nil, err
	}
	if q.Analysis == query.Extraction {
		var b bytes.Buffer
		b.WriteString(`{"result":[`)
		for i, ev := range ans.Events {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(ev)
		}
		b.WriteString("]}")
		return b.Bytes(), nil
	}
	body, err := json.Marshal(ans.Body)
	if err != nil {
		return nil, fmt.Errorf("encoding the answer of saved query %s: %w", sq.Name, err)
	}
	return body, nil
}

// Answer is the body of …/queries/saved/{name}/result: the saved query's
// document with the answer's fields ("result", and a funnel's "steps" and
// "actors") beside it.
func Answer(doc Document, answer json.RawMessage) (json.RawMessage, error) {
	d, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding a saved query document: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(d, &fields); err != nil {
		return nil, fmt.Errorf("reading a saved query document: %w", err)
	}
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(answer, &ans); err != nil {
		return nil, fmt.Errorf("reading a saved query's answer: %w", err)
	}
	for k, v := range ans {
		fields[k] = v
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding a saved query's result: %w", err)
	}
	return out, nil
}
