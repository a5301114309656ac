package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	testRecordTime = time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
	testCreatedAt  = time.Date(2024, 5, 6, 7, 8, 10, 987_654_321, time.UTC)
	testID         = ID("sluice.in.0123456789abcdef01234567.purchases", 3, 42)
)

func testInput(payload string) Input {
	return Input{Payload: []byte(payload), RecordTime: testRecordTime, ID: testID, CreatedAt: testCreatedAt}
}

func newTestProcessor(t testing.TB, geo *GeoIP) *Processor {
	t.Helper()
	p, err := NewProcessor(geo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustProcess processes an event that must be accepted and returns the
// stored event decoded (numbers as json.Number).
func mustProcess(t testing.TB, p *Processor, in Input) (Event, map[string]any) {
	t.Helper()
	ev, err := p.Process(in)
	if err != nil {
		t.Fatalf("Process(%s): %v", in.Payload, err)
	}
	return ev, decode(t, ev.JSON)
}

func decode(t testing.TB, data []byte) map[string]any {
	t.Helper()
	if !json.Valid(data) {
		t.Fatalf("stored event is not valid JSON: %s", data)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// mustRefuse processes an event that must be refused with an *Error called
// name whose message contains every string of want.
func mustRefuse(t testing.TB, p *Processor, in Input, name string, want ...string) *Error {
	t.Helper()
	ev, err := p.Process(in)
	if err == nil {
		t.Fatalf("Process(%.200s) accepted: %s", in.Payload, ev.JSON)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Process(%.200s): error %T %v is not an *Error", in.Payload, err, err)
	}
	if e.Name != name {
		t.Errorf("Process(%.200s): error name %s, want %s (message: %s)", in.Payload, e.Name, name, e.Message)
	}
	for _, w := range want {
		if !strings.Contains(e.Message, w) {
			t.Errorf("Process(%.200s): message %q does not contain %q", in.Payload, e.Message, w)
		}
	}
	return e
}

// get reads a dotted path from a decoded event; ok is false when absent.
func get(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// jsonOf renders a decoded value compactly, for comparisons.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// checkFields compares fields of a decoded event (path → expected value as
// compact JSON; "<absent>" for a missing property).
func checkFields(t testing.TB, m map[string]any, want map[string]string) {
	t.Helper()
	for path, w := range want {
		got, ok := get(m, path)
		g := jsonOf(got)
		if !ok {
			g = "<absent>"
		}
		if g != w {
			t.Errorf("%s = %s, want %s", path, g, w)
		}
	}
}

func equalJSON(t testing.TB, got any, want string) {
	t.Helper()
	var w any
	d := json.NewDecoder(strings.NewReader(want))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("got %s, want %s", jsonOf(got), want)
	}
}
