package event

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func autofilled(t *testing.T, p *Processor, payload string, autofill map[string]any) (Event, map[string]any) {
	t.Helper()
	in := testInput(payload)
	in.Autofill = autofill
	return mustProcess(t, p, in)
}

func TestAutofillDeepMerge(t *testing.T) {
	p := newTestProcessor(t, nil)
	af := map[string]any{
		"customer": map[string]any{"id": 232130982.0, "name": "Some Name", "plan": map[string]any{"tier": "gold"}},
		"tenant":   "acme",
		"tags":     []any{"a", 1.5, true, nil},
	}
	_, m := autofilled(t, p, `{"customer":{"id":1,"email":"x@y","plan":{"seats":3,"tier":"free"}},"item":"hat","tags":["old"]}`, af)
	checkFields(t, m, map[string]string{
		"customer.id":         `232130982`, // autofill wins
		"customer.name":       `"Some Name"`,
		"customer.email":      `"x@y"`, // the event's own properties stay
		"customer.plan.seats": `3`,
		"customer.plan.tier":  `"gold"`,
		"tenant":              `"acme"`,
		"item":                `"hat"`,
		"tags":                `["a",1.5,true,null]`, // arrays are values: replaced, not merged
	})
}

func TestAutofillReplacesNonObjects(t *testing.T) {
	p := newTestProcessor(t, nil)
	// An autofill object replaces an event scalar, and the other way round.
	_, m := autofilled(t, p, `{"customer":"c-1","account":{"id":5}}`,
		map[string]any{"customer": map[string]any{"id": "c-2"}, "account": "acct-9"})
	checkFields(t, m, map[string]string{"customer": `{"id":"c-2"}`, "account": `"acct-9"`})
	// null is a value like any other.
	_, m = autofilled(t, p, `{"x":1}`, map[string]any{"x": nil})
	checkFields(t, m, map[string]string{"x": `null`})
}

func TestAutofillRunsAfterAddons(t *testing.T) {
	p := newTestProcessor(t, nil)
	// Autofill is applied last, so it wins over an add-on's output too, and
	// an add-on cannot read autofilled properties.
	_, m := autofilled(t, p, withAddons(`"u":"https://a.com/x"`,
		`{"name":"keen:url_parser","input":{"url":"u"},"output":"page"}`,
		`{"name":"keen:url_parser","input":{"url":"fromkey"},"output":"never"}`),
		map[string]any{"page": map[string]any{"domain": "pinned.example"}, "fromkey": "https://b.com"})
	checkFields(t, m, map[string]string{"page.domain": `"pinned.example"`, "page.path": `"/x"`, "never": "<absent>"})
}

func TestAutofillCannotTouchKeen(t *testing.T) {
	p := newTestProcessor(t, nil)
	_, m := autofilled(t, p, `{"keen":{"timestamp":"2014-04-25T20:38:04.084Z"}}`,
		map[string]any{"keen": map[string]any{"timestamp": "2000-01-01T00:00:00Z", "id": "x"}, "a": 1.0})
	checkFields(t, m, map[string]string{"keen.timestamp": `"2014-04-25T20:38:04.084Z"`, "keen.id": `"` + testID + `"`, "a": `1`})
}

func TestAutofillValues(t *testing.T) {
	p := newTestProcessor(t, nil)
	ev, _ := autofilled(t, p, `{}`, map[string]any{
		"f": 0.1, "big": 1e21, "small": 1e-7, "int": 42, "i64": int64(-7), "u64": uint64(1 << 63),
		"num": json.Number("12345678901234567890.5"), "s": "quote \" and \u2028 and \xff", "empty": map[string]any{},
		"list": []any{}, "f32": float32(0.5),
	})
	for _, want := range []string{`"f":0.1`, `"big":1e+21`, `"small":1e-7`, `"int":42`, `"i64":-7`, `"u64":9223372036854775808`,
		`"num":12345678901234567890.5`, `"s":"quote \" and ` + "\u2028" + ` and \ufffd"`, `"empty":{}`, `"list":[]`, `"f32":0.5`} {
		if !strings.Contains(string(ev.JSON), want) {
			t.Errorf("stored %s lacks %s", ev.JSON, want)
		}
	}
	// Keys come in a stable (sorted) order.
	if i, j := strings.Index(string(ev.JSON), `"big"`), strings.Index(string(ev.JSON), `"u64"`); i > j {
		t.Errorf("autofill keys not sorted: %s", ev.JSON)
	}
	// Empty autofill changes nothing.
	plain, _ := mustProcess(t, p, testInput(`{"a":1}`))
	empty, _ := autofilled(t, p, `{"a":1}`, map[string]any{})
	if string(plain.JSON) != string(empty.JSON) {
		t.Errorf("empty autofill changed the event: %s", empty.JSON)
	}
}

func TestInvalidAutofill(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct {
		af   map[string]any
		err  string
		want string
	}{
		{map[string]any{"a.b": 1}, ErrInvalidPropertyName, `property name "a.b" contains "."`},
		{map[string]any{"c": map[string]any{"$x": 1}}, ErrInvalidPropertyName, `"$x" (inside "c")`},
		{map[string]any{"list": []any{map[string]any{"a": 1}}}, ErrListsOfNonPrimitives, `"list" holds an object at index 0`},
		{map[string]any{"c": map[string]any{"m": []any{1, []any{2}}}}, ErrListsOfNonPrimitives, `"c.m" holds an array at index 1`},
		{map[string]any{"n": math.NaN()}, ErrInvalidPropertyValue, `"n" is NaN`},
		{map[string]any{"n": json.Number("1e")}, ErrInvalidPropertyValue, `"n" is not a valid number`},
		{map[string]any{"ch": make(chan int)}, ErrInvalidPropertyValue, `"ch" has a value of Go type chan int`},
	} {
		in := testInput(`{"x":1}`)
		in.Autofill = c.af
		mustRefuse(t, p, in, c.err, "the access key's autofill is invalid", c.want)
	}
}
