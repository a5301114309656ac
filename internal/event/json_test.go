package event

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestAppendString compares appendString with the straightforward
// byte-by-byte version it replaced, on strings made of every kind of byte.
func TestAppendString(t *testing.T) {
	parts := []string{"a", "Z", " ", "~", "\x7f", `"`, `\`, "\n", "\r", "\t", "\x00", "\x1f", "é", "😀", "\u2028", "\xff", "\xc3", "\xed\xa0\x80", "<>&", "\ufffd"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20_000 {
		var s string
		for range rng.IntN(12) {
			s += parts[rng.IntN(len(parts))]
		}
		if got, want := string(appendString([]byte("x"), s)), string(appendStringByByte([]byte("x"), s)); got != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func appendStringByByte(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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
