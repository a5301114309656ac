package leaf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// texts renders leaves with Field.String.
func texts(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func TestFlatten(t *testing.T) {
	fs, err := Flatten([]byte(`{"keen":{"id":"x","timestamp":"t","created_at":"c","location":{"coordinates":[1,2]},"uniqueness_token":"u"},"a":{"b":[1,"x"],"c":["y"],"d":{}},"e":null,"f":1.5e300,"g":[],"id":"i","h":"\u00e9\n","k":1e400}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	// keen.id, keen.timestamp and keen.created_at are left to the store's
	// own columns (IsOwnKeenField); the other keen fields are leaves.
	want := []string{`keen.location.coordinates.$aj="[1,2]"`, `keen.uniqueness_token.$s="u"`, `a.b.$aj="[1,\"x\"]"`, `a.c.$as=["y"]`, "e.$z=true", "f.$n=1.5e+300", "g.$as=[]", `id.$s="i"`, `h.$s="é\n"`, "k.$n=+Inf"}
	if got := texts(fs); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{``, `[]`, `{"a":}`, `{"a":1`, `{"a":tru}`, `{"a":[1,}`, `{"a":"x}`, `{} x`} {
		if _, err := Flatten([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestFlattenEscapes: strings with escapes, escaped quotes and escaped
// backslashes before a quote are read to their real end, in one pass (a
// string of 150,000 escapes took seconds when every escape searched for the
// closing quote again).
func TestFlattenEscapes(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"s":"a\"b","t":1}`, `s.$s="a\"b"`},
		{`{"s":"a\\","t":1}`, `s.$s="a\\"`},
		{`{"s":"\\\"\\","t":1}`, `s.$s="\\\"\\"`},
		{`{"s":"\"","t":1}`, `s.$s="\""`},
		{`{"s":"\u00e9\n","t":1}`, `s.$s="é\n"`},
	} {
		fs, err := Flatten([]byte(c.doc), nil)
		if err != nil || len(fs) != 2 || fs[0].String() != c.want || fs[1].String() != "t.$n=1" {
			t.Errorf("%s: %q %v, want %s and t.$n=1", c.doc, texts(fs), err, c.want)
		}
	}
	for _, bad := range []string{`{"s":"a\"}`, `{"s":"\`, `{"s":"\\\"}`} {
		if _, err := Flatten([]byte(bad), nil); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	long := []byte(`{"s":"` + strings.Repeat(`\u00e9\"`, 100_000) + `"}`)
	fs, err := Flatten(long, nil)
	if err != nil || len(fs) != 1 || string(fs[0].Str) != strings.Repeat(`é"`, 100_000) {
		t.Errorf("100,000 escapes: %d leaves, %v", len(fs), err)
	}
}

// TestFlattenInvalidUTF8: unless the JSON is known to be valid UTF-8,
// invalid bytes in strings become U+FFFD.
func TestFlattenInvalidUTF8(t *testing.T) {
	doc := []byte(`{"s":"a` + "\xff" + `b","l":["` + "\xc3" + `"]}`)
	fs, err := Flatten(doc, nil)
	if want := []string{"s.$s=\"a\uFFFDb\"", "l.$as=[\"\uFFFD\"]"}; err != nil || !slices.Equal(texts(fs), want) {
		t.Fatalf("got %q %v, want %q", texts(fs), err, want)
	}
}

// TestValue: a part of an event flattened on its own, at a path, gives the
// leaves it gives inside the whole event.
func TestValue(t *testing.T) {
	var f Flattener
	for _, c := range []struct {
		doc, path string
		want      []string
	}{
		{`{"b":{"c":1},"d":"x","e":{}}`, "a", []string{"a.b.c.$n=1", `a.d.$s="x"`}},
		{`"x"`, "a" + Sep + "b", []string{`a.b.$s="x"`}},
		{`["x","y"]`, "t", []string{`t.$as=["x","y"]`}},
		{`[1, {"x":true}]`, "t", []string{`t.$aj="[1,{\"x\":true}]"`}},
		{`{"id":"x","location":{"coordinates":[1,2]}}`, "keen", []string{`keen.location.coordinates.$aj="[1,2]"`}},
		{`{}`, "a", nil},
	} {
		got, err := f.Value([]byte(c.doc), []byte(c.path), nil, 0)
		if err != nil || !slices.Equal(texts(got), c.want) {
			t.Errorf("Value(%s, %q) = %q %v, want %q", c.doc, c.path, texts(got), err, c.want)
		}
	}
	if _, err := f.Value([]byte(`1 2`), []byte("a"), nil, 0); err == nil {
		t.Error("Value(1 2): no error")
	}
}

func TestStringAndNumberValue(t *testing.T) {
	for tok, want := range map[string]string{`"abc"`: "abc", `""`: "", `"a\"b\u00e9"`: `a"bé`} {
		if got, err := StringValue([]byte(tok)); err != nil || string(got) != want {
			t.Errorf("StringValue(%s) = %q %v, want %q", tok, got, err, want)
		}
	}
	for tok, want := range map[string]string{"1": "1", "-2.5e3": "-2500", "1e400": "+Inf"} {
		if got, err := NumberValue([]byte(tok)); err != nil || fmt.Sprint(got) != want {
			t.Errorf("NumberValue(%s) = %v %v, want %s", tok, got, err, want)
		}
	}
	// The fast path for simple numbers gives exactly what ParseFloat gives.
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 200000 {
		var tok string
		switch i % 4 {
		case 0:
			tok = strconv.FormatInt(r.Int64N(1<<53)>>r.IntN(53), 10)
		case 1:
			tok = strconv.FormatFloat(r.Float64()*math.Pow(10, float64(r.IntN(30)-15)), 'f', r.IntN(17), 64)
		case 2:
			tok = fmt.Sprintf("-%d.%0*d", r.IntN(1e6), r.IntN(12)+1, r.Int64N(1e12))
		default:
			tok = fmt.Sprint(r.Int64N(1e16)) + "." + fmt.Sprint(r.IntN(100)) // past 15 digits: strconv
		}
		want, _ := strconv.ParseFloat(tok, 64)
		if got, err := NumberValue([]byte(tok)); err != nil || got != want {
			t.Fatalf("NumberValue(%s) = %v %v, want %v", tok, got, err, want)
		}
	}
	for _, tok := range []string{"0", "-0", "0.5", "999999999999999", "0.000000000000001", "123456789012345.6", "1.", "-"} {
		want, wantErr := strconv.ParseFloat(tok, 64)
		got, err := NumberValue([]byte(tok))
		if (err != nil) != (wantErr != nil) || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("NumberValue(%s) = %v %v, want %v %v", tok, got, err, want, wantErr)
		}
	}
	if _, err := NumberValue([]byte("1x")); err == nil {
		t.Error("NumberValue(1x): no error")
	}
}

// TestKeysIntern: the n-th key of an event is found where the last event
// had it, and any other through the map; equal keys share one string.
func TestKeysIntern(t *testing.T) {
	if got, want := string(AppendKey([]byte("x"), []byte("a"+Sep+"b"), StrArray)), "x"+Key("a"+Sep+"b", StrArray); got != want {
		t.Fatalf("AppendKey = %q, want %q", got, want)
	}
	var ks Keys
	a := ks.Intern(0, []byte("a"))
	b := ks.Intern(1, []byte("b"))
	if got := ks.Intern(0, []byte("a")); got != a || ks.Intern(1, []byte("b")) != b {
		t.Fatal("same shape: different keys")
	}
	// Another shape: b first. It must give the same string as before.
	if got := ks.Intern(0, []byte("b")); got != "b" || ks.keys["b"] != got {
		t.Fatalf("Intern(0, b) = %q", got)
	}
	if ks.shape[0] != "b" {
		t.Fatalf("shape not updated: %q", ks.shape)
	}
	// Keys that are data (a new name per event) do not grow it without end.
	for i := range 3 * maxKeys {
		ks.Intern(0, fmt.Appendf(nil, "id-%d", i))
	}
	if len(ks.keys) > maxKeys {
		t.Fatalf("%d keys interned, want at most %d", len(ks.keys), maxKeys)
	}
	// A leaf far past the known shape is interned without growing it.
	if got := ks.Intern(5, []byte("c")); got != "c" || len(ks.shape) != 2 {
		t.Fatalf("Intern(5, c) = %q, shape %q", got, ks.shape)
	}
}

// TestFieldString: the rendering the tests compare leaves by shows the
// field of the leaf's type, and only it.
func TestFieldString(t *testing.T) {
	for _, c := range []struct {
		f    Field
		want string
	}{
		{Field{Key: Key("a"+Sep+"b", String), Str: []byte(`x"y`), Num: 2}, `a.b.$s="x\"y"`},
		{Field{Key: Key("n", Number), Num: 1, Str: []byte("1")}, "n.$n=1"},
		{Field{Key: Key("n", Number), Num: -0.5}, "n.$n=-0.5"},
		{Field{Key: Key("l", StrArray), Strs: [][]byte{[]byte("x"), []byte(`"`)}}, `l.$as=["x","\""]`},
		{Field{Key: Key("l", StrArray)}, `l.$as=[]`},
		{Field{Key: Key("j", JSONArray), Str: []byte(`[1,"a"]`)}, `j.$aj="[1,\"a\"]"`},
		{Field{Key: Key("b", Bool)}, "b.$b=false"},
		{Field{Key: Key("z", Null), Bool: true}, "z.$z=true"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%#v: %s, want %s", c.f, got, c.want)
		}
	}
}
