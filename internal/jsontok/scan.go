package jsontok

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Strings are most of an event's bytes, and mostly printable ASCII, so they
// are looked at 8 bytes at a time: a word is skipped unless one of its bytes
// needs a closer look.

// String checks the string token at d[start] (a '"'): escapes, control
// characters, UTF-8, paired surrogates; it returns the index after its
// closing quote.
func String(d []byte, start int) (end int, ok bool) {
	i := start + 1
	var p Problem
	for {
		for i+8 <= len(d) {
			if m := specialBytes(binary.LittleEndian.Uint64(d[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			return 0, false
		}
	special:
		if d[i] == '"' {
			return i + 1, true
		}
		if i, p = scanSpecial(d, i); p != Valid {
			return 0, false
		}
	}
}

// PlainName checks a string token as String does, and refuses escapes and
// dots: it is a property name that needs no decoding and that Keen's rules
// allow (the event package's streaming path).
func PlainName(d []byte, start int) (end int, ok bool) {
	i := start + 1
	var p Problem
	for {
		for i+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[i:])
			if m := specialBytes(w) | zeroBytes(w^(ones*'.')); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(d) && plain[d[i]] && d[i] != '.' {
			i++
		}
		if i >= len(d) {
			return 0, false
		}
	special:
		switch d[i] {
		case '"':
			return i + 1, true
		case '\\', '.':
			return 0, false
		}
		if i, p = scanSpecial(d, i); p != Valid {
			return 0, false
		}
	}
}

// A Problem is what makes a string token invalid.
type Problem uint8

const (
	Valid        Problem = iota
	Unterminated         // no closing quote, or a backslash at the end of the input
	BadEscape            // a backslash before a character JSON does not escape
	BadUnicode           // a malformed \u escape or an unpaired UTF-16 surrogate
	Control              // a control character, not escaped
	BadUTF8              // invalid UTF-8
)

// StringProblem reads the string token at d[start] byte by byte, as String
// does word by word, and says what makes it invalid and at which byte. For
// a valid token it returns the index after its closing quote and Valid. It
// is for wording a refusal: String is the fast check.
func StringProblem(d []byte, start int) (at int, p Problem) {
	i := start + 1
	for i < len(d) {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			break
		}
		if d[i] == '"' {
			return i + 1, Valid
		}
		next, p := scanSpecial(d, i)
		if p != Valid {
			return i, p
		}
		i = next
	}
	return start, Unterminated
}

// scanSpecial checks what starts at d[i] inside a string, which is not a
// plain byte nor the closing quote: an escape or a UTF-8 sequence, and
// returns where it ends.
func scanSpecial(d []byte, i int) (int, Problem) {
	switch c := d[i]; {
	case c == '\\':
		if i+1 >= len(d) {
			return 0, Unterminated
		}
		switch d[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			return i + 2, Valid
		case 'u':
			if _, n := UnicodeEscape(d[i:]); n > 0 {
				return i + n, Valid
			}
			return 0, BadUnicode
		}
		return 0, BadEscape
	case c < 0x20:
		return 0, Control
	default: // not ASCII
		if r, size := utf8.DecodeRune(d[i:]); r != utf8.RuneError || size != 1 {
			return i + size, Valid
		}
		return 0, BadUTF8
	}
}

const ones, highs = 0x0101010101010101, 0x8080808080808080

// specialBytes sets the top bit of each byte of w (8 bytes of a string,
// little-endian) that is '"', '\\', a control character or not ASCII.
// Subtraction borrows only run towards higher bytes, so the lowest set bit
// is exact; higher ones may not be, and are not used.
func specialBytes(w uint64) uint64 {
	return (zeroBytes(w^(ones*'"')) | zeroBytes(w^(ones*'\\')) | (w-ones*0x20)&^w | w) & highs
}

// zeroBytes sets the top bit of the zero bytes of w (the lowest exactly).
func zeroBytes(w uint64) uint64 { return (w - ones) &^ w & highs }

// Number checks JSON's number grammar from d[i] (a '-' or a digit) and
// returns where the number ends, or where it stops being one.
func Number(d []byte, i int) (end int, ok bool) {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = skipDigits(d, i+1)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}
