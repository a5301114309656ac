package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Headers of outbound and DLQ records.
const (
	// HeaderCollection names the original collection (the topic name may
	// be a sanitized form of it, shared by two collections).
	HeaderCollection = "keen.collection"
	// HeaderID is the event's keen.id, also given to invalid events: it
	// is derived from the raw record, so a consumer can drop duplicates.
	HeaderID = "keen.id"
)

// dlqValue is a DLQ record's value: the seed's two keys, plus the payload's
// bytes in base64 when they are not valid UTF-8 (a JSON string cannot hold
// them, and nothing may be lost).
type dlqValue struct {
	Event       string `json:"event"`
	Error       string `json:"error"`
	EventBase64 string `json:"event_base64,omitempty"`
}

// dlqRecord builds the dead letter for an invalid raw record whose keen.id
// would have been id. The producer's key is kept, so partitioning by key
// carries over. Topic and partition are the caller's.
func dlqRecord(raw tenancy.Raw, id string, r *kgo.Record, invalid *event.Error) *kgo.Record {
	v := dlqValue{Event: string(r.Value), Error: invalid.Name + ": " + invalid.Message}
	if !utf8.Valid(r.Value) {
		v.Event = strings.ToValidUTF8(string(r.Value), "\uFFFD")
		v.EventBase64 = base64.StdEncoding.EncodeToString(r.Value)
	}
	b, _ := json.Marshal(v) // strings only: cannot fail
	return &kgo.Record{
		Key:     r.Key,
		Value:   b,
		Headers: recordHeaders(raw.Collection, id),
	}
}

func recordHeaders(collection, id string) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: HeaderCollection, Value: []byte(collection)}, {Key: HeaderID, Value: []byte(id)}}
}
