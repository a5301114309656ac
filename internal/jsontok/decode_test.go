package jsontok

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// unquoteCases are string tokens with escapes, valid and not, and what
// Unquote gives for them (ok false: "!").
var unquoteCases = []struct{ tok, want string }{
	{`"plain"`, "plain"},
	{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
	{`"\u00e9\u20AC\ud83d\ude00"`, "é€😀"},
	{`"\ud83d"`, "\uFFFD"},
	{`"\ude00x"`, "\uFFFDx"},
	{`"\ud83d\u0041"`, "\uFFFDA"},
	{`"\ud83d\ud83d\ude00"`, "\uFFFD😀"},
	{"\"\\n\xff\xc3\"", "\n\uFFFD\uFFFD"},
	{"\"\\n\xed\xa0\x80\"", "\n\uFFFD\uFFFD\uFFFD"},
	{`"\x"`, "!"},
	{`"\u12G4"`, "!"},
	{`"\u12"`, "!"},
	{"\"\\n\x01\"", "!"},
	{`"\"`, "!"},
	{`x`, "!"},
}

// TestUnquote: Unquote decodes as encoding/json does, on tokens with
// escapes; without escapes it returns the token's text itself.
func TestUnquote(t *testing.T) {
	for _, c := range unquoteCases {
		got, ok := Unquote([]byte(c.tok))
		if !ok {
			got = []byte("!")
		}
		if string(got) != c.want {
			t.Errorf("Unquote(%s) = %q, want %q", c.tok, got, c.want)
		}
		checkUnquoteLikeJSON(t, []byte(c.tok))
	}
	tok := []byte(`"no escapes"`)
	if got, _ := Unquote(tok); &got[0] != &tok[1] {
		t.Error("Unquote copied a token without escapes")
	}
}

// checkUnquoteLikeJSON compares Unquote with encoding/json on tok when it
// is one string token with escapes.
func checkUnquoteLikeJSON(t *testing.T, tok []byte) {
	t.Helper()
	if len(tok) < 2 || tok[0] != '"' || bytes.IndexByte(tok, '\\') < 0 {
		return
	}
	if end, _, ok := StringEnd(tok, 0); !ok || end != len(tok) {
		return
	}
	var want string
	err := json.Unmarshal(tok, &want)
	got, ok := Unquote(tok)
	if ok != (err == nil) || ok && string(got) != want {
		t.Fatalf("Unquote(%q) = %q, %v; encoding/json: %q, %v", tok, got, ok, want, err)
	}
}

func FuzzUnquote(f *testing.F) {
	for _, c := range unquoteCases {
		f.Add([]byte(c.tok))
	}
	f.Fuzz(checkUnquoteLikeJSON)
}

// TestStringEnd: the end of a string token is its first quote that no
// backslash escapes, whatever the token holds, found in one pass.
func TestStringEnd(t *testing.T) {
	for _, c := range []struct {
		d           string
		end         int
		escaped, ok bool
	}{
		{`"a"`, 3, false, true},
		{`"a\"b",`, 6, true, true},
		{`"a\\",`, 5, true, true},
		{`"\\\"\\"x`, 8, true, true},
		{"\"\xff\x01\"", 4, false, true},
		{`"a\"`, 0, false, false},
		{`"\`, 0, false, false},
	} {
		end, escaped, ok := StringEnd([]byte(c.d), 0)
		if end != c.end || escaped != c.escaped || ok != c.ok {
			t.Errorf("StringEnd(%s) = %d %v %v, want %d %v %v", c.d, end, escaped, ok, c.end, c.escaped, c.ok)
		}
	}
	// Against the obvious byte-by-byte reading.
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", `\`, `"`, `\\`, `\"`, "é"}
	for range 20_000 {
		d := []byte(`"`)
		for range rng.IntN(10) {
			d = append(d, parts[rng.IntN(len(parts))]...)
		}
		want, wantOK := 0, false
		for i := 1; i < len(d); i++ {
			if d[i] == '\\' {
				i++
			} else if d[i] == '"' {
				want, wantOK = i+1, true
				break
			}
		}
		if end, _, ok := StringEnd(d, 0); end != want || ok != wantOK {
			t.Fatalf("StringEnd(%s) = %d %v, want %d %v", d, end, ok, want, wantOK)
		}
	}
}
