package event

import (
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/limits"
)

// withAddons builds an event from its properties (JSON members, without the
// braces) and add-on specifications.
func withAddons(props string, addons ...string) string {
	if props != "" {
		props += ","
	}
	return `{` + props + `"keen":{"addons":[` + strings.Join(addons, ",") + `]}}`
}

func TestAddonSpecErrors(t *testing.T) {
	p := newTestProcessor(t, nil)
	url := func(input, output string) string {
		return `{"name":"keen:url_parser","input":` + input + `,"output":` + output + `}`
	}
	cases := []struct {
		name, payload string
		want          []string
	}{
		{"addons not an array", `{"keen":{"addons":{"name":"keen:url_parser"}}}`, []string{"keen.addons must be an array", "not an object"}},
		{"addons null", `{"keen":{"addons":null}}`, []string{"keen.addons must be an array", "not null"}},
		{"spec not an object", withAddons("", `"keen:url_parser"`), []string{"keen.addons[0]", "must be an object", "not a string"}},
		{"missing name", withAddons(`"u":"x"`, `{"input":{"url":"u"},"output":"p"}`), []string{"keen.addons[0]", `"name" is missing`}},
		{"name not a string", withAddons("", `{"name":1,"input":{},"output":"p"}`), []string{`"name" must be a string, not a number`}},
		{"unknown add-on", withAddons("", `{"name":"keen:magic","input":{},"output":"p"}`),
			[]string{"keen.addons[0]", `unknown add-on "keen:magic"`, "keen:url_parser"}},
		{"second spec is bad", withAddons(`"u":"x"`, url(`{"url":"u"}`, `"a"`), `{"name":"url_parser","input":{"url":"u"},"output":"b"}`),
			[]string{"keen.addons[1]", `unknown add-on "url_parser"`}},
		{"unknown key", withAddons("", `{"name":"keen:url_parser","input":{"url":"u"},"output":"p","options":{}}`),
			[]string{"keen.addons[0]", `unknown key "options"`}},
		{"missing input", withAddons("", `{"name":"keen:url_parser","output":"p"}`), []string{"keen.addons[0] (keen:url_parser)", `"input" is missing`}},
		{"input not an object", withAddons("", url(`"u"`, `"p"`)), []string{`"input" must be an object`, `"url"`}},
		{"missing parameter", withAddons("", `{"name":"keen:referrer_parser","input":{"referrer_url":"r"},"output":"p"}`),
			[]string{"keen.addons[0] (keen:referrer_parser)", `input "page_url" is missing`}},
		{"parameter not a string", withAddons("", url(`{"url":["u"]}`, `"p"`)), []string{`input "url" must be a property name`, "not an array"}},
		{"unknown parameter", withAddons("", url(`{"url":"u","uri":"v"}`, `"p"`)), []string{`unknown input "uri"`, `keen:url_parser takes "url"`}},
		{"optional parameter elsewhere", withAddons("", url(`{"url":"u","remove_ip_property":true}`, `"p"`)), []string{`unknown input "remove_ip_property"`}},
		{"remove_ip_property not a boolean", withAddons("", `{"name":"keen:ip_to_geo","input":{"ip":"ip","remove_ip_property":"yes"},"output":"g"}`),
			[]string{`input "remove_ip_property" must be true or false, not a string`}},
		{"empty input path", withAddons("", url(`{"url":""}`, `"p"`)), []string{`input "url": property path "" is empty`}},
		{"bad input path", withAddons("", url(`{"url":"page..url"}`, `"p"`)), []string{`"page..url"`, "empty segment"}},
		{"missing output", withAddons("", `{"name":"keen:url_parser","input":{"url":"u"}}`), []string{`"output" is missing`}},
		{"output not a string", withAddons("", url(`{"url":"u"}`, `{"path":"p"}`)), []string{`"output" must be a property name`, "not an object"}},
		{"empty output", withAddons("", url(`{"url":"u"}`, `""`)), []string{`output "" is empty`}},
		{"output trailing dot", withAddons("", url(`{"url":"u"}`, `"p."`)), []string{`output "p."`, "empty segment"}},
		{"output under keen", withAddons("", url(`{"url":"u"}`, `"keen.url"`)), []string{`output "keen.url" is under keen`}},
		{"output is keen", withAddons("", url(`{"url":"u"}`, `"keen"`)), []string{`output "keen" is under keen`}},
		{"output name rule", withAddons("", url(`{"url":"u"}`, `"page.$info"`)), []string{`output "page.$info"`, `segment 2 "$info" starts with "$"`}},
		{"output too long", withAddons("", url(`{"url":"u"}`, `"`+strings.Repeat("o", 300)+`"`)), []string{"segment 1", "300 characters"}},
		{"removing a keen property", withAddons("", `{"name":"keen:ip_to_geo","input":{"ip":"keen.id","remove_ip_property":true},"output":"g"}`),
			[]string{`"remove_ip_property" cannot remove a property of the keen object`}},
		{"no GeoIP database", withAddons(`"ip":"1.2.3.4"`, `{"name":"keen:ip_to_geo","input":{"ip":"ip"},"output":"g"}`),
			[]string{"keen.addons[0] (keen:ip_to_geo)", "no GeoIP database"}},
		{"no GeoIP database, input missing", withAddons("", `{"name":"keen:ip_to_geo","input":{"ip":"ip"},"output":"g"}`),
			[]string{"no GeoIP database"}},
		{"output blocked by a string", withAddons(`"u":"http://a.com","page":"home"`, url(`{"url":"u"}`, `"page.info"`)),
			[]string{"keen.addons[0] (keen:url_parser)", `cannot write output "page.info"`, `property "page" is a string, not an object`}},
		{"output blocked deeper", withAddons(`"u":"http://a.com","a":{"b":[1]}`, url(`{"url":"u"}`, `"a.b.c"`)),
			[]string{`property "a.b" is an array`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustRefuse(t, p, testInput(c.payload), ErrInvalidAddOn, c.want...)
		})
	}
}

func TestAddonOutputPaths(t *testing.T) {
	p := newTestProcessor(t, nil)
	spec := func(output string) string {
		return `{"name":"keen:url_parser","input":{"url":"u"},"output":"` + output + `"}`
	}
	// Nested output, intermediate objects created.
	_, m := mustProcess(t, p, testInput(withAddons(`"u":"https://a.com/x"`, spec("a.b.c"))))
	checkFields(t, m, map[string]string{"a.b.c": `{"domain":"a.com","path":"/x","protocol":"https"}`})

	// Siblings in an existing object are kept.
	_, m = mustProcess(t, p, testInput(withAddons(`"u":"https://a.com/x","page":{"title":"T"}`, spec("page.info"))))
	checkFields(t, m, map[string]string{"page.title": `"T"`, "page.info.domain": `"a.com"`})

	// The final name is replaced, whatever it held.
	_, m = mustProcess(t, p, testInput(withAddons(`"u":"https://a.com/x","page":{"info":"old"}`, spec("page.info"))))
	checkFields(t, m, map[string]string{"page.info.domain": `"a.com"`})

	// Output may replace the input itself.
	_, m = mustProcess(t, p, testInput(withAddons(`"u":"https://a.com/x"`, spec("u"))))
	checkFields(t, m, map[string]string{"u.domain": `"a.com"`})
}

func TestAddonMissingInputSkips(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, props := range []string{``, `"page":{}`, `"page":{"url":null}`, `"page":"flat"`} {
		ev, m := mustProcess(t, p, testInput(withAddons(props,
			`{"name":"keen:url_parser","input":{"url":"page.url"},"output":"info"}`,
			`{"name":"keen:referrer_parser","input":{"referrer_url":"ref","page_url":"page.url"},"output":"r"}`,
			`{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"tech"}`,
			`{"name":"keen:date_time_parser","input":{"date_time":"when"},"output":"dt"}`,
		)))
		for _, out := range []string{"info", "r", "tech", "dt"} {
			if _, ok := m[out]; ok {
				t.Errorf("%s: output %s written with a missing input: %s", props, out, ev.JSON)
			}
		}
	}
	// The referrer parser needs both inputs.
	_, m := mustProcess(t, p, testInput(withAddons(`"ref":"https://www.google.com/"`,
		`{"name":"keen:referrer_parser","input":{"referrer_url":"ref","page_url":"page.url"},"output":"r"}`)))
	if _, ok := m["r"]; ok {
		t.Error("referrer parser ran without page_url")
	}
}

func TestAddonsRunInOrder(t *testing.T) {
	p := newTestProcessor(t, nil)
	// The second add-on reads what the first wrote; the third reads keen.timestamp.
	_, m := mustProcess(t, p, testInput(`{"u":"https://a.com/deep/path?x=1","keen":{"timestamp":"2014-04-26T10:00:00Z","addons":[`+
		`{"name":"keen:url_parser","input":{"url":"u"},"output":"first"},`+
		`{"name":"keen:url_parser","input":{"url":"first.path"},"output":"second"},`+
		`{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"when"}]}}`))
	checkFields(t, m, map[string]string{
		"first.path":  `"/deep/path"`,
		"second":      `{"path":"/deep/path"}`,
		"when.year":   `2014`,
		"when.hour":   `10`,
		"when.minute": `0`,
	})
	// A later add-on overwrites an earlier one's output.
	_, m = mustProcess(t, p, testInput(`{"a":"https://a.com","b":"https://b.com","keen":{"addons":[`+
		`{"name":"keen:url_parser","input":{"url":"a"},"output":"out"},`+
		`{"name":"keen:url_parser","input":{"url":"b"},"output":"out"}]}}`))
	checkFields(t, m, map[string]string{"out.domain": `"b.com"`})
}

func TestAddonInputFromKeen(t *testing.T) {
	p := newTestProcessor(t, nil)
	_, m := mustProcess(t, p, testInput(withAddons("",
		`{"name":"keen:date_time_parser","input":{"date_time":"keen.created_at"},"output":"created"}`)))
	checkFields(t, m, map[string]string{"created.second": `10`, "created.millisecond": `987`})
}

// TestAddonLimits: the number of add-ons and the size of their inputs are
// bounded; over a bound the event is refused, saying which (an 800 KB
// User-Agent took 7 s of ua_parser's CPU).
func TestAddonLimits(t *testing.T) {
	p := newTestProcessor(t, nil)
	ua := func(input, output string) string {
		return `{"name":"keen:ua_parser","input":{"ua_string":"` + input + `"},"output":"` + output + `"}`
	}
	many := func(n int) []string {
		var specs []string
		for i := range n {
			specs = append(specs, ua("ua", "o"+itoa(i)))
		}
		return specs
	}
	atLimit := strings.Repeat("x", limits.MaxAddonInputBytes)
	over := atLimit + "y"
	cases := []struct {
		name, payload string
		want          []string // "" stored
	}{
		{"20 add-ons", withAddons(`"ua":"Mozilla/5.0"`, many(limits.MaxAddonsPerEvent)...), nil},
		{"21 add-ons", withAddons(`"ua":"Mozilla/5.0"`, many(limits.MaxAddonsPerEvent+1)...), []string{"lists 21 add-ons", "at most 20"}},
		{"an input at the limit", withAddons(`"ua":"`+atLimit+`"`, ua("ua", "o")), nil},
		{"an input over it", withAddons(`"ua":"`+over+`"`, ua("ua", "o")), []string{"keen.addons[0] (keen:ua_parser)", `input "ua_string" (property "ua") is 2049 bytes`, "at most 2048"}},
		{"an 800 KB User-Agent", withAddons(`"ua":"`+strings.Repeat("Mozilla ", 100_000)+`"`, ua("ua", "o")), []string{"800000 bytes"}},
		{"escapes count decoded", withAddons(`"ua":"`+strings.Repeat(`\u00e9`, limits.MaxAddonInputBytes/2)+`"`, ua("ua", "o")), nil},
		{"a URL over it", withAddons(`"u":"https://a.example/`+over+`"`, `{"name":"keen:url_parser","input":{"url":"u"},"output":"o"}`),
			[]string{"(keen:url_parser)", `input "url"`, "at most 2048"}},
		{"a referrer over it", withAddons(`"r":"https://a.example/`+over+`","p":"https://b.example/"`, `{"name":"keen:referrer_parser","input":{"referrer_url":"r","page_url":"p"},"output":"o"}`),
			[]string{"(keen:referrer_parser)", `input "referrer_url"`}},
		{"a page URL over it", withAddons(`"p":"https://a.example/`+over+`","r":"https://b.example/"`, `{"name":"keen:referrer_parser","input":{"referrer_url":"r","page_url":"p"},"output":"o"}`),
			[]string{"(keen:referrer_parser)", `input "page_url"`}},
		{"a date over it", withAddons(`"d":"`+over+`"`, `{"name":"keen:date_time_parser","input":{"date_time":"d"},"output":"o"}`),
			[]string{"(keen:date_time_parser)", `input "date_time"`}},
		{"a number over it", withAddons(`"d":`+strings.Repeat("9", 3000), `{"name":"keen:date_time_parser","input":{"date_time":"d"},"output":"o"}`),
			[]string{`input "date_time" (property "d") is 3000 bytes`}},
		{"the inputs together over the event's budget", withAddons(`"a":"`+atLimit+`","b":"`+atLimit+`","c":"x"`, ua("a", "o1"), ua("b", "o2"), ua("c", "o3")),
			[]string{"keen.addons[2]", "more than 4096 bytes of input in all"}},
		{"a missing input costs nothing", withAddons(`"a":"`+atLimit+`","b":"`+atLimit+`"`, ua("a", "o1"), ua("b", "o2"), ua("missing", "o3")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == nil {
				mustProcess(t, p, testInput(c.payload))
				return
			}
			mustRefuse(t, p, testInput(c.payload), ErrInvalidAddOn, c.want...)
		})
	}
}
