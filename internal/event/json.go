package event

import (
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/jsontok"
)

// The event is held as a small JSON tree of its own rather than as
// map[string]any: scalars keep their exact JSON text (numbers are never
// rounded, strings are copied back as sent), members keep the client's order,
// and a stored event is written back by copying those bytes, with no
// re-encoding of values through reflection.

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "a number"
	case kindString:
		return "a string"
	case kindObject:
		return "an object"
	default:
		return "an array"
	}
}

type value struct {
	kind kind
	raw  []byte // the JSON text of a scalar, a string with its quotes and escapes
	// members of an object; the elements of an array are members without
	// a name (one slice type keeps the parser's slab allocation simple).
	members []member
}

type member struct {
	name   []byte // decoded
	quoted []byte // the name as JSON text, quotes included
	val    value
}

// elem is an array's i-th element.
func (v *value) elem(i int) *value { return &v.members[i].val }

func (v *value) isNull() bool { return v.kind == kindNull }

// str returns a string value's decoded text.
func (v *value) str() (string, bool) {
	if v.kind != kindString {
		return "", false
	}
	s, ok := jsontok.Unquote(v.raw)
	return string(s), ok
}

// find returns the member of an object called name, or nil.
func (v *value) find(name string) *value {
	if i := v.index(name); i >= 0 {
		return &v.members[i].val
	}
	return nil
}

func (v *value) index(name string) int {
	for i := range v.members {
		if string(v.members[i].name) == name {
			return i
		}
	}
	return -1
}

// set replaces the member called name or appends it.
func (v *value) set(name string, val value) {
	if i := v.index(name); i >= 0 {
		v.members[i].val = val
		return
	}
	v.members = append(v.members, newMember(name, val))
}

func (v *value) remove(name string) {
	if i := v.index(name); i >= 0 {
		v.members = append(v.members[:i], v.members[i+1:]...)
	}
}

func newMember(name string, val value) member {
	quoted := appendString(make([]byte, 0, len(name)+2), name)
	n := quoted[1 : len(quoted)-1]
	if len(n) != len(name) { // escaped
		n = []byte(name)
	}
	return member{name: n, quoted: quoted, val: val}
}

// Shared constant values (build.go has the constructors of the others).

var (
	nullValue  = value{kind: kindNull, raw: []byte("null")}
	trueValue  = value{kind: kindBool, raw: []byte("true")}
	falseValue = value{kind: kindBool, raw: []byte("false")}
)

// appendValue writes v as compact JSON.
func appendValue(b []byte, v *value) []byte {
	switch v.kind {
	case kindObject:
		b = append(b, '{')
		for i := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMember(b, &v.members[i])
		}
		return append(b, '}')
	case kindArray:
		b = append(b, '[')
		for i := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, &v.members[i].val)
		}
		return append(b, ']')
	default:
		return append(b, v.raw...)
	}
}

// encodedLen is len(appendValue(nil, v)).
func encodedLen(v *value) int {
	switch v.kind {
	case kindObject, kindArray:
		n := 2 + max(len(v.members)-1, 0) // brackets and commas
		for i := range v.members {
			m := &v.members[i]
			if v.kind == kindObject {
				n += len(m.quoted) + 1
			}
			n += encodedLen(&m.val)
		}
		return n
	default:
		return len(v.raw)
	}
}

// appendMember writes "name":value.
func appendMember(b []byte, m *member) []byte {
	b = append(b, m.quoted...)
	b = append(b, ':')
	return appendValue(b, &m.val)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; '<', '>' and '&' are left alone (no HTML escaping).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && jsontok.IsPlain(s[i]) { // the usual case, in a tight loop
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
