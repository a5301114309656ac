package dataset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// keptRow is a store row as a dataset keeps it: its bucket, named by its
// start (Unix nanoseconds: an instant means the same interval in any run
// of one definition, where an index into a run's buckets would not once
// the timeframe has moved), its group values and its value, encoded by
// encodeValue so that decoding gives back values query.Shape orders and
// renders as it does the store's.
type keptRow struct {
	Start int64 `json:"t"`
	Group []any `json:"g,omitempty"`
	Value any   `json:"v"`
}

// encodeRows encodes rows[i], the rows of analysis i, whose buckets are
// bounded by buckets.
func encodeRows(rows [][]store.Row, buckets []time.Time) (json.RawMessage, error) {
	out := make([][]keptRow, len(rows))
	for i, rs := range rows {
		out[i] = make([]keptRow, len(rs))
		for j, r := range rs {
			g := make([]any, len(r.Group))
			for k, v := range r.Group {
				g[k] = encodeValue(v)
			}
			out[i][j] = keptRow{Start: buckets[r.Bucket].UnixNano(), Group: g, Value: encodeValue(r.Value)}
		}
	}
	return json.Marshal(out)
}

// decodeRows reverses encodeRows for the buckets bucket finds by their
// start (the index of the bucket of a query); rows of other buckets are
// left out.
func decodeRows(b json.RawMessage, bucket func(start int64) (int, bool)) ([][]store.Row, error) {
	var kept [][]keptRow
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&kept); err != nil {
		return nil, err
	}
	rows := make([][]store.Row, len(kept))
	for i, ks := range kept {
		for _, k := range ks {
			b, ok := bucket(k.Start)
			if !ok {
				continue
			}
			g := make([]any, len(k.Group))
			for n, v := range k.Group {
				var err error
				if g[n], err = decodeValue(v); err != nil {
					return nil, err
				}
			}
			v, err := decodeValue(k.Value)
			if err != nil {
				return nil, err
			}
			rows[i] = append(rows[i], store.Row{Bucket: b, Group: g, Value: v})
		}
	}
	return rows, nil
}

// encodeValue gives a store value (store.Row's types) a JSON form that
// keeps its type: an array of strings and another array are told apart
// (they order differently), the latter's JSON kept byte for byte. Numbers
// stay numbers: decoded as json.Number, they keep their digits.
func encodeValue(v any) any {
	switch x := v.(type) {
	case []string:
		return map[string][]string{"strings": x}
	case json.RawMessage:
		return map[string]string{"json": string(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeValue(e)
		}
		return out
	}
	return v
}

func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ss, ok := x["strings"].([]any); ok {
			out := make([]string, len(ss))
			for i, s := range ss {
				out[i], _ = s.(string)
			}
			return out, nil
		}
		if raw, ok := x["json"].(string); ok {
			return json.RawMessage(raw), nil
		}
		return nil, fmt.Errorf("a kept value %v is not one sluice wrote", x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = decodeValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}
