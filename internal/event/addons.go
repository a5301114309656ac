package event

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/limits"
)

// Data-enrichment add-ons (docs/contract.md §7). A client lists them in
// keen.addons:
//
//	{"name": "keen:url_parser", "input": {"url": "page.url"}, "output": "page.info"}
//
// Input values are dotted property paths into the event (keen.timestamp
// included: the keen object is built first); output is a dotted path where
// the add-on's object is written, creating intermediate objects as needed and
// replacing whatever was at the final name. The add-ons run in the order
// listed, so one may read what an earlier one wrote.
//
// Decisions where Keen's documentation is silent (§9 question 9):
//   - An unknown add-on name, or a malformed specification (a missing or
//     unknown key, a value of the wrong type, an output under keen.*), refuses
//     the whole event with InvalidAddOnError and a message naming the add-on
//     and the key. So does keen:ip_to_geo when sluice has no GeoIP database.
//   - More than limits.MaxAddonsPerEvent add-ons, an input of more than
//     limits.MaxAddonInputBytes, or inputs of more than
//     limits.MaxAddonInputBytesPerEvent in all refuse the event with
//     InvalidAddOnError: the parsers' cost grows with their input, and
//     cutting or skipping the input would enrich the event silently wrong.
//   - A required input property that is absent from the event, or null,
//     skips that add-on: nothing is written, the event is stored. Keen
//     documents failures of add-ons as silent, and a page without a referrer
//     is normal data, not a bad event.
//   - An input that is present but unusable (not a string, not a URL, not an
//     IP address, not a date) gives the add-on's "blank" output described in
//     its file, as Keen documents for the referrer parser.
//   - An output path that runs through a property that exists and is not an
//     object ("geo.info" when "geo" is a string) refuses the event: writing
//     would destroy the client's data.

type addonKind uint8

const (
	addonIPToGeo addonKind = iota
	addonUA
	addonURL
	addonReferrer
	addonDateTime
)

type addonDef struct {
	kind     addonKind
	name     string
	params   []string // required input parameters, each a property path
	optional string   // an optional boolean input parameter, or ""
}

var addonDefs = []*addonDef{
	{kind: addonIPToGeo, name: "keen:ip_to_geo", params: []string{"ip"}, optional: "remove_ip_property"},
	{kind: addonUA, name: "keen:ua_parser", params: []string{"ua_string"}},
	{kind: addonURL, name: "keen:url_parser", params: []string{"url"}},
	{kind: addonReferrer, name: "keen:referrer_parser", params: []string{"referrer_url", "page_url"}},
	{kind: addonDateTime, name: "keen:date_time_parser", params: []string{"date_time"}},
}

func findAddon(name string) *addonDef {
	for _, d := range addonDefs {
		if d.name == name {
			return d
		}
	}
	return nil
}

func addonNames() string {
	names := make([]string, len(addonDefs))
	for i, d := range addonDefs {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

// addon is one checked specification.
type addon struct {
	def      *addonDef
	index    int
	inputs   [2]string // property paths, in def.params order
	optional bool      // the optional boolean parameter (remove_ip_property)
	output   string    // a property path
}

func (a *addon) errorf(format string, args ...any) *Error {
	return newError(ErrInvalidAddOn, "keen.addons[%d] (%s): %s", a.index, a.def.name, fmt.Sprintf(format, args...))
}

func (p *Processor) readAddons(v *value) ([]addon, *Error) {
	if v.kind != kindArray {
		return nil, newError(ErrInvalidAddOn, "keen.addons must be an array of add-on specifications, not %s", v.kind)
	}
	if len(v.members) > limits.MaxAddonsPerEvent {
		return nil, newError(ErrInvalidAddOn, "keen.addons lists %d add-ons; an event may ask for at most %d", len(v.members), limits.MaxAddonsPerEvent)
	}
	addons := make([]addon, 0, len(v.members))
	for i := range v.members {
		a, err := p.readAddon(i, &v.members[i].val)
		if err != nil {
			return nil, err
		}
		addons = append(addons, a)
	}
	return addons, nil
}

func (p *Processor) readAddon(i int, v *value) (addon, *Error) {
	a := addon{index: i}
	fail := func(format string, args ...any) (addon, *Error) {
		return a, newError(ErrInvalidAddOn, "keen.addons[%d]: %s", i, fmt.Sprintf(format, args...))
	}
	if v.kind != kindObject {
		return fail(`must be an object with "name", "input" and "output", not %s`, v.kind)
	}
	for _, m := range v.members {
		if n := string(m.name); n != "name" && n != "input" && n != "output" {
			return fail(`unknown key %s; an add-on specification has only "name", "input" and "output"`, quoteShort(m.name))
		}
	}
	nameVal := v.find("name")
	if nameVal == nil {
		return fail(`"name" is missing; it names the add-on, e.g. "keen:url_parser"`)
	}
	name, ok := nameVal.str()
	if !ok {
		return fail(`"name" must be a string, not %s`, nameVal.kind)
	}
	if a.def = findAddon(name); a.def == nil {
		return fail("unknown add-on %s; sluice provides %s", quoteShort([]byte(name)), addonNames())
	}

	if err := a.readInput(v.find("input")); err != nil {
		return a, err
	}
	if err := a.readOutput(v.find("output")); err != nil {
		return a, err
	}
	if a.def.kind == addonIPToGeo && p.geo == nil {
		return a, a.errorf("this sluice has no GeoIP database configured, so IP-to-geo enrichment is unavailable")
	}
	return a, nil
}

// readInput checks "input": each parameter names a property path.
func (a *addon) readInput(input *value) *Error {
	if input == nil {
		return a.errorf(`"input" is missing; it is an object mapping %s to property names`, paramList(a.def))
	}
	if input.kind != kindObject {
		return a.errorf(`"input" must be an object mapping %s to property names, not %s`, paramList(a.def), input.kind)
	}
	for _, m := range input.members {
		n := string(m.name)
		switch {
		case n == a.def.optional && n != "":
			if m.val.kind != kindBool {
				return a.errorf("input %q must be true or false, not %s", n, m.val.kind)
			}
			a.optional = string(m.val.raw) == "true"
		case indexOf(a.def.params, n) < 0:
			return a.errorf("unknown input %s; %s takes %s", quoteShort(m.name), a.def.name, paramList(a.def))
		}
	}
	for i, param := range a.def.params {
		in := input.find(param)
		if in == nil {
			return a.errorf("input %q is missing", param)
		}
		s, ok := in.str()
		if !ok {
			return a.errorf(`input %q must be a property name such as "page.url", not %s`, param, in.kind)
		}
		if reason := checkPath(s); reason != "" {
			return a.errorf("input %q: property path %s %s", param, quoteShort([]byte(s)), reason)
		}
		a.inputs[i] = s
	}
	if a.optional && firstSegment(a.inputs[0]) == "keen" {
		return a.errorf(`"remove_ip_property" cannot remove a property of the keen object`)
	}
	return nil
}

// readOutput checks "output": a property path outside keen whose names obey
// the property name rules.
func (a *addon) readOutput(out *value) *Error {
	if out == nil {
		return a.errorf(`"output" is missing; it names the property the result is written to, e.g. "page.info"`)
	}
	s, ok := out.str()
	if !ok {
		return a.errorf(`"output" must be a property name such as "page.info", not %s`, out.kind)
	}
	if reason := checkPath(s); reason != "" {
		return a.errorf("output %s %s", quoteShort([]byte(s)), reason)
	}
	if firstSegment(s) == "keen" {
		return a.errorf("output %s is under keen; add-ons may not write into the keen namespace", quoteShort([]byte(s)))
	}
	j := 0
	for seg := range strings.SplitSeq(s, ".") {
		j++
		if err := checkName(seg, nil); err != nil {
			return a.errorf("output %s: segment %d %s", quoteShort([]byte(s)), j, strings.TrimPrefix(err.Message, "property name "))
		}
	}
	a.output = s
	return nil
}

func paramList(d *addonDef) string {
	q := make([]string, 0, len(d.params)+1)
	for _, p := range d.params {
		q = append(q, strconv.Quote(p))
	}
	s := strings.Join(q, " and ")
	if d.optional != "" {
		s += fmt.Sprintf(" (and optionally %q)", d.optional)
	}
	return s
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// checkPath says why a dotted property path cannot name a property, or "".
func checkPath(s string) string {
	if s == "" {
		return "is empty"
	}
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" {
			return `has an empty segment (a leading, trailing or doubled ".")`
		}
	}
	return ""
}

func firstSegment(path string) string {
	seg, _, _ := strings.Cut(path, ".")
	return seg
}

// lookup returns the value at a dotted path, or nil.
func lookup(root *value, path string) *value {
	v := root
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, ".")
		if v.kind != kindObject {
			return nil
		}
		if v = v.find(seg); v == nil {
			return nil
		}
	}
	return v
}

// setPath writes val at a dotted path, creating objects on the way. blocked
// is the property in the way when a step exists and is not an object.
func setPath(root *value, path string, val value) (blocked string, k kind) {
	cur := root
	for i := 0; ; {
		j := strings.IndexByte(path[i:], '.')
		if j < 0 {
			cur.set(path[i:], val)
			return "", 0
		}
		seg := path[i : i+j]
		next := cur.find(seg)
		if next == nil {
			cur.set(seg, value{kind: kindObject, members: make([]member, 0, 1)})
			next = cur.find(seg)
		}
		if next.kind != kindObject {
			return path[:i+j], next.kind
		}
		cur, i = next, i+j+1
	}
}

func deletePath(root *value, path string) {
	parent, name := root, path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, name = lookup(root, path[:i]), path[i+1:]
	}
	if parent != nil && parent.kind == kindObject {
		parent.remove(name)
	}
}

// inputLen is the size of an add-on's input: a string's decoded bytes,
// any other value's JSON text.
func inputLen(v *value) int {
	if s, ok := v.str(); ok {
		return len(s)
	}
	return len(v.raw)
}

// runAddon applies one add-on to the event. budget is what is left of the
// event's limits.MaxAddonInputBytesPerEvent.
func (p *Processor) runAddon(ws *workspace, root *value, a *addon, budget *int) *Error {
	var in [2]*value
	for i := range a.def.params {
		if in[i] = lookup(root, a.inputs[i]); in[i] == nil || in[i].isNull() {
			return nil // missing input: skipped (see above)
		}
	}
	// The parsers' cost grows with their input (ua_parser runs hundreds
	// of regular expressions over the whole string): a large input refuses
	// the event rather than being cut or skipped.
	for i := range a.def.params {
		n := inputLen(in[i])
		if n > limits.MaxAddonInputBytes {
			return a.errorf("input %q (property %s) is %d bytes; an add-on's input may be at most %d bytes",
				a.def.params[i], quoteShort([]byte(a.inputs[i])), n, limits.MaxAddonInputBytes)
		}
		if *budget -= n; *budget < 0 {
			return a.errorf("the event's add-ons are given more than %d bytes of input in all (%d more with %q); an event's add-ons may read at most %d bytes",
				limits.MaxAddonInputBytesPerEvent, n, a.def.params[i], limits.MaxAddonInputBytesPerEvent)
		}
	}
	var out value
	switch a.def.kind {
	case addonIPToGeo:
		out = p.geo.enrich(ws, in[0])
		if a.optional { // remove_ip_property: before writing, in case output replaces the IP's parent
			deletePath(root, a.inputs[0])
		}
	case addonUA:
		out = enrichUA(ws, in[0])
	case addonURL:
		out = enrichURL(ws, in[0])
	case addonReferrer:
		out = enrichReferrer(ws, in[0], in[1])
	case addonDateTime:
		out = enrichDateTime(ws, in[0])
	}
	if blocked, k := setPath(root, a.output, out); blocked != "" {
		return a.errorf("cannot write output %q: property %q is %s, not an object", a.output, blocked, k)
	}
	return nil
}
