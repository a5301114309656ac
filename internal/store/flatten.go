package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Column types: one typed column per (property path, JSON type). The type
// is a suffix of the column's logical name ("country.$s"); Keen property
// names never start with "$" nor contain ".", so it cannot collide with a
// property. The physical column names are generated (c1, c2, …, see
// duck.go): DuckDB identifiers are case-insensitive, property names are not.
const (
	typString    = "s"  // VARCHAR
	typNumber    = "n"  // DOUBLE
	typBool      = "b"  // BOOLEAN
	typNull      = "z"  // BOOLEAN, true where the property is JSON null
	typStrArray  = "as" // VARCHAR[]: arrays of strings only (and empty arrays)
	typJSONArray = "aj" // VARCHAR: any other array, as its compact JSON
)

var sqlTypes = map[string]string{
	typString: "VARCHAR", typNumber: "DOUBLE", typBool: "BOOLEAN", typNull: "BOOLEAN",
	typStrArray: "VARCHAR[]", typJSONArray: "VARCHAR",
}

// pathSep joins a path's parts into a map key (never in a property name
// we can query: query paths come from splitting on ".").
const pathSep = "\x1f"

// field is one typed leaf of a flattened event.
type field struct {
	key string // path parts joined by pathSep, then pathSep + "$" + type
	// val is []byte (a string: a slice of the event's JSON when it has no
	// escapes, so appending it copies once, into DuckDB), float64, bool, or
	// []any of []byte (an array of strings).
	val any
}

func fieldKey(path, typ string) string { return path + pathSep + "$" + typ }

// splitFieldKey returns the path parts and the type of a field key.
func splitFieldKey(k string) ([]string, string) {
	i := strings.LastIndex(k, pathSep+"$")
	return strings.Split(k[:i], pathSep), k[i+2:]
}

// flatten returns the typed leaves of a stored event's JSON: nested
// objects become dotted paths; arrays are leaves (not descended into).
// Empty objects produce no leaf (so "exists" is false for them).
func flatten(doc []byte, out []field) ([]field, error) {
	var f flattener
	return f.flatten(doc, false, out)
}

// flattener scans the JSON bytes directly (the json package's decoder was
// most of the ingest cost). One flattener is reused for many events: it
// keeps its path buffer and interns field keys, so a batch of events of
// the same shape allocates one key string per field, not per event. Not
// safe for concurrent use.
type flattener struct {
	b     []byte
	i     int
	out   []field
	start int               // where this event's leaves start in out
	path  []byte            // the current property path, parts joined by pathSep
	kbuf  []byte            // scratch for building keys
	valid bool              // the event's JSON is known to be valid UTF-8
	keys  map[string]string // interned field keys
	shape []string          // the keys of the last event's leaves, in order
	strs  []any             // scratch for an array's strings
}

// flatten flattens doc, appending its leaves to out. The values may point
// into doc. validUTF8 says doc is known to be valid UTF-8 (Event.ValidUTF8),
// so that its strings need no check.
func (p *flattener) flatten(doc []byte, validUTF8 bool, out []field) ([]field, error) {
	p.b, p.i, p.out, p.start, p.path, p.valid = doc, 0, out, len(out), p.path[:0], validUTF8
	defer func() { p.b, p.out = nil, nil }()
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return out, errors.New("store: event JSON is not an object")
	}
	if err := p.object(); err != nil {
		return out, err
	}
	p.ws()
	if p.i != len(p.b) {
		return out, errors.New("store: trailing data after the event's JSON")
	}
	return p.out, nil
}

var errSyntax = errors.New("store: malformed event JSON")

// keenPrefix starts the path of every field of the keen object.
const keenPrefix = "keen" + pathSep

// isOwnKeenField tells whether path is keen.id, keen.timestamp or
// keen.created_at: sluice sets them, as strings, on every event, and the
// table's _id, _ts and _created hold them, so they get no column of their
// own (three strings per event less to append, store and compress).
func isOwnKeenField(path []byte) bool {
	if len(path) < len(keenPrefix)+2 || string(path[:len(keenPrefix)]) != keenPrefix {
		return false
	}
	switch string(path[len(keenPrefix):]) {
	case "id", "timestamp", "created_at":
		return true
	}
	return false
}

// keenColumns are the SQL expressions that stand for the fields
// isOwnKeenField leaves out, as the strings the events' JSON holds
// (keen.timestamp and keen.created_at: UTC, milliseconds, "Z"). Filters on
// them compile as on any string column.
var keenColumns = map[string]string{
	fieldKey(keenPrefix+"id", typString):         "_id",
	fieldKey(keenPrefix+"timestamp", typString):  "strftime(_ts, '%Y-%m-%dT%H:%M:%S.%gZ')",
	fieldKey(keenPrefix+"created_at", typString): "strftime(_created, '%Y-%m-%dT%H:%M:%S.%gZ')",
}

func (p *flattener) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// emit appends a leaf at the current path, except the keen fields that
// the table's own columns hold (keenColumns).
func (p *flattener) emit(typ string, val any) {
	if typ == typString && isOwnKeenField(p.path) {
		return
	}
	p.kbuf = append(append(append(p.kbuf[:0], p.path...), pathSep+"$"...), typ...)
	p.out = append(p.out, field{p.key(len(p.out) - p.start), val})
}

// key returns the interned key in p.kbuf, for the n-th leaf of the event.
// The events of a batch mostly have one shape, so the n-th leaf's key is
// first looked for where the last event had its n-th leaf: one comparison
// instead of hashing the key.
func (p *flattener) key(n int) string {
	if n < len(p.shape) && p.shape[n] == string(p.kbuf) {
		return p.shape[n]
	}
	k, ok := p.keys[string(p.kbuf)] // no allocation for the lookup
	if !ok {
		if p.keys == nil {
			p.keys = map[string]string{}
		}
		k = string(p.kbuf)
		p.keys[k] = k
	}
	if n < len(p.shape) {
		p.shape[n] = k
	} else if n == len(p.shape) {
		p.shape = append(p.shape, k)
	}
	return k
}

// object reads an object at p.i ('{'), whose path is p.path.
func (p *flattener) object() error {
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	base := len(p.path)
	for {
		p.ws()
		name, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return errSyntax
		}
		p.i++
		p.ws()
		if base > 0 {
			p.path = append(p.path, pathSep...)
		}
		p.path = append(p.path, name...)
		err = p.value()
		p.path = p.path[:base]
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str reads a string at p.i: a slice of the JSON when it has no escapes.
func (p *flattener) str() ([]byte, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, errSyntax
	}
	start := p.i
	p.i++
	escaped := false
	for {
		// Jump to the next quote (IndexByte is vectorized: most of the
		// event's bytes are string contents).
		j := bytes.IndexByte(p.b[p.i:], '"')
		if j < 0 {
			return nil, errSyntax
		}
		if k := bytes.IndexByte(p.b[p.i:p.i+j], '\\'); k >= 0 {
			escaped = true
			p.i += k + 2 // the backslash and the character it escapes
			if p.i > len(p.b) {
				return nil, errSyntax
			}
			continue
		}
		p.i += j + 1
		break
	}
	if !escaped {
		raw := p.b[start+1 : p.i-1 : p.i-1]
		if !p.valid && !utf8.Valid(raw) { // DuckDB refuses invalid UTF-8
			return bytes.ToValidUTF8(raw, []byte("\uFFFD")), nil
		}
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
		return nil, errSyntax
	}
	return []byte(s), nil
}

func (p *flattener) literal(lit string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
		return errSyntax
	}
	p.i += len(lit)
	return nil
}

// value reads the value at p.i, of property path p.path.
func (p *flattener) value() error {
	if p.i >= len(p.b) {
		return errSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.emit(typString, s)
	case c == 't':
		if err := p.literal("true"); err != nil {
			return err
		}
		p.emit(typBool, true)
	case c == 'f':
		if err := p.literal("false"); err != nil {
			return err
		}
		p.emit(typBool, false)
	case c == 'n':
		if err := p.literal("null"); err != nil {
			return err
		}
		p.emit(typNull, true)
	default:
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-0123456789.eE", p.b[p.i]) >= 0 {
			p.i++
		}
		f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, which DOUBLE holds
			return errSyntax
		}
		p.emit(typNumber, f)
	}
	return nil
}

// array reads an array at p.i: an array of strings (or an empty one)
// becomes a $as leaf, any other a $aj leaf holding its compact JSON.
func (p *flattener) array() error {
	start := p.i
	p.i++
	strs := p.strs[:0]
	allStrings := true
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == '"' {
				s, err := p.str()
				if err != nil {
					return err
				}
				strs = append(strs, s)
			} else {
				allStrings = false
				if err := p.skip(); err != nil {
					return err
				}
			}
			p.ws()
			if p.i >= len(p.b) {
				return errSyntax
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] != ']' {
				return errSyntax
			}
			p.i++
			break
		}
	}
	p.strs = strs[:0]
	if allStrings {
		// A copy of the exact size: the scratch is reused, the leaf is kept.
		p.emit(typStrArray, append(make([]any, 0, len(strs)), strs...))
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p.b[start:p.i]); err != nil {
		return errSyntax
	}
	p.emit(typJSONArray, buf.Bytes())
	return nil
}

// skip passes over the value at p.i.
func (p *flattener) skip() error {
	if p.i >= len(p.b) {
		return errSyntax
	}
	switch p.b[p.i] {
	case '"':
		_, err := p.str()
		return err
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, err := p.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return errSyntax
	default:
		start := p.i
		for p.i < len(p.b) && strings.IndexByte(",]} \t\r\n", p.b[p.i]) < 0 {
			p.i++
		}
		if p.i == start {
			return errSyntax
		}
		return nil
	}
}
