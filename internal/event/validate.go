package event

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/limits"
)

// Keen's rules for property names and values (docs/contract.md §7), applied to
// every name at every depth:
//   - a name is shorter than 256 characters (Unicode code points);
//   - it does not start with "$";
//   - it contains no "." (dots denote nesting in property paths: customer.name);
//   - it is not empty — Keen says "not null"; an empty name could never be
//     named in a property path or a query, so sluice refuses it too;
//   - arrays hold only primitives: strings, numbers, booleans and null. Keen
//     names the error ListsOfNonPrimitivesNotAllowedError, so an array of
//     arrays is refused as well as an array of objects.

const maxPropertyNameLen = 255

// pathElem is one step of a property path: a name, or an array index when
// index >= 0.
type pathElem struct {
	name  []byte
	index int
}

func checkPropertyName(name []byte, parent []pathElem) *Error {
	reason := ""
	switch {
	case len(name) == 0:
		reason = "is empty; Keen property names must have at least one character"
	case len(name) > maxPropertyNameLen && utf8.RuneCount(name) > maxPropertyNameLen:
		reason = fmt.Sprintf("is %d characters long; Keen property names must be shorter than 256 characters", utf8.RuneCount(name))
	case name[0] == '$':
		reason = `starts with "$"; Keen property names may not start with "$"`
	case strings.IndexByte(string(name), '.') >= 0:
		reason = `contains "."; Keen property names may not contain dots (dots denote nesting)`
	default:
		return nil
	}
	where := ""
	if len(parent) > 0 {
		where = " (inside " + formatPath(parent) + ")"
	}
	return newError(ErrInvalidPropertyName, "property name %s%s %s", quoteShort(name), where, reason)
}

func nonPrimitiveElement(path []pathElem, index int, c byte) *Error {
	what := "an object"
	if c == '[' {
		what = "an array"
	}
	return newError(ErrListsOfNonPrimitives,
		"property %s holds %s at index %d; Keen arrays may hold only strings, numbers, booleans and null (arrays of objects cannot be analysed)",
		formatPath(path), what, index)
}

// tooManyProperties is the error for an event whose properties (the
// values at a property path that are not objects: an array is one, and the
// client's keen object is not counted) are more than
// limits.MaxPropertiesPerEvent; path is where the first one too many is.
// Keen allows 1,000 unique properties per collection, so no such event
// could be stored anyway, and stopping there bounds what a hostile event of
// a hundred thousand properties costs.
func tooManyProperties(path []pathElem) *Error {
	return newError(ErrPropertyLimit,
		"the event has more than %d properties (the first one over is %s); an event may have at most %d (values that are not objects, keen excluded), as Keen collections may",
		limits.MaxPropertiesPerEvent, formatPath(path), limits.MaxPropertiesPerEvent)
}

// maxPathText bounds a path in a message (an event may nest 1,000 levels):
// its start and end are kept.
const maxPathText = 200

// formatPath renders a path for a message: "customer.address", "tags[2]".
func formatPath(path []pathElem) string {
	var b strings.Builder
	for i, e := range path {
		if e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.Write(e.name)
	}
	s := b.String()
	if len(s) > maxPathText {
		head, tail := []rune(s[:maxPathText/2]), []rune(s[len(s)-maxPathText/2:])
		// Cut on whole characters: drop a partial one at either cut.
		if len(head) > 0 && head[len(head)-1] == utf8.RuneError {
			head = head[:len(head)-1]
		}
		if len(tail) > 0 && tail[0] == utf8.RuneError {
			tail = tail[1:]
		}
		s = string(head) + "…" + string(tail)
	}
	return strconv.Quote(s)
}

// quotePath renders parent.name.
func quotePath(parent []pathElem, name []byte) string {
	return formatPath(append(parent[:len(parent):len(parent)], pathElem{name: name, index: -1}))
}

// quoteShort quotes a name for a message, cut to 64 characters.
func quoteShort(name []byte) string {
	s := string(name)
	if utf8.RuneCountInString(s) > 64 {
		r := []rune(s)
		s = string(r[:64]) + "…"
	}
	return strconv.Quote(s)
}

// checkName applies the name rules to a name sluice did not parse (add-on
// output paths, autofill keys).
func checkName(name string, parent []pathElem) *Error {
	return checkPropertyName([]byte(name), parent)
}
