package jsontok

import (
	"bytes"
	"unicode/utf8"
)

// plain marks the bytes a string may hold as they are: printable ASCII
// other than '"' and '\\'. Everything else is looked at closely.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// IsPlain tells whether c stands for itself in a JSON string, needing
// neither an escape nor a UTF-8 check.
func IsPlain(c byte) bool { return plain[c] }

// IsSpace tells whether c is JSON whitespace.
func IsSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }

// SkipSpace returns the index of the first byte at or after i that is not
// whitespace.
func SkipSpace(d []byte, i int) int {
	for i < len(d) && IsSpace(d[i]) {
		i++
	}
	return i
}

// StringEnd finds the end of the string token at d[start] (a '"') without
// checking its contents, for JSON known to be valid or read leniently: it
// returns the index after the first quote that no backslash escapes, and
// whether the token holds a backslash. Most bytes are passed over by
// bytes.IndexByte (vectorized), and a string of many escapes is still read
// in one pass: only an escaped quote makes it look for the next quote.
func StringEnd(d []byte, start int) (end int, escaped, ok bool) {
	i := start + 1
	for {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return 0, false, false
		}
		q := i + j
		for i <= q {
			k := bytes.IndexByte(d[i:q], '\\')
			if k < 0 {
				break
			}
			escaped = true
			i += k + 2 // the backslash and the character it escapes
		}
		if i > q { // the quote was escaped
			continue
		}
		return q + 1, escaped, true
	}
}

// Unquote decodes the string token tok (quotes included) as encoding/json
// does. Without escapes it returns the text between the quotes as it is (a
// sub-slice of tok: no copy and no check). With escapes it returns a copy in
// which invalid UTF-8 bytes and unpaired surrogate escapes become U+FFFD;
// ok is false for a malformed escape or a control character.
func Unquote(tok []byte) ([]byte, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, false
	}
	s := tok[1 : len(tok)-1 : len(tok)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, true
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\':
		case c < 0x20:
			return nil, false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
			continue
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := UnicodeEscape(s[i:])
			if n == 0 { // malformed, or a surrogate that is not paired
				r1, ok := hex4(s[i:])
				if !ok {
					return nil, false
				}
				r, n = r1, 6
				if r1 >= 0xD800 && r1 <= 0xDFFF {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}

// UnicodeEscape decodes \uXXXX (or a surrogate pair \uXXXX\uXXXX) at the
// start of s; n = 0 when it is malformed or an unpaired surrogate.
func UnicodeEscape(s []byte) (r rune, n int) {
	r1, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	switch {
	case r1 >= 0xDC00 && r1 <= 0xDFFF:
		return 0, 0
	case r1 >= 0xD800 && r1 <= 0xDBFF:
		r2, ok := hex4(s[6:])
		if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
			return 0, 0
		}
		return (r1-0xD800)<<10 | (r2 - 0xDC00) + 0x10000, 12
	}
	return r1, 6
}

// hex4 reads `\uXXXX` at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
