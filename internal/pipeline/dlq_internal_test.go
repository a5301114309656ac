package pipeline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/limits"
)

// A DLQ record always fits max.message.bytes: a payload that would not is
// cut (at a character boundary, the base64 copy likewise), and the record
// says so and how long the payload was.
func TestDLQRecordsFitTheMessageSize(t *testing.T) {
	mixed := bytes.Repeat([]byte("<\xff\"é\x01"), 400_000) // escapes, invalid bytes, 2-byte characters
	for _, c := range []struct {
		name      string
		key       []byte
		payload   []byte
		errText   string
		truncated bool
	}{
		{"small", []byte("k"), []byte(`{"a":1`), "InvalidEventError: x", false},
		{"180 KB of <", nil, bytes.Repeat([]byte("<"), 180_000), "InvalidEventError: x", true},
		{"170 KB of <", nil, bytes.Repeat([]byte("<"), 170_000), "InvalidEventError: x", false},
		{"1,048,400 bytes of JSON", []byte("key"), append(append([]byte(`{"a":"`), bytes.Repeat([]byte("a"), 1_048_400-8)...), '"', '}'), "InvalidEventError: too large", true},
		{"5,000,029 bytes of <", nil, bytes.Repeat([]byte("<"), 5_000_029), "InvalidEventError: x", true},
		{"2 MB of 2-byte characters", nil, bytes.Repeat([]byte("é"), 1_000_000), "InvalidEventError: x", true},
		{"mixed invalid UTF-8", []byte("k"), mixed, "InvalidEventError: x", true},
		{"invalid UTF-8 that fits", nil, []byte("\xff\xfe{"), "InvalidEventError: x", false},
		{"a 1 MB key", bytes.Repeat([]byte("k"), 1_000_000), []byte(`nope`), "InvalidEventError: x", false},
		{"a long error", nil, []byte(`nope`), strings.Repeat("é", 100_000), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := dlqRecord("coll", "0123456789abcdef01234567", c.key, c.payload, c.errText)
			if n := recordSize(r); n > limits.MaxMessageBytes {
				t.Fatalf("record of %d bytes, over %d", n, limits.MaxMessageBytes)
			}
			var v dlqValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			if v.EventTruncated != c.truncated {
				t.Fatalf("event_truncated = %v, want %v", v.EventTruncated, c.truncated)
			}
			if v.Error == "" || len(v.Error) > maxDLQErrorBytes+len("…") || !utf8.ValidString(v.Error) {
				t.Fatalf("error of %d bytes", len(v.Error))
			}
			kept := []byte(v.Event)
			if v.EventBase64 != "" {
				var err error
				if kept, err = base64.StdEncoding.DecodeString(v.EventBase64); err != nil {
					t.Fatal(err)
				}
				if v.Event != strings.ToValidUTF8(string(kept), "\uFFFD") {
					t.Fatal("event and event_base64 hold different bytes")
				}
			} else if !utf8.Valid(c.payload) {
				t.Fatal("invalid UTF-8 without event_base64")
			}
			if !bytes.HasPrefix(c.payload, kept) {
				t.Fatal("the kept bytes are no prefix of the payload")
			}
			if !c.truncated {
				if len(kept) != len(c.payload) || v.EventBytes != 0 {
					t.Fatalf("kept %d of %d bytes, event_bytes %d", len(kept), len(c.payload), v.EventBytes)
				}
			} else {
				if v.EventBytes != len(c.payload) || len(kept) >= len(c.payload) {
					t.Fatalf("event_bytes %d, kept %d, payload %d", v.EventBytes, len(kept), len(c.payload))
				}
				if len(kept) < len(c.payload) && !utf8.RuneStart(c.payload[len(kept)]) && utf8.Valid(c.payload) {
					t.Fatal("cut inside a character")
				}
				// Cut no more than needed: the record fills most of the limit.
				if n := recordSize(r); n < limits.MaxMessageBytes*9/10 {
					t.Fatalf("truncated record of %d bytes: cut too much", n)
				}
			}
			if len(c.key) > maxDLQKeyBytes {
				if r.Key != nil || v.KeyBytes != len(c.key) {
					t.Fatalf("key of %d bytes kept, key_bytes %d", len(r.Key), v.KeyBytes)
				}
			} else if !bytes.Equal(r.Key, c.key) || v.KeyBytes != 0 {
				t.Fatal("key not kept")
			}
		})
	}
}
