package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/limits"
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
// them, and nothing may be lost), plus, when the record would not fit the
// topic's max.message.bytes whole, that the payload was cut and how long it
// was.
type dlqValue struct {
	Event       string `json:"event"`
	Error       string `json:"error"`
	EventBase64 string `json:"event_base64,omitempty"`
	// EventTruncated says event (and event_base64) hold only the first
	// bytes of the payload, which was EventBytes long.
	EventTruncated bool `json:"event_truncated,omitempty"`
	EventBytes     int  `json:"event_bytes,omitempty"`
	// KeyBytes is the length of the producer's record key when it was too
	// large to be kept on the DLQ record (which then has no key).
	KeyBytes int `json:"key_bytes,omitempty"`
}

// maxDLQErrorBytes bounds the error text of a DLQ record; error messages
// are short, but one built around a store's error is not ours to bound.
const maxDLQErrorBytes = 4096

// maxDLQKeyBytes bounds the producer's key kept on a DLQ record, so that
// at least half of max.message.bytes is left for the payload.
const maxDLQKeyBytes = limits.MaxMessageBytes / 2

// dlqRecord builds the dead letter for an invalid raw record (key and
// payload as the producer sent them) whose keen.id would have been id. The
// producer's key is kept, so partitioning by key carries over. The record
// always fits limits.MaxMessageBytes: a payload that would not is cut (see
// dlqValue). Topic and partition are the caller's.
func dlqRecord(collection, id string, key, payload []byte, errText string) *kgo.Record {
	r := &kgo.Record{Key: key, Headers: recordHeaders(collection, id)}
	keyBytes := 0
	if len(key) > maxDLQKeyBytes {
		r.Key, keyBytes = nil, len(key)
	}
	if len(errText) > maxDLQErrorBytes {
		errText = strings.ToValidUTF8(errText[:maxDLQErrorBytes], "") + "…"
	}
	r.Value = dlqValueBytes(payload, errText, keyBytes, limits.MaxMessageBytes-recordSize(r))
	return r
}

// dlqValueBytes encodes the DLQ value of payload within budget bytes,
// cutting the payload if it must. JSON escaping makes the encoded size of
// a prefix hard to know in advance (`<` takes 6 bytes, invalid UTF-8 a
// base64 copy besides), so a prefix is guessed in proportion and checked.
func dlqValueBytes(payload []byte, errText string, keyBytes, budget int) []byte {
	// Every payload byte costs at least one byte of the value (in event
	// or in event_base64), so a longer prefix than budget never fits.
	n := min(len(payload), max(budget, 0))
	for {
		b := encodeDLQ(payload, n, errText, keyBytes)
		if len(b) <= budget || n == 0 {
			return b
		}
		// Cut in proportion to the excess, and by at least the excess
		// over the most a payload byte can cost (6 for an escape, plus
		// 4/3 for its base64), so every round gets closer.
		excess := len(b) - budget
		cut := max(excess*n/len(b), excess/8, 1)
		n = max(n-cut, 0)
	}
}

// encodeDLQ encodes a DLQ value holding the first n bytes of payload, cut
// back to the start of a UTF-8 character (the base64 copy holds the same
// bytes).
func encodeDLQ(payload []byte, n int, errText string, keyBytes int) []byte {
	valid := utf8.Valid(payload)
	for i := 0; i < utf8.UTFMax-1 && n > 0 && n < len(payload) && !utf8.RuneStart(payload[n]); i++ {
		n--
	}
	cut := payload[:n]
	v := dlqValue{Event: string(cut), Error: errText, KeyBytes: keyBytes}
	if n < len(payload) {
		v.EventTruncated, v.EventBytes = true, len(payload)
	}
	if !valid {
		v.Event = strings.ToValidUTF8(string(cut), "\uFFFD")
		v.EventBase64 = base64.StdEncoding.EncodeToString(cut)
	}
	b, _ := json.Marshal(v) // strings and numbers only: cannot fail
	return b
}

func recordHeaders(collection, id string) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: HeaderCollection, Value: []byte(collection)}, {Key: HeaderID, Value: []byte(id)}}
}
