package jsontok

import (
	"encoding/json"
	"testing"
)

// checkNumber compares Number with encoding/json's grammar: what Number
// takes is a JSON number, and a JSON number is taken whole.
func checkNumber(t *testing.T, s string) {
	t.Helper()
	// (encoding/json also takes whitespace after a value.)
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') || IsSpace(s[len(s)-1]) {
		return
	}
	end, ok := Number([]byte(s), 0)
	if ok && !json.Valid([]byte(s[:end])) {
		t.Fatalf("Number(%q) took %q, not a JSON number", s, s[:end])
	}
	if json.Valid([]byte(s)) && (!ok || end != len(s)) {
		t.Fatalf("Number(%q) = %d, %v; it is a JSON number", s, end, ok)
	}
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		s   string
		end int
		ok  bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"01", 1, true}, {"1.5e300x", 7, true}, {"1E-7", 4, true},
		{"-", 1, false}, {"-a", 1, false}, {"1.", 2, false}, {"1.x", 2, false}, {"1e", 2, false}, {"1e+", 3, false},
	} {
		if end, ok := Number([]byte(c.s), 0); end != c.end || ok != c.ok {
			t.Errorf("Number(%q) = %d, %v; want %d, %v", c.s, end, ok, c.end, c.ok)
		}
		checkNumber(t, c.s)
	}
}

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-12.5e+3", "1.", "01", "-"} {
		f.Add(s)
	}
	f.Fuzz(checkNumber)
}
