// Package store keeps stored Keen events and answers queries over them
// (docs/decisions.md §7). The Store interface is what the pipeline writes and
// the query API reads; implementations live beside it.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// UniquenessWindow is how long a keen.uniqueness_token blocks later events
// with the same token in the same collection (Keen: 31 days).
const UniquenessWindow = 31 * 24 * time.Hour

// Event is one stored event.
type Event struct {
	ProjectID  string
	Collection string
	ID         string // keen.id
	Timestamp  time.Time
	CreatedAt  time.Time
	// UniquenessToken, when set, makes the event the only one with that
	// token in its collection for UniquenessWindow.
	UniquenessToken string
	JSON            []byte // the whole stored event, keen object included
	// ValidUTF8 says JSON is known to be valid UTF-8 (the event package's
	// output is), so Insert need not check its strings; otherwise invalid
	// bytes in strings are stored as U+FFFD.
	ValidUTF8 bool
	// Leaves, when not nil, are the typed leaves of JSON as leaf.Flatten
	// gives them (the event package finds them as it writes JSON); Insert
	// then does not read JSON for them.
	Leaves []leaf.Field
	// Source is the raw Kafka record the event was made from (zero when
	// unknown). With it, Insert knows a re-processed event by its position
	// instead of looking its keen.id up (see Source).
	Source Source
}

// Source is the position of a raw record in the backend. keen.id is a
// function of it (event.ID), so "this position is stored" is "this keen.id
// is stored". A store remembers, per (topic, partition), the offset after
// the last event it stored: a consumer processes a partition in offset
// order, and re-processing (after a crash or an aborted transaction)
// starts again from an earlier committed offset, so an event below that
// mark is already stored. Unlike an index over keen.ids, that costs the
// same however many events are stored.
type Source struct {
	Topic     string // "" when unknown
	Partition int32
	Offset    int64
}

// InsertResult says what an Insert did with each event.
type InsertResult struct {
	// Outcomes has one entry per event given to Insert, in order. A
	// refusal is deterministic: the same event is refused again when
	// processed again.
	Outcomes []Outcome
}

// Count is how many events had status st.
func (r InsertResult) Count(st Status) int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Status == st {
			n++
		}
	}
	return n
}

// Status is what an Insert did with one event.
type Status uint8

const (
	Stored    Status = iota + 1 // new: stored by this Insert
	Existing                    // already processed (same keen.id): re-processing
	Duplicate                   // dropped: another event holds its uniqueness token
	Refused                     // not stored (Outcome.Name, Message say why)
)

// Outcome is what an Insert did with one event.
type Outcome struct {
	Status Status
	// JSON is, for Existing, the event as stored by the Insert that
	// stored it (its keen.created_at, add-ons and autofill of then): what
	// Kafka Outbound streams for it, again. It is nil when the event was
	// processed before but is not stored: dropped as a duplicate then, or
	// deleted since (Delete); such an event is not streamed again.
	JSON []byte
	// Name is a Keen-style error name (e.g. "PropertyLimitError") and
	// Message says which limit and by how much, for Refused.
	Name, Message string
}

// TooLargeError is an extraction over Query.MaxEvents (Events set) or
// Query.MaxBytes.
type TooLargeError struct {
	Events    bool // over MaxEvents; else over MaxBytes
	MaxEvents int
	MaxBytes  int64
}

func (e *TooLargeError) Error() string {
	if e.Events {
		return fmt.Sprintf("the extraction matches more than %d events, the most one extraction returns", e.MaxEvents)
	}
	return fmt.Sprintf("the events the extraction matches are more than %d bytes of JSON, the most one extraction returns", e.MaxBytes)
}

// RewriteTooLargeError is a property deletion refused because it would
// rewrite more events than the engine does in one deletion.
type RewriteTooLargeError struct {
	Events, Max int64
}

func (e *RewriteTooLargeError) Error() string {
	return fmt.Sprintf("%d events hold the property, more than the %d one deletion rewrites; delete events first, or the collection", e.Events, e.Max)
}

// Store is an event store. Implementations are safe for concurrent use,
// and pass the conformance suite in package storetest.
type Store interface {
	// Insert stores events, idempotently on (project, keen.id). Events
	// of one Source topic and partition must come in offset order across
	// Inserts (as a consumer reads them); within one Insert any order.
	Insert(ctx context.Context, events []Event) (InsertResult, error)
	// Run answers a query (query.go says what each one means). An
	// unknown collection is a collection without events.
	Run(ctx context.Context, q Query) (Result, error)
	// Schema lists a project's collections and their properties.
	Schema(ctx context.Context, project string) ([]Collection, error)
	// Delete removes what d names from every later Run and Schema.
	Delete(ctx context.Context, d Deletion) (Deleted, error)
	Close() error
}
