package event

import (
	"bytes"
	"strconv"

	"github.com/sluice-io/sluice/internal/jsontok"
	"github.com/sluice-io/sluice/internal/limits"
)

// parser reads one event and applies Keen's structural rules as it goes
// (validate.go), so that a refused event costs one pass and the error can name
// the property where the problem is.
type parser struct {
	data  []byte
	pos   int
	depth int
	path  []pathElem // where the parser is, for messages
	ws    *workspace
	// inName is set while a property name is read, for UTF-8 messages.
	inName bool
	props  int // the event's properties read so far (countProperty)
}

// parseEvent parses the whole payload, which must be one JSON object. The
// root's first member is an empty slot kept for the keen object.
func parseEvent(data []byte, ws *workspace) (value, *Error) {
	p := parser{data: data, ws: ws, path: ws.path[:0]}
	defer func() { ws.path = p.path[:0] }()
	p.skipSpace()
	if p.pos == len(data) {
		return value{}, newError(ErrInvalidEvent, "the event is empty; an event must be a JSON object")
	}
	if c := data[p.pos]; c != '{' {
		var what string
		switch {
		case c == '[':
			what = "an array"
		case c == '"':
			what = "a string"
		case c == 't' || c == 'f':
			what = "a boolean"
		case c == 'n':
			what = "null"
		case c == '-' || (c >= '0' && c <= '9'):
			what = "a number"
		default:
			return value{}, p.syntax("unexpected character " + quoteChar(c))
		}
		return value{}, newError(ErrInvalidEvent, "an event must be a JSON object, not %s", what)
	}
	v, err := p.parseValue(false)
	if err != nil {
		return value{}, err
	}
	p.skipSpace()
	if p.pos != len(data) {
		return value{}, p.syntax("unexpected text after the event object")
	}
	return v, nil
}

func (p *parser) skipSpace() { p.pos = jsontok.SkipSpace(p.data, p.pos) }

// parseValue reads one value. Inside the top-level "keen" object the event
// rules do not apply (relaxed): keen.addons is a list of objects and every
// keen key has its own rule (keen.go).
func (p *parser) parseValue(relaxed bool) (value, *Error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return value{}, p.syntax("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.parseObject(relaxed)
	case c == '[':
		return p.parseArray(relaxed)
	case c == '"':
		raw, err := p.scanString()
		if err != nil {
			return value{}, err
		}
		return value{kind: kindString, raw: raw}, nil
	case c == 't':
		return p.literal("true", kindBool)
	case c == 'f':
		return p.literal("false", kindBool)
	case c == 'n':
		return p.literal("null", kindNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.scanNumber()
	default:
		return value{}, p.syntax("unexpected character " + quoteChar(c))
	}
}

func (p *parser) enter() *Error {
	p.depth++
	if p.depth > limits.MaxEventDepth {
		return newError(ErrInvalidEvent, "the event is nested more than %d levels deep (at %s)", limits.MaxEventDepth, formatPath(p.path))
	}
	return nil
}

func (p *parser) parseObject(relaxed bool) (value, *Error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // '{'
	first := len(p.ws.stack)
	root := p.depth == 1
	if root {
		// A free first slot, where Process puts the keen object without
		// moving every member.
		p.ws.stack = append(p.ws.stack, member{})
	}
	base := len(p.ws.stack)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return value{kind: kindObject, members: p.ws.pop(first)}, nil
	}
	var seen map[string]struct{} // only for large objects; small ones are scanned
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return value{}, p.syntax("expected a property name in double quotes")
		}
		p.inName = true
		quoted, err := p.scanString()
		p.inName = false
		if err != nil {
			return value{}, err
		}
		name, _ := jsontok.Unquote(quoted)
		if !relaxed {
			if err := checkPropertyName(name, p.path); err != nil {
				return value{}, err
			}
		}
		if p.duplicate(p.ws.stack[base:], name, &seen) {
			return value{}, newError(ErrInvalidEvent, "property %s appears more than once in the same object; JSON property names must be unique",
				quotePath(p.path, name))
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return value{}, p.syntax("expected ':' after property name " + strconv.Quote(string(name)))
		}
		p.pos++
		p.path = append(p.path, pathElem{name: name, index: -1})
		// The top-level "keen" object follows its own rules (keen.go).
		childRelaxed := relaxed || (p.depth == 1 && string(name) == "keen")
		if !childRelaxed {
			p.skipSpace()
			if p.pos < len(p.data) && p.data[p.pos] != '{' {
				if p.props++; p.props > limits.MaxPropertiesPerEvent {
					return value{}, tooManyProperties(p.path)
				}
			}
		}
		val, err := p.parseValue(childRelaxed)
		if err != nil {
			return value{}, err
		}
		p.path = p.path[:len(p.path)-1]
		p.ws.stack = append(p.ws.stack, member{name: name, quoted: quoted, val: val})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return value{}, p.syntax("unexpected end of input inside an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return value{kind: kindObject, members: p.ws.pop(first)}, nil
		default:
			return value{}, p.syntax("expected ',' or '}' after the value of " + quotePath(p.path, name))
		}
	}
}

// duplicate reports whether name is already a member. Small objects are
// scanned (cheaper than hashing); from 16 members on a set is kept.
func (p *parser) duplicate(members []member, name []byte, seen *map[string]struct{}) bool {
	if len(members) < 16 {
		for i := range members {
			if bytes.Equal(members[i].name, name) {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(members))
		for i := range members {
			(*seen)[string(members[i].name)] = struct{}{}
		}
	}
	if _, ok := (*seen)[string(name)]; ok {
		return true
	}
	(*seen)[string(name)] = struct{}{}
	return false
}

func (p *parser) parseArray(relaxed bool) (value, *Error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // '['
	base := len(p.ws.stack)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return value{kind: kindArray}, nil
	}
	for i := 0; ; i++ {
		p.skipSpace()
		if !relaxed && p.pos < len(p.data) && (p.data[p.pos] == '{' || p.data[p.pos] == '[') {
			return value{}, nonPrimitiveElement(p.path, i, p.data[p.pos])
		}
		p.path = append(p.path, pathElem{index: i})
		el, err := p.parseValue(relaxed)
		if err != nil {
			return value{}, err
		}
		p.path = p.path[:len(p.path)-1]
		p.ws.stack = append(p.ws.stack, member{val: el})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return value{}, p.syntax("unexpected end of input inside an array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return value{kind: kindArray, members: p.ws.pop(base)}, nil
		default:
			return value{}, p.syntax("expected ',' or ']' after element " + strconv.Itoa(i) + " of " + formatPath(p.path))
		}
	}
}

func (p *parser) literal(word string, k kind) (value, *Error) {
	end := p.pos + len(word)
	if end > len(p.data) || string(p.data[p.pos:end]) != word {
		return value{}, p.syntax("invalid literal (expected " + word + ")")
	}
	raw := p.data[p.pos:end]
	p.pos = end
	return value{kind: k, raw: raw}, nil
}

// scanNumber checks JSON's number grammar (jsontok.Number); the text is
// kept as sent.
func (p *parser) scanNumber() (value, *Error) {
	d, start := p.data, p.pos
	end, ok := jsontok.Number(d, start)
	p.pos = end
	if !ok {
		// Where the number stopped says what is missing: a digit after
		// the sign, after '.', or in the exponent.
		switch c := d[end-1]; {
		case end == start+1 && c == '-':
			return value{}, p.syntax("invalid number")
		case c == '.':
			return value{}, p.syntax("invalid number: digits expected after '.'")
		default:
			return value{}, p.syntax("invalid number: digits expected in the exponent")
		}
	}
	return value{kind: kindNumber, raw: d[start:end]}, nil
}

// scanString checks a string token (escapes, control characters, UTF-8,
// paired surrogates) and returns it with its quotes. A valid string is read
// by the fast scanner (jsontok.String); an invalid one is read again byte by
// byte (jsontok.StringProblem), which says what is wrong and where.
func (p *parser) scanString() ([]byte, *Error) {
	if end, ok := jsontok.String(p.data, p.pos); ok {
		raw := p.data[p.pos:end]
		p.pos = end
		return raw, nil
	}
	return p.scanStringSlow()
}

func (p *parser) scanStringSlow() ([]byte, *Error) {
	start := p.pos
	at, problem := jsontok.StringProblem(p.data, start)
	p.pos = at
	switch problem {
	case jsontok.Valid:
		return p.data[start:at], nil
	case jsontok.BadUnicode:
		return nil, p.utf8Error("an invalid \\u escape or an unpaired UTF-16 surrogate")
	case jsontok.BadUTF8:
		return nil, p.utf8Error("invalid UTF-8")
	case jsontok.BadEscape:
		return nil, p.syntax("invalid escape sequence " + strconv.Quote(string(p.data[at:at+2])))
	case jsontok.Control:
		return nil, p.syntax("control character in a string (must be escaped)")
	default:
		return nil, p.syntax("unterminated string")
	}
}

func (p *parser) syntax(msg string) *Error {
	where := ""
	if len(p.path) > 0 {
		where = " (in " + formatPath(p.path) + ")"
	}
	return newError(ErrInvalidEvent, "invalid JSON at byte %d%s: %s", p.pos, where, msg)
}

func (p *parser) utf8Error(what string) *Error {
	var where string
	switch {
	case p.inName && len(p.path) == 0:
		where = "a property name at the top level"
	case p.inName:
		where = "a property name inside " + formatPath(p.path)
	default:
		where = "the value of " + formatPath(p.path)
	}
	return newError(ErrInvalidEvent, "%s contains %s at byte %d; events must be valid UTF-8", where, what, p.pos)
}

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}
