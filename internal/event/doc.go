// Package event turns one raw Keen event (the JSON a client sent over HTTP or
// Kafka Inbound) into the event sluice stores and streams: it checks Keen's
// rules, builds the keen object, runs the data-enrichment add-ons and merges
// the access key's autofill, in that order (docs/contract.md §7, as
// Keen documents for its Kafka Inbound cluster). It is pure: no I/O besides opening the GeoIP database and
// no clock (the caller gives the times and the id), so processing the same
// raw record twice gives the same bytes.
//
//	p, _ := event.NewProcessor(geo) // geo from event.OpenGeoIP(path), or nil
//	ev, err := p.Process(event.Input{Payload: raw, RecordTime: rec.Timestamp,
//		ID: event.ID(rec.Topic, rec.Partition, rec.Offset), CreatedAt: now, Autofill: key.Autofill})
//	// err is an *event.Error (Keen's error name + a message) for a refused event;
//	// ev.JSON is the stored event, ev.UniquenessToken the dedupe key.
//
// Where Keen's documentation is silent (docs/contract.md §7), the choices are
// written next to the code that makes them:
//
//   - validate.go: empty property names and arrays of arrays are refused too;
//     parse.go: duplicate names in one object are refused, nesting is capped
//     at 1000 levels and properties at limits.MaxPropertiesPerEvent
//     (PropertyLimitError), lone UTF-16 surrogate escapes count as invalid
//     UTF-8;
//   - keen.go: a client's keen.id and keen.created_at are overwritten, not
//     refused; keen.location holds only coordinates, checked for range;
//   - timestamp.go: the ISO-8601 forms accepted; times are cut (not rounded)
//     to milliseconds;
//   - addons.go: unknown add-ons, malformed specifications and add-ons over
//     their bounds (count, input bytes) refuse the event, a missing input
//     skips the add-on, unusable input gives blank output; each addons_*.go
//     says what its output holds;
//   - autofill.go: autofill wins over the event and the add-ons.
//
// The event is never decoded into map[string]any: json.go keeps a small tree
// whose scalars are the client's exact JSON text (numbers are never rounded)
// and workspace.go pools its memory. Most events need no tree at all:
// stream.go checks an event without add-ons in one pass and copies it to the
// output in runs (the tree path runs only for add-ons, refusals and rare
// shapes), so a plain event costs one allocation, its output. Both read
// tokens with package jsontok, which package leaf's flattener shares
// (docs/architecture.md, "Reading JSON", says why there are these three
// readers and what each costs).
package event
