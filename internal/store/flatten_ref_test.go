package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// flattenReference is the first, json.Decoder-based flattener, kept to
// cross-check flatten. It returns the typed leaves of a stored event's JSON: nested
// objects become dotted paths; arrays are leaves (not descended into).
// Empty objects produce no leaf (so "exists" is false for them).
func flattenReference(doc []byte, out []field) ([]field, error) {
	return flattenObject(doc, "", out)
}

func flattenObject(doc []byte, prefix string, out []field) ([]field, error) {
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
			path = prefix + pathSep + name
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

func flattenValue(raw []byte, path string, out []field) ([]field, error) {
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
				return append(out, field{fieldKey(path, typJSONArray), buf.String()}), nil
			}
		}
		if arr == nil {
			arr = []any{}
		}
		return append(out, field{fieldKey(path, typStrArray), arr}), nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return out, err
		}
		switch path { // the table's own columns hold these
		case "keen" + pathSep + "id", "keen" + pathSep + "timestamp", "keen" + pathSep + "created_at":
			return out, nil
		}
		return append(out, field{fieldKey(path, typString), s}), nil
	case 't':
		return append(out, field{fieldKey(path, typBool), true}), nil
	case 'f':
		return append(out, field{fieldKey(path, typBool), false}), nil
	case 'n':
		return append(out, field{fieldKey(path, typNull), true}), nil
	default:
		// Out-of-range numbers parse to ±Inf, which DOUBLE holds.
		f, _ := strconv.ParseFloat(string(raw), 64)
		return append(out, field{fieldKey(path, typNumber), f}), nil
	}
}

// textual returns fs with its []byte values (strings, in flatten's
// output) as strings, for comparison with flattenReference.
func textual(fs []field) []field {
	out := make([]field, len(fs))
	for i, f := range fs {
		switch v := f.val.(type) {
		case []byte:
			f.val = string(v)
		case []any:
			a := make([]any, len(v))
			for j, e := range v {
				if b, ok := e.([]byte); ok {
					a[j] = string(b)
				} else {
					a[j] = e
				}
			}
			f.val = a
		}
		out[i] = f
	}
	return out
}
