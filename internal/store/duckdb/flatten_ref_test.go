package duckdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/sluice-io/sluice/internal/leaf"
)

// flattenReference is the first, json.Decoder-based flattener, kept to
// cross-check flatten. It returns the typed leaves of a stored event's JSON: nested
// objects become dotted paths; arrays are leaves (not descended into).
// Empty objects produce no leaf (so "exists" is false for them).
func flattenReference(doc []byte, out []leaf.Field) ([]leaf.Field, error) {
	return flattenObject(doc, "", out)
}

func flattenObject(doc []byte, prefix string, out []leaf.Field) ([]leaf.Field, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return out, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return out, fmt.Errorf("store: event JSON is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out, err
		}
		name, _ := t.(string)
		path := name
		if prefix != "" {
			path = prefix + leaf.Sep + name
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, err
		}
		if out, err = flattenValue(raw, path, out); err != nil {
			return out, err
		}
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return out, err
	}
	return out, nil
}

func flattenValue(raw []byte, path string, out []leaf.Field) ([]leaf.Field, error) {
	if len(raw) == 0 {
		return out, nil
	}
	switch raw[0] {
	case '{':
		return flattenObject(raw, path, out)
	case '[':
		var arr []any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&arr); err != nil {
			return out, err
		}
		for _, e := range arr {
			if _, ok := e.(string); !ok {
				var buf bytes.Buffer
				if err := json.Compact(&buf, raw); err != nil {
					return out, err
				}
				return append(out, leaf.Field{Key: leaf.Key(path, leaf.JSONArray), Str: buf.Bytes()}), nil
			}
		}
		var strs [][]byte
		for _, e := range arr {
			strs = append(strs, []byte(e.(string)))
		}
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.StrArray), Strs: strs}), nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return out, err
		}
		switch path { // the table's own columns hold these
		case "keen" + leaf.Sep + "id", "keen" + leaf.Sep + "timestamp", "keen" + leaf.Sep + "created_at":
			return out, nil
		}
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.String), Str: []byte(s)}), nil
	case 't':
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.Bool), Bool: true}), nil
	case 'f':
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.Bool)}), nil
	case 'n':
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.Null), Bool: true}), nil
	default:
		// Out-of-range numbers parse to ±Inf, which DOUBLE holds.
		f, _ := strconv.ParseFloat(string(raw), 64)
		return append(out, leaf.Field{Key: leaf.Key(path, leaf.Number), Num: f}), nil
	}
}
