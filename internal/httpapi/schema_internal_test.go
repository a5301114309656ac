package httpapi

import (
	"bytes"
	"encoding/base64"
	"image/gif"
	"testing"

	"github.com/sluice-io/sluice/internal/leaf"
)

func TestKeenType(t *testing.T) {
	cases := []struct {
		path  string
		types []string
		want  string
	}{
		{"keen.timestamp", []string{leaf.String}, "datetime"},
		{"keen.created_at", []string{leaf.String}, "datetime"},
		{"keen.id", []string{leaf.String}, "string"},
		{"name", []string{leaf.String}, "string"},
		{"price", []string{leaf.Number}, "num"},
		{"on_sale", []string{leaf.Bool}, "bool"},
		{"tags", []string{leaf.StrArray}, "list"},
		{"matrix", []string{leaf.JSONArray}, "list"},
		{"nothing yet", []string{leaf.Null}, "null"},
		{"no types at all", nil, "null"},
		// Several types: a value beats null; string, num, bool, list in that order.
		{"price", []string{leaf.Null, leaf.Number}, "num"},
		{"price", []string{leaf.Number, leaf.String}, "string"},
		{"flag", []string{leaf.Bool, leaf.Number}, "num"},
		{"tags", []string{leaf.JSONArray, leaf.Bool}, "bool"},
		{"tags", []string{leaf.StrArray, leaf.JSONArray, leaf.Null}, "list"},
	}
	for _, tc := range cases {
		if got := keenType(tc.path, tc.types); got != tc.want {
			t.Errorf("keenType(%q, %v) = %q, want %q", tc.path, tc.types, got, tc.want)
		}
	}
}

func TestDecodeBeaconData(t *testing.T) {
	// {"n":"é?>"} encodes with "+" and "/" in standard base64.
	const event = `{"n":"é?>>"}`
	std := base64.StdEncoding.EncodeToString([]byte(event))
	if !bytes.ContainsAny([]byte(std), "+/=") {
		t.Fatalf("test event %q encodes without +, / or =: %s", event, std)
	}
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"standard, padded (Python, keen-tracking.js)", std, true},
		{"URL-safe, padded (keen-gem)", base64.URLEncoding.EncodeToString([]byte(event)), true},
		{"standard, unpadded", base64.RawStdEncoding.EncodeToString([]byte(event)), true},
		{"URL-safe, unpadded", base64.RawURLEncoding.EncodeToString([]byte(event)), true},
		{"+ arrived as a space", string(bytes.ReplaceAll([]byte(std), []byte("+"), []byte(" "))), true},
		{"empty", "", false},
		{"not base64", "{not base64}", false},
		{"cut inside a group", std[:5], false},
	}
	for _, tc := range cases {
		got, err := decodeBeaconData(tc.in)
		if tc.ok && (err != nil || string(got) != event) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, event)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: decoded %q, want an error", tc.name, got)
		}
	}
}

func TestPixelIsAGIF(t *testing.T) {
	img, err := gif.Decode(bytes.NewReader(pixelGIF))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1 || b.Dy() != 1 {
		t.Fatalf("pixel is %v", b)
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Fatalf("pixel is not transparent: alpha %d", a)
	}
}

func TestIsWebURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/landing?x=1": true,
		"http://example.com":              true,
		"javascript:alert(1)":             false,
		"//example.com/x":                 false,
		"/relative":                       false,
		"ftp://example.com/f":             false,
		"https://":                        false,
		"":                                false,
	} {
		if got := isWebURL(s); got != want {
			t.Errorf("isWebURL(%q) = %v, want %v", s, got, want)
		}
	}
}
