package leaf

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-io/sluice/internal/jsontok"
)

// Flatten returns the leaves of an event's JSON, appended to out.
func Flatten(doc []byte, out []Field) ([]Field, error) {
	var f Flattener
	return f.Flatten(doc, false, out)
}

// Flattener reads JSON bytes directly (the json package's decoder was most
// of the ingest cost). One Flattener is reused for many events: it keeps
// its path buffer and interns keys (Keys). Not safe for concurrent use.
type Flattener struct {
	Keys  Keys // shared with the event package's streaming path
	b     []byte
	i     int
	out   []Field
	start int      // where this event's leaves start in out
	path  []byte   // the current property path, parts joined by Sep
	kbuf  []byte   // scratch for building keys
	valid bool     // the JSON is known to be valid UTF-8
	strs  [][]byte // scratch for an array's strings
}

// Flatten appends the leaves of doc, an event's JSON, to out. The values
// may point into doc. validUTF8 says doc is known to be valid UTF-8 (the
// event package's output is), so that its strings need no check; otherwise
// invalid bytes in strings become U+FFFD (the store refuses invalid UTF-8).
func (p *Flattener) Flatten(doc []byte, validUTF8 bool, out []Field) ([]Field, error) {
	return p.read(doc, nil, out, len(out), validUTF8, true)
}

// Value appends the leaves of doc, the valid UTF-8 JSON of one value at
// path (parts joined by Sep), to out; out[start:] are the leaves of its
// event so far. It is how a part of an event is flattened on its own.
func (p *Flattener) Value(doc, path []byte, out []Field, start int) ([]Field, error) {
	return p.read(doc, path, out, start, true, false)
}

// read is Flatten (event: doc must be an object) and Value.
func (p *Flattener) read(doc, path []byte, out []Field, start int, validUTF8, event bool) ([]Field, error) {
	p.b, p.i, p.out, p.start, p.path, p.valid = doc, 0, out, start, append(p.path[:0], path...), validUTF8
	defer func() { p.b, p.out = nil, nil }()
	p.ws()
	what := "a JSON value"
	if event {
		what = "the event's JSON"
		if p.i >= len(p.b) || p.b[p.i] != '{' {
			return out, errors.New("leaf: event JSON is not an object")
		}
	}
	if err := p.value(); err != nil {
		return out, err
	}
	p.ws()
	if p.i != len(p.b) {
		return out, errors.New("leaf: trailing data after " + what)
	}
	return p.out, nil
}

var errSyntax = errors.New("leaf: malformed event JSON")

func (p *Flattener) ws() { p.i = jsontok.SkipSpace(p.b, p.i) }

// emit appends leaf f, of type typ, at the current path, except the keen
// fields that the store keeps in columns of their own (IsOwnKeenField).
func (p *Flattener) emit(typ string, f Field) {
	if typ == String && IsOwnKeenField(p.path) {
		return
	}
	p.kbuf = AppendKey(p.kbuf[:0], p.path, typ)
	f.Key = p.Keys.Intern(len(p.out)-p.start, p.kbuf)
	p.out = append(p.out, f)
}

// object reads an object at p.i ('{'), whose path is p.path.
func (p *Flattener) object() error {
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
			p.path = append(p.path, Sep...)
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
// Its contents are not checked (jsontok.StringEnd): the JSON is sluice's
// own, or its strings' invalid bytes become U+FFFD.
func (p *Flattener) str() ([]byte, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, errSyntax
	}
	start := p.i
	end, escaped, ok := jsontok.StringEnd(p.b, start)
	if !ok {
		return nil, errSyntax
	}
	p.i = end
	if !escaped {
		raw := p.b[start+1 : end-1 : end-1]
		if !p.valid && !utf8.Valid(raw) {
			return bytes.ToValidUTF8(raw, []byte("\uFFFD")), nil
		}
		return raw, nil
	}
	return StringValue(p.b[start:end])
}

// StringValue returns the value of tok, a JSON string token (quotes
// included), as encoding/json decodes it: a slice of tok when it has no
// escapes.
func StringValue(tok []byte) ([]byte, error) {
	s, ok := jsontok.Unquote(tok)
	if !ok {
		return nil, errSyntax
	}
	return s, nil
}

// NumberValue returns the value of tok, a JSON number. Out of float64's
// range it is ±Inf, which the store's DOUBLE holds.
func NumberValue(tok []byte) (float64, error) {
	if f, ok := simpleNumber(tok); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errSyntax
	}
	return f, nil
}

// ArrayValue returns the type and strings of tok, the compact JSON of a
// valid array of valid UTF-8: StrArray and the strings when they all are
// (slices of tok when they have no escapes), else JSONArray (whose value is
// tok itself).
func ArrayValue(tok []byte) (typ string, strs [][]byte, err error) {
	if len(tok) > 2 {
		strs = make([][]byte, 0, bytes.Count(tok, []byte{','})+1)
	}
	for i := 1; i < len(tok)-1; {
		if tok[i] != '"' {
			return JSONArray, nil, nil
		}
		end, _, ok := jsontok.StringEnd(tok, i)
		if !ok {
			return "", nil, errSyntax
		}
		s, err := StringValue(tok[i:end])
		if err != nil {
			return "", nil, err
		}
		strs = append(strs, s)
		i = end + 1 // past the comma
	}
	return StrArray, strs, nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// simpleNumber reads the common numbers, such as 42, -7 or 123.45, without
// strconv (which costs an allocation per number): at most 15 digits and no
// exponent. Their digits and the power of ten are exact float64s, so one
// division gives the correctly rounded value, as ParseFloat does.
func simpleNumber(tok []byte) (float64, bool) {
	i, neg := 0, false
	if len(tok) > 0 && tok[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(tok); i++ {
		switch c := tok[i]; {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

func (p *Flattener) literal(lit string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
		return errSyntax
	}
	p.i += len(lit)
	return nil
}

// value reads the value at p.i, of property path p.path.
func (p *Flattener) value() error {
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
		p.emit(String, Field{Str: s})
	case c == 't':
		if err := p.literal("true"); err != nil {
			return err
		}
		p.emit(Bool, Field{Bool: true})
	case c == 'f':
		if err := p.literal("false"); err != nil {
			return err
		}
		p.emit(Bool, Field{})
	case c == 'n':
		if err := p.literal("null"); err != nil {
			return err
		}
		p.emit(Null, Field{Bool: true})
	default:
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-0123456789.eE", p.b[p.i]) >= 0 {
			p.i++
		}
		f, err := NumberValue(p.b[start:p.i])
		if err != nil {
			return err
		}
		p.emit(Number, Field{Num: f})
	}
	return nil
}

// array reads an array at p.i: an array of strings (or an empty one)
// becomes a StrArray leaf, any other a JSONArray leaf holding its compact
// JSON.
func (p *Flattener) array() error {
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
		p.emit(StrArray, Field{Strs: append([][]byte(nil), strs...)})
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, p.b[start:p.i]); err != nil {
		return errSyntax
	}
	p.emit(JSONArray, Field{Str: buf.Bytes()})
	return nil
}

// skip passes over the value at p.i.
func (p *Flattener) skip() error {
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
