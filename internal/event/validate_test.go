package event

import (
	"github.com/sluice-io/sluice/internal/limits"
	"strings"
	"testing"
)

func TestValidEvents(t *testing.T) {
	p := newTestProcessor(t, nil)
	long := strings.Repeat("é", 255) // 255 characters, 510 bytes: the limit counts characters
	for _, payload := range []string{
		`{}`,
		` { "a" : 1 } `,
		`{"item":"x","price":469.50,"on_sale":true,"coupon":null}`,
		`{"customer":{"name":"F","address":{"city":"SF","geo":{"lat":1}}}}`,
		`{"tags":["a",1,2.5,true,false,null],"empty":[],"obj":{}}`,
		`{"a$b":1,"name with spaces":2,"ünïcödé":3,"_x":4,"-":5}`,
		`{"` + long + `":1}`,
		`{"nested":{"` + long + `":{"tags":[1,2]}}}`,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, // every escape, and a surrogate pair
		`{"n":[0,-0,1e10,1E-5,-12.5e+3,123456789012345678901234567890]}`,
		"{\"emoji\":\"😀\",\"ctrl-free\":\"tab\\tok\"}",
	} {
		ev, m := mustProcess(t, p, testInput(payload))
		if _, ok := m["keen"]; !ok {
			t.Errorf("%s: no keen object in %s", payload, ev.JSON)
		}
	}
}

func TestInvalidEvents(t *testing.T) {
	p := newTestProcessor(t, nil)
	long := strings.Repeat("x", 256)
	deep := strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001)
	cases := []struct {
		name, payload, err string
		want               []string // substrings of the message
	}{
		// Property names (docs/contract.md §7).
		{"dot", `{"a.b":1}`, ErrInvalidPropertyName, []string{`"a.b"`, `contains "."`, "dots"}},
		{"nested dot", `{"customer":{"first.name":"F"}}`, ErrInvalidPropertyName, []string{`"first.name"`, `inside "customer"`}},
		{"deep dot", `{"a":{"b":{"c.d":1}}}`, ErrInvalidPropertyName, []string{`"c.d"`, `inside "a.b"`}},
		{"dollar", `{"$set":1}`, ErrInvalidPropertyName, []string{`"$set"`, `starts with "$"`}},
		{"nested dollar", `{"a":{"$b":1}}`, ErrInvalidPropertyName, []string{`"$b"`, `inside "a"`}},
		{"256 characters", `{"` + long + `":1}`, ErrInvalidPropertyName, []string{"256 characters", "shorter than 256"}},
		{"empty name", `{"":1}`, ErrInvalidPropertyName, []string{`""`, "is empty"}},
		{"escaped dot", `{"a\u002eb":1}`, ErrInvalidPropertyName, []string{`"a.b"`, `contains "."`}},
		{"name in array object", `{"x":{"y":[1]},"z":{"$q":1}}`, ErrInvalidPropertyName, []string{`"$q"`, `inside "z"`}},

		// Arrays hold primitives only.
		{"array of objects", `{"items":[{"id":1}]}`, ErrListsOfNonPrimitives, []string{`"items"`, "an object at index 0"}},
		{"later element", `{"items":[1,2,{"id":1}]}`, ErrListsOfNonPrimitives, []string{`"items"`, "index 2"}},
		{"nested array of objects", `{"cart":{"lines":[{"sku":"a"}]}}`, ErrListsOfNonPrimitives, []string{`"cart.lines"`}},
		{"array of arrays", `{"m":[[1,2],[3]]}`, ErrListsOfNonPrimitives, []string{`"m"`, "an array at index 0"}},
		{"deep array of objects", `{"a":{"b":{"c":["x",{}]}}}`, ErrListsOfNonPrimitives, []string{`"a.b.c"`, "index 1"}},

		// Not an object, not JSON.
		{"empty", ``, ErrInvalidEvent, []string{"empty"}},
		{"blank", " \n\t", ErrInvalidEvent, []string{"empty"}},
		{"array", `[{"a":1}]`, ErrInvalidEvent, []string{"JSON object", "an array"}},
		{"string", `"hello"`, ErrInvalidEvent, []string{"a string"}},
		{"number", `42`, ErrInvalidEvent, []string{"a number"}},
		{"null", `null`, ErrInvalidEvent, []string{"null"}},
		{"garbage", `hello`, ErrInvalidEvent, []string{"invalid JSON at byte 0"}},
		{"trailing comma", `{"a":1,}`, ErrInvalidEvent, []string{"invalid JSON", "property name"}},
		{"unquoted name", `{a:1}`, ErrInvalidEvent, []string{"invalid JSON at byte 1"}},
		{"missing colon", `{"a" 1}`, ErrInvalidEvent, []string{`':' after property name "a"`}},
		{"unterminated", `{"a":"xyz`, ErrInvalidEvent, []string{"unterminated string", `"a"`}},
		{"unclosed", `{"a":{"b":1}`, ErrInvalidEvent, []string{"end of input"}},
		{"trailing data", `{"a":1} {"b":2}`, ErrInvalidEvent, []string{"after the event object"}},
		{"leading zero", `{"n":01}`, ErrInvalidEvent, []string{`after the value of "n"`}},
		{"missing comma in array", `{"t":[1 2]}`, ErrInvalidEvent, []string{`after element 0 of "t"`}},
		{"bare minus", `{"n":-}`, ErrInvalidEvent, []string{"invalid number"}},
		{"dot without digits", `{"n":1.}`, ErrInvalidEvent, []string{"after '.'"}},
		{"exponent without digits", `{"n":1e}`, ErrInvalidEvent, []string{"exponent"}},
		{"NaN", `{"n":NaN}`, ErrInvalidEvent, []string{"unexpected character"}},
		{"bad literal", `{"b":tru}`, ErrInvalidEvent, []string{"expected true"}},
		{"control character", "{\"s\":\"a\nb\"}", ErrInvalidEvent, []string{"control character", `"s"`}},
		{"bad escape", `{"s":"\x"}`, ErrInvalidEvent, []string{"escape", `"s"`}},
		{"duplicate", `{"a":1,"a":2}`, ErrInvalidEvent, []string{`"a"`, "more than once"}},
		{"nested duplicate", `{"c":{"id":1,"x":2,"id":3}}`, ErrInvalidEvent, []string{`"c.id"`, "more than once"}},
		{"duplicate in a big object", `{` + manyMembers(40) + `,"m7":1}`, ErrInvalidEvent, []string{`"m7"`, "more than once"}},
		{"too deep", deep, ErrInvalidEvent, []string{"more than 1000 levels"}},

		// UTF-8.
		{"invalid UTF-8 value", "{\"name\":\"caf\xe9\"}", ErrInvalidEvent, []string{`"name"`, "invalid UTF-8"}},
		{"invalid UTF-8 name", "{\"a\":{\"caf\xe9\":1}}", ErrInvalidEvent, []string{`inside "a"`, "invalid UTF-8"}},
		{"invalid UTF-8 top-level name", "{\"\xff\":1}", ErrInvalidEvent, []string{"top level", "invalid UTF-8"}},
		{"invalid UTF-8 in array", "{\"t\":[\"ok\",\"\xc3\x28\"]}", ErrInvalidEvent, []string{`"t[1]"`, "invalid UTF-8"}},
		{"overlong encoding", "{\"s\":\"\xc0\xaf\"}", ErrInvalidEvent, []string{`"s"`, "invalid UTF-8"}},
		{"lone high surrogate", `{"s":"\ud83d"}`, ErrInvalidEvent, []string{`"s"`, "surrogate"}},
		{"lone low surrogate", `{"s":"x\ude00"}`, ErrInvalidEvent, []string{`"s"`, "surrogate"}},
		{"reversed surrogates", `{"s":"\ude00\ud83d"}`, ErrInvalidEvent, []string{"surrogate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustRefuse(t, p, testInput(c.payload), c.err, c.want...)
		})
	}
}

func manyMembers(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"m`+itoa(i)+`":1`)
	}
	return strings.Join(parts, ",")
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestEventSize(t *testing.T) {
	p := newTestProcessor(t, nil)
	sized := func(n int) string { // a valid event of exactly n bytes
		const frame = `{"pad":""}`
		return `{"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
	}
	if ev, _ := mustProcess(t, p, testInput(sized(limits.MaxEventBytes))); len(ev.JSON) < limits.MaxEventBytes {
		t.Errorf("stored event lost data: %d bytes", len(ev.JSON))
	}
	mustRefuse(t, p, testInput(sized(limits.MaxEventBytes+1)), ErrInvalidEvent, "900001 bytes", "at most 900000 bytes")
}

func TestNumbersAndStringsAreKeptExactly(t *testing.T) {
	p := newTestProcessor(t, nil)
	payload := `{"big":123456789012345678901234567890,"precise":0.1000000000000000055511151231257827,` +
		`"exp":1.5E+300,"neg":-0.0,"s":"\u00e9\n\"x\"","slash":"a\/b"}`
	ev, _ := mustProcess(t, p, testInput(payload))
	for _, want := range []string{`"big":123456789012345678901234567890`, `"precise":0.1000000000000000055511151231257827`,
		`"exp":1.5E+300`, `"neg":-0.0`, `"s":"\u00e9\n\"x\""`, `"slash":"a\/b"`} {
		if !strings.Contains(string(ev.JSON), want) {
			t.Errorf("stored event %s lacks %s", ev.JSON, want)
		}
	}
}

func TestWhitespaceIsCompacted(t *testing.T) {
	p := newTestProcessor(t, nil)
	ev, _ := mustProcess(t, p, testInput("{\n  \"a\" : [ 1 , 2 ],\n  \"b\" : { \"c\" : \"d e\" }\n}\n"))
	if want := `"a":[1,2],"b":{"c":"d e"}}`; !strings.HasSuffix(string(ev.JSON), want) {
		t.Errorf("stored %s, want it to end with %s", ev.JSON, want)
	}
}

func TestOrderIsKept(t *testing.T) {
	p := newTestProcessor(t, nil)
	ev, _ := mustProcess(t, p, testInput(`{"z":1,"keen":{},"a":{"y":2,"b":3},"m":4}`))
	want := `{"keen":{"timestamp":"2024-05-06T07:08:09.123Z","created_at":"2024-05-06T07:08:10.987Z","id":"` + testID + `"},"z":1,"a":{"y":2,"b":3},"m":4}`
	if string(ev.JSON) != want {
		t.Errorf("stored\n%s\nwant\n%s", ev.JSON, want)
	}
}

// TestPlaceholdersStayText: the dynamic placeholders are the HTTP API's to
// replace, before the event reaches its raw topic (httpapi's
// placeholders.go); the pipeline, like Kafka Inbound, knows no client IP and
// keeps them as text.
func TestPlaceholdersStayText(t *testing.T) {
	p := newTestProcessor(t, nil)
	_, m := mustProcess(t, p, testInput(`{"ip":"${keen.ip}","ua":"${keen.user_agent}"}`))
	checkFields(t, m, map[string]string{"ip": `"${keen.ip}"`, "ua": `"${keen.user_agent}"`})
}

// TestLargeEvents: objects and arrays larger than the workspace's first
// slab, and an event big enough not to go back to the pool.
func TestLargeEvents(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, n := range []int{300, 20000} {
		var b strings.Builder
		b.WriteString(`{"list":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(itoa(i))
		}
		members := min(n, 900) // the limit of properties is 1,000
		b.WriteString(`],"obj":{` + manyMembers(members) + `}}`)
		_, m := mustProcess(t, p, testInput(b.String()))
		if got := len(m["list"].([]any)); got != n {
			t.Errorf("list has %d elements, want %d", got, n)
		}
		if got := len(m["obj"].(map[string]any)); got != members {
			t.Errorf("obj has %d members, want %d", got, members)
		}
	}
	// And a small one right after, from the pool.
	_, m := mustProcess(t, p, testInput(`{"a":[1,2],"b":{"c":3}}`))
	checkFields(t, m, map[string]string{"a": `[1,2]`, "b.c": `3`})
}
