package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
)

// props is an object of n properties p0…p<n-1> (without braces).
func props(n int, value string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%s`, i, value)
	}
	return b.String()
}

// hostileCase is an event shape a hostile or careless producer may send,
// and its one outcome: stored (err "") or refused with Keen-style error err
// whose message holds every string of want.
type hostileCase struct {
	name, payload string
	err           string
	want          []string
}

func hostileCases() []hostileCase {
	const deep = 100_000
	max := limits.MaxPropertiesPerEvent
	return []hostileCase{
		// Nesting: refused at the 1,001st level, without recursing further.
		{"100,000 nested objects", strings.Repeat(`{"a":`, deep) + "1" + strings.Repeat("}", deep), ErrInvalidEvent, []string{"more than 1000 levels", "…"}},
		{"100,000 nested arrays", "[" + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "]", ErrInvalidEvent, []string{"JSON object, not an array"}},
		{"100,000 nested arrays in a property", `{"a":` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "}", ErrListsOfNonPrimitives, []string{`"a"`, "an array at index 0"}},
		{"100,000 nested arrays, unclosed", `{"a":` + strings.Repeat("[", deep), ErrListsOfNonPrimitives, []string{`"a"`}},
		{"100,000 nested objects, unclosed", strings.Repeat(`{"a":`, deep), ErrInvalidEvent, []string{"more than 1000 levels"}},
		{"1,000 levels", strings.Repeat(`{"a":`, 999) + "1" + strings.Repeat("}", 999), "", nil},

		// NUL: escaped, it is a character like any other; raw, it is not JSON.
		{"escaped NUL in a name and a value", `{"a\u0000b":"x\u0000y","n":{"\u0000":["\u0000"]}}`, "", nil},
		{"raw NUL in a value", "{\"a\":\"x\x00y\"}", ErrInvalidEvent, []string{"control character", `"a"`}},
		{"raw NUL in a name", "{\"a\x00\":1}", ErrInvalidEvent, []string{"control character"}},
		{"raw NUL between members", "{\"a\":1,\x00\"b\":2}", ErrInvalidEvent, []string{"invalid JSON"}},

		// Properties: counted as the event is read, refused past the limit.
		{"the limit of properties", "{" + props(max, "1") + "}", "", nil},
		{"one property too many", "{" + props(max+1, "1") + "}", ErrPropertyLimit, []string{fmt.Sprintf("more than %d properties", max), fmt.Sprintf(`"p%d"`, max)}},
		{"10,000 properties", "{" + props(10_000, `"v"`) + "}", ErrPropertyLimit, []string{"more than 1000 properties"}},
		{"10,000 nested properties", `{"o":{"q":{` + props(10_000, "true") + "}}}", ErrPropertyLimit, []string{`"o.q.p1000"`}},
		{"10,000 properties after keen", `{"keen":{"timestamp":"2024-01-01T00:00:00Z"},` + props(10_000, "null") + "}", ErrPropertyLimit, []string{"more than 1000"}},
		{"10,000 empty objects", "{" + props(10_000, "{}") + "}", "", nil},
		{"an array of 100,000 elements is one property", `{"a":[` + strings.TrimSuffix(strings.Repeat("1,", 100_000), ",") + "]}", "", nil},

		// Large strings.
		{"one 890 KB string", `{"s":"` + strings.Repeat("x", 890_000) + `"}`, "", nil},
		{"150,000 escapes", `{"s":"` + strings.Repeat(`\u00e9`, 149_000) + `"}`, "", nil},
		{"a 890 KB name", `{"` + strings.Repeat("n", 890_000) + `":1}`, ErrInvalidPropertyName, []string{"890000 characters"}},
		{"an unterminated 890 KB string", `{"s":"` + strings.Repeat("x", 890_000), ErrInvalidEvent, []string{"unterminated string"}},

		// Invalid UTF-8, anywhere.
		{"invalid UTF-8 in a value", "{\"s\":\"\xff\xfe\"}", ErrInvalidEvent, []string{"invalid UTF-8"}},
		{"invalid UTF-8 in a name", "{\"\xed\xa0\x80\":1}", ErrInvalidEvent, []string{"invalid UTF-8"}}, // an encoded surrogate
		{"invalid UTF-8 outside strings", "{\"s\":1\xff}", ErrInvalidEvent, []string{"invalid JSON"}},

		// Numbers outside float64: kept as sent (the store reads ±Inf and 0).
		{"1e400", `{"big":1e400,"neg":-1e400,"tiny":1e-400,"long":` + strings.Repeat("9", 100_000) + "}", "", nil},
	}
}

// TestHostileEvents: each shape gets its one outcome from Process, without
// recursing through it, and in memory proportional to its size. A stored
// one is also flattened as the store will, without error.
func TestHostileEvents(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			in := testInput(c.payload)
			in.Leaves = true
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ev, err := p.Process(in)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(16*len(c.payload))+4<<20 {
				t.Errorf("Process allocated %d bytes for an event of %d", alloc, len(c.payload))
			}
			if c.err != "" {
				mustRefuse(t, p, testInput(c.payload), c.err, c.want...)
				var e *Error
				if errors.As(err, &e) && len(e.Message) > 1000 {
					t.Errorf("message of %d bytes: %.300s…", len(e.Message), e.Message)
				}
				compareStream(t, p, testInput(c.payload)) // the streaming path refuses it too
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !json.Valid(ev.JSON) {
				t.Fatalf("stored JSON is not valid: %.200s", ev.JSON)
			}
			leaves, err := leaf.Flatten(ev.JSON, nil)
			if err != nil {
				t.Fatalf("the store could not flatten the stored event: %v", err)
			}
			if len(leaves) > limits.MaxPropertiesPerEvent+3 { // + keen.id, keen.timestamp, keen.created_at
				t.Errorf("%d leaves", len(leaves))
			}
			compareStream(t, p, testInput(c.payload))
		})
	}
}

// TestHugeNumbersAreKeptAndRead: numbers past float64's range are stored
// as sent; their leaves are ±Inf and 0.
func TestHugeNumbersAreKeptAndRead(t *testing.T) {
	p := newTestProcessor(t, nil)
	in := testInput(`{"big":1e400,"neg":-1e400,"tiny":1e-400}`)
	in.Leaves = true
	ev, err := p.Process(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev.JSON), `"big":1e400,"neg":-1e400,"tiny":1e-400`) {
		t.Errorf("stored %s", ev.JSON)
	}
	got := map[string]float64{}
	for _, f := range ev.Leaves {
		got[f.Key] = f.Num
	}
	for path, want := range map[string]float64{"big": math.Inf(1), "neg": math.Inf(-1), "tiny": 0} {
		if v, ok := got[leaf.Key(path, leaf.Number)]; !ok || v != want {
			t.Errorf("%s: %v (present %v), want %v", path, v, ok, want)
		}
	}
}

// FuzzProcess: whatever the payload, Process stores it or refuses it with
// one of Keen's error names; a stored event is valid UTF-8 JSON that the
// store can flatten, with no more properties than the limit allows.
//
//	go test -run x -fuzz FuzzProcess -fuzztime 3m ./internal/event/
func FuzzProcess(f *testing.F) {
	for _, c := range hostileCases() {
		if len(c.payload) < 4096 {
			f.Add([]byte(c.payload))
		}
	}
	f.Add(event1KB(false))
	f.Add([]byte(`{"a":{"b":[1,"x"]},"keen":{"timestamp":"2014-04-25","uniqueness_token":"t"}}`))
	f.Add([]byte(`{"ua":"Mozilla/5.0","keen":{"addons":[{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"o"}]}}`))
	f.Add([]byte(`{"u":"https://a.b/c?d=e#f","keen":{"addons":[{"name":"keen:url_parser","input":{"url":"u"},"output":"o"}]}}`))
	f.Add([]byte(`{"keen":{"addons":[{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"t"}]}}`))
	f.Add([]byte(`{"" :1}`))
	names := map[string]bool{ErrInvalidEvent: true, ErrInvalidPropertyName: true, ErrListsOfNonPrimitives: true,
		ErrInvalidKeenNamespace: true, ErrNamespaceType: true, ErrInvalidPropertyValue: true, ErrInvalidAddOn: true, ErrPropertyLimit: true}
	p := newTestProcessor(f, nil)
	f.Fuzz(func(t *testing.T, payload []byte) {
		in := testInput(string(payload))
		in.Leaves = true
		ev, err := p.Process(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !names[e.Name] || e.Message == "" {
				t.Fatalf("Process(%q): %v", payload, err)
			}
			return
		}
		if !json.Valid(ev.JSON) {
			t.Fatalf("Process(%q) stored invalid JSON %q", payload, ev.JSON)
		}
		leaves, err := leaf.Flatten(ev.JSON, nil)
		if err != nil {
			t.Fatalf("Process(%q) stored %q, which the store cannot flatten: %v", payload, ev.JSON, err)
		}
		if len(leaves) > limits.MaxPropertiesPerEvent+10 {
			t.Fatalf("Process(%q): %d leaves", payload, len(leaves))
		}
	})
}
