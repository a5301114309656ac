package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/leaf"
)

// The streaming path (stream.go) must give exactly what the tree path gives
// whenever it takes an event, and must leave every refused event to the tree
// path. These tests run both on the same inputs.

// compareStream runs both paths on in. It fails the test when the streaming
// path takes an event the tree path refuses, or stores it differently, and
// reports whether the streaming path took it and whether the tree path
// accepted it.
func compareStream(t *testing.T, p *Processor, in Input) (streamed, accepted bool) {
	t.Helper()
	wsTree := new(workspace)
	want, _, treeErr := p.processTree(wsTree, &in)
	ws := new(workspace)
	got, ok := p.processStream(ws, &in)
	switch {
	case ok && treeErr != nil:
		t.Fatalf("streaming path took an event the tree path refuses (%v):\n%q\nautofill %v\nstored %s", treeErr, in.Payload, in.Autofill, got.JSON)
	case ok && !reflect.DeepEqual(got, want):
		t.Fatalf("paths differ on\n%q\nautofill %v\nstream: %+v\n  %s\ntree:   %+v\n  %s", in.Payload, in.Autofill, got, got.JSON, want, want.JSON)
	}
	if ok {
		compareLeaves(t, p, in)
	}
	// And Process, which picks, gives the tree path's answer.
	ev, err := p.Process(in)
	if treeErr != nil {
		if e, isErr := err.(*Error); !isErr || *e != *treeErr {
			t.Fatalf("Process(%q) = %v, want %v", in.Payload, err, treeErr)
		}
	} else if err != nil || !reflect.DeepEqual(ev, want) {
		t.Fatalf("Process(%q) = %s, %v; want %s", in.Payload, ev.JSON, err, want.JSON)
	} else if !utf8.Valid(ev.JSON) { // the store relies on it (Event.JSON)
		t.Fatalf("Process(%q) = %q: invalid UTF-8", in.Payload, ev.JSON)
	}
	return ok, treeErr == nil
}

// compareLeaves: the leaves the streaming path notes are those of the stored
// JSON, as the store would find them (leaf.Flatten).
func compareLeaves(t *testing.T, p *Processor, in Input) {
	t.Helper()
	in.Leaves = true
	ws := new(workspace)
	ws.leafKeys.Intern(0, []byte("a stale key")) // a workspace is reused across events
	ev, ok := p.processStream(ws, &in)
	if !ok || ev.Leaves == nil {
		t.Fatalf("no leaves for %q (streamed: %v)", in.Payload, ok)
	}
	want, err := leaf.Flatten(ev.JSON, nil)
	if err != nil {
		t.Fatalf("flatten %s: %v", ev.JSON, err)
	}
	if got, want := leafTexts(ev.Leaves), leafTexts(want); !slices.Equal(got, want) {
		t.Fatalf("leaves of\n%q\nautofill %v\nstored %s\ngot  %q\nwant %q", in.Payload, in.Autofill, ev.JSON, got, want)
	}
}

// leafTexts renders leaves for comparison (leaf.Field.String).
func leafTexts(fs []leaf.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// TestStreamTakesCommonEvents: events the streaming path exists for must not
// fall back (else it would be dead code that the comparison cannot see).
func TestStreamTakesCommonEvents(t *testing.T) {
	p := newTestProcessor(t, nil)
	autofill := map[string]any{"customer": map[string]any{"tenant": "acme", "id": 232130982.0}, "source": "kafka", "keen": map[string]any{"id": "x"}}
	for _, payload := range []string{
		string(event1KB(false)),
		`{}`, ` { } `, `{"keen":{}}`, `{"a":1}`, " {\n\t\"a\" : [ 1 , \"x\" , true , null ] ,\r\n \"b\" : { \"c\" : { } } } ",
		`{"keen":{"timestamp":"2014-04-25T20:38:04.084+02:00","uniqueness_token":"t-1","location":{"coordinates":[-122.4,37.7]},"id":"old","created_at":"old","addons":[]},"x":"y"}`,
		`{"x":1,"keen":{"timestamp":"2014-04-25"}}`,
		`{"ünïcödé":"😀 é \u00e9 \ud83d\ude00 \" \\ \/ \b\f\n\r\t","n":[0,-0,1e10,1E-5,-12.5e+3,123456789012345678901234567890]}`,
		`{"ip":"${keen.ip}","ua":"${keen.user_agent}","t":["${keen.ip}"],"o":"${keen.other}"}`,
		`{"customer":{"name":"F","id":"mine"},"source":{"was":"object"}}`,
		`{"customer":"not an object","a":{"customer":{}}}`,
		`{"` + strings.Repeat("n", 255) + `":1}`,
		`{"obj":{` + manyMembers(100) + `}}`,
	} {
		for _, af := range []map[string]any{nil, autofill} {
			in := testInput(payload)
			in.Autofill = af
			if streamed, _ := compareStream(t, p, in); !streamed {
				t.Errorf("streaming path fell back on %.80s (autofill %v)", payload, af != nil)
			}
		}
	}
}

// TestStreamMatchesTree compares both paths on generated events, valid and
// broken in every way the rules know.
func TestStreamMatchesTree(t *testing.T) {
	p := newTestProcessor(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	autofills := []map[string]any{
		nil,
		{"a": 1.0},
		{"a": map[string]any{"b": "x", "c": map[string]any{"d": true}}, "z": []any{"q", 1.0}},
		{"keen": "ignored", "b": nil, "e": map[string]any{}},
		{"a": map[string]any{"c": map[string]any{"x": "y"}}, "ünï": "u", "m": json.Number("12345678901234567890.5")},
		{"a": "not UTF-8 \xff\xed\xa0\x80", "b": []any{"\xc3"}},
		{"a.b": 1.0},                             // invalid: refused
		{"a": []any{map[string]any{"x": 1.0}}},   // invalid: refused
		{"a": map[string]any{"$b": 1.0}, "c": 2}, // invalid: refused
	}
	const n = 30000
	var streamed, accepted int
	for i := range n {
		g := eventGen{rng: rng, noisy: rng.IntN(2) == 0}
		payload := g.event()
		in := testInput(string(payload))
		in.Autofill = autofills[rng.IntN(len(autofills)-3)]
		if g.noisy {
			in.Autofill = autofills[rng.IntN(len(autofills))]
		}
		s, a := compareStream(t, p, in)
		if s {
			streamed++
		}
		if a {
			accepted++
		}
		if t.Failed() {
			t.Fatalf("after %d events", i)
		}
	}
	t.Logf("%d events: %d accepted, %d of them streamed", n, accepted, streamed)
	// The generator makes mostly valid events: the comparison must have
	// both paths' answers to compare.
	if accepted < n/4 || streamed < accepted/2 {
		t.Errorf("%d events: only %d accepted and %d streamed; the generator no longer tests the streaming path", n, accepted, streamed)
	}
}

// eventGen writes random events: mostly valid, each part broken now and
// then.
type eventGen struct {
	rng   *rand.Rand
	b     bytes.Buffer
	depth int
	// noisy: break one thing (so that each rule is tested on its own:
	// the streaming path must notice this one problem); else the event is
	// valid but maybe for keen.
	noisy, broken bool
}

func (g *eventGen) chance(oneIn int) bool { return g.rng.IntN(oneIn) == 0 }

// breaks: time to break something.
func (g *eventGen) breaks(oneIn int) bool {
	if !g.noisy || g.broken || !g.chance(oneIn) {
		return false
	}
	g.broken = true
	return true
}

func (g *eventGen) event() []byte {
	g.space()
	switch {
	case g.breaks(100):
		g.b.WriteString(`[1]`)
	case g.breaks(150):
		g.b.WriteString(`"x"`)
	default:
		g.object(true)
	}
	g.space()
	if g.breaks(100) {
		g.b.WriteString(`{}`)
	}
	out := bytes.Clone(g.b.Bytes())
	switch {
	case g.breaks(20) && len(out) > 0: // cut short
		out = out[:g.rng.IntN(len(out))]
	case g.breaks(20) && len(out) > 0: // one byte changed
		out[g.rng.IntN(len(out))] = byte(g.rng.IntN(256))
	case g.breaks(100): // nested too deep
		out = []byte(`{"d":` + strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1001))
	case g.chance(200): // as deep as allowed
		out = []byte(`{"d":` + strings.Repeat(`{"a":`, 998) + `[1]` + strings.Repeat("}", 999))
	}
	return out
}

func (g *eventGen) space() {
	if g.chance(4) {
		g.b.WriteString([]string{" ", "\n", "\t ", "\r\n  "}[g.rng.IntN(4)])
	}
}

func (g *eventGen) object(root bool) {
	g.depth++
	defer func() { g.depth-- }()
	g.b.WriteByte('{')
	g.space()
	n := g.rng.IntN(6)
	if g.chance(30) {
		n = 16 + g.rng.IntN(40) // wide objects are checked for duplicates differently
	}
	var names []string
	for i := range n {
		if i > 0 {
			g.b.WriteByte(',')
			g.space()
		}
		name := g.name()
		if root && g.chance(5) {
			name = `"keen"`
		}
		if len(names) > 0 && g.breaks(30-20*min(n/16, 1)) {
			name = names[g.rng.IntN(len(names))] // duplicate
		} else if slices.Contains(names, name) || name == `"\u0061"` && slices.Contains(names, `"a"`) {
			name = fmt.Sprintf(`"u%d"`, i)
		}
		names = append(names, name)
		g.b.WriteString(name)
		g.space()
		g.b.WriteByte(':')
		g.space()
		if name == `"keen"` && root {
			g.keen()
		} else {
			g.value()
		}
		g.space()
	}
	if g.breaks(50) {
		g.b.WriteByte(',') // trailing comma
	}
	g.b.WriteByte('}')
}

func (g *eventGen) name() string {
	if g.breaks(8) {
		return []string{
			`"a.b"`, `"$set"`, `""`, `"` + strings.Repeat("x", 256) + `"`, `"` + strings.Repeat("é", 256) + `"`,
			"\"a\xff\"", `"a\u002eb"`, `a`, `"$"`, `"keen"`,
		}[g.rng.IntN(10)]
	}
	switch g.rng.IntN(20) {
	case 0:
		return `"\u0061"` // escaped: the tree path decodes it to "a"
	case 1:
		return `"` + strings.Repeat("x", 255) + `"`
	case 2:
		return `"` + strings.Repeat("é", 255) + `"`
	}
	names := []string{"a", "b", "c", "id", "name", "customer", "source", "e", "z", "tags", "x", "item_name", "a$", "ünï", "k", "l", "m", "n"}
	return `"` + names[g.rng.IntN(len(names))] + `"`
}

func (g *eventGen) value() {
	switch r := g.rng.IntN(20); {
	case r < 7:
		g.str()
	case r < 11:
		g.number()
	case r < 13:
		if g.breaks(15) {
			g.b.WriteString([]string{"tru", "nul", "True", "falsey"}[g.rng.IntN(4)])
		} else {
			g.b.WriteString([]string{"true", "false", "null"}[g.rng.IntN(3)])
		}
	case r < 16:
		if g.depth < 6 {
			g.object(false)
		} else {
			g.b.WriteString("{}")
		}
	default:
		g.array()
	}
}

func (g *eventGen) array() {
	g.b.WriteByte('[')
	g.space()
	n := g.rng.IntN(5)
	for i := range n {
		if i > 0 {
			g.b.WriteByte(',')
			g.space()
		}
		switch {
		case g.breaks(20):
			g.b.WriteString(`{"x":1}`)
		case g.breaks(20):
			g.b.WriteString(`[1]`)
		case g.chance(3):
			g.number()
		default:
			g.str()
		}
		g.space()
	}
	g.b.WriteByte(']')
}

func (g *eventGen) str() {
	if g.chance(20) {
		g.b.WriteString([]string{`"${keen.ip}"`, `"${keen.user_agent}"`, `"${keen.other}"`}[g.rng.IntN(3)])
		return
	}
	g.b.WriteByte('"')
	n := g.rng.IntN(40)
	if g.chance(10) {
		n = 100 + g.rng.IntN(200)
	}
	for range n {
		switch r := g.rng.IntN(100); {
		case r < 80:
			g.b.WriteByte(byte('a' + g.rng.IntN(26)))
		case r < 83:
			g.b.WriteString(" .,:;/-")
		case r < 86:
			g.b.WriteString([]string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\ud83d\ude00`}[g.rng.IntN(10)])
		case r < 89:
			g.b.WriteString([]string{"é", "😀", "–", "\u2028", "\ufffd"}[g.rng.IntN(5)])
		case r < 90 && g.breaks(1):
			// Broken: invalid UTF-8, a lone surrogate, a bad escape, a
			// control character, a surrogate encoded in UTF-8.
			g.b.WriteString([]string{"\xff", "\xc3", `\ud83d`, `\ude00`, `\x`, `\u12`, "\x01", "\n", "\xed\xa0\x80", "\xe2\x82"}[g.rng.IntN(10)])
		default:
			g.b.WriteString(`${keen.ip}`[:1+g.rng.IntN(10)])
		}
	}
	g.b.WriteByte('"')
}

func (g *eventGen) number() {
	if g.breaks(15) {
		g.b.WriteString([]string{"01", "1.", "-", "1e", "1e+", ".5", "+1", "0x1", "1.5e", "--1", "NaN", "Infinity"}[g.rng.IntN(12)])
		return
	}
	g.b.WriteString([]string{"0", "-0", "7", "-12", "3.25", "1e10", "1E-5", "-12.5e+3", "123456789012345678901234567890", "0.1000000000000000055511151231257827", "1e400"}[g.rng.IntN(11)])
}

func (g *eventGen) keen() {
	parts := []struct{ valid, invalid []string }{
		{[]string{`"timestamp":"2014-04-25T20:38:04.084Z"`, `"timestamp":"2014-04-25 20:38:04+02"`}, []string{`"timestamp":"not a time"`, `"timestamp":5`, `"timestamp":"${keen.ip}"`}},
		{[]string{`"location":{"coordinates":[-122.42,37.77]}`}, []string{`"location":{"coordinates":[200,1]}`, `"location":5`}},
		{[]string{`"uniqueness_token":"tok-1"`}, []string{`"uniqueness_token":""`, `"uniqueness_token":"` + strings.Repeat("é", 65) + `"`}},
		{[]string{`"id":"old"`, `"created_at":{"any":[{"x":1}]}`}, nil},
		{[]string{`"addons":[]`, `"addons":[{"name":"keen:url_parser","input":{"url":"u"},"output":"o"}]`}, []string{`"addons":[{"name":"nope"}]`}},
		{nil, []string{`"other":1`}},
	}
	if g.breaks(20) {
		g.value()
		return
	}
	g.b.WriteByte('{')
	first := true
	defer func() {
		if g.breaks(10) { // broken JSON inside keen
			s := g.b.String()
			g.b.Reset()
			switch i := strings.LastIndexByte(s, ','); {
			case i > 0 && g.chance(2):
				g.b.WriteString(s[:i] + s[i+1:]) // a comma missing
			case g.chance(2):
				g.b.WriteString(s[:len(s)-1] + ",}") // a trailing comma
			default:
				g.b.WriteString(s[:len(s)-1] + `"x"}`) // a name without a value
			}
		}
	}()
	for _, p := range parts {
		var member string
		switch {
		case len(p.invalid) > 0 && g.breaks(6):
			member = p.invalid[g.rng.IntN(len(p.invalid))]
		case len(p.valid) > 0 && g.chance(3):
			member = p.valid[g.rng.IntN(len(p.valid))]
		default:
			continue
		}
		if !first {
			g.b.WriteByte(',')
		}
		first = false
		g.space()
		g.b.WriteString(member)
		g.space()
	}
	g.b.WriteByte('}')
}

// TestScanTokensMatchParser compares the fast token scanners with the tree
// parser's byte-by-byte one (scanStringSlow), on strings that put every kind
// of byte at every position of an 8-byte word.
func TestScanTokensMatchParser(t *testing.T) {
	specials := []string{`"`, `\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, `\ud83d`, `\x`, "\x00", "\x1f", "\x7f", ".", "é", "\xff", "\xc3", "\xed\xa0\x80", "😀", "\\"}
	for _, sp := range specials {
		for pre := range 20 {
			for post := range 10 {
				body := strings.Repeat("a", pre) + sp + strings.Repeat("b", post)
				for _, tail := range []string{`"`, `":1`, ``} {
					data := []byte(`"` + body + tail)
					p := parser{data: data}
					raw, err := p.scanStringSlow()
					wantEnd, wantOK := len(raw), err == nil

					end, ok := scanStringToken(data, 0)
					if ok != wantOK || ok && end != wantEnd {
						t.Fatalf("scanStringToken(%q) = %d, %v; parser: %d, %v", data, end, ok, wantEnd, wantOK)
					}
					name, _ := unquote(raw)
					wantName := wantOK && !bytes.ContainsAny(raw, `\`) && !bytes.Contains(name, []byte("."))
					end, ok = scanNameToken(data, 0)
					if ok != wantName || ok && end != wantEnd {
						t.Fatalf("scanNameToken(%q) = %d, %v; want %d, %v", data, end, ok, wantEnd, wantName)
					}
				}
			}
		}
	}
}

func TestScanNumberMatchesParser(t *testing.T) {
	for _, s := range []string{"0", "-0", "01", "1.", "1.5", "-", "1e", "1e+", "1E-7", "12345678901234567890", "1.5e300x", "0.0.0", "-a", "9,", "1e5e5"} {
		p := parser{data: []byte(s)}
		_, err := p.scanNumber()
		end, ok := scanNumberToken([]byte(s), 0)
		if ok != (err == nil) || ok && end != p.pos {
			t.Errorf("scanNumberToken(%q) = %d, %v; parser: %d, %v", s, end, ok, p.pos, err)
		}
	}
}

// FuzzStreamMatchesTree: go test -run x -fuzz FuzzStreamMatchesTree ./internal/event/
func FuzzStreamMatchesTree(f *testing.F) {
	f.Add(event1KB(false), false)
	f.Add([]byte(`{"a":{"b":[1,"x"]},"keen":{"timestamp":"2014-04-25"}}`), true)
	f.Add([]byte(` {"a" : "\u00e9\ud83d\ude00" , "$":1}`), false)
	p := newTestProcessor(f, nil)
	f.Fuzz(func(t *testing.T, payload []byte, autofill bool) {
		in := testInput(string(payload))
		if autofill {
			in.Autofill = map[string]any{"a": map[string]any{"b": "x"}, "z": json.Number("1")}
		}
		compareStream(t, p, in)
	})
}

// TestProcessAlternatingAddons: after an event with add-ons, Process tries
// the tree path first (a hint kept in the workspace). Whatever the order,
// each event must come out as the tree path makes it.
func TestProcessAlternatingAddons(t *testing.T) {
	p := newTestProcessor(t, nil)
	withAddons := `{"u":"https://example.com/a?b=c","keen":{"addons":[{"name":"keen:url_parser","input":{"url":"u"},"output":"parsed"}]}}`
	refused := `{"a.b":1}`
	for _, seq := range [][]string{
		{withAddons, string(event1KB(false)), string(event1KB(false)), withAddons, withAddons, refused, string(event1KB(false))},
		{refused, withAddons, refused, string(event1KB(false))},
	} {
		for _, payload := range seq {
			compareStream(t, p, testInput(payload))
		}
	}
}
