package event

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Autofill is the writing access key's options.writes.autofill
// (docs/contract.md §7): properties deep-merged into every event written with the key, after
// the add-ons (the Kafka Inbound order: keen object, add-ons, autofill).
//
// Keen does not document who wins a conflict (§9 question 2). Autofill wins:
// it is how an access key pins a tenant ("customer.id"), and an event must
// not be able to override it. Objects present on both sides are merged
// recursively; any other autofill value replaces the event's. A top-level
// "keen" key in autofill is ignored: the keen object is sluice's and the
// client's only. Autofill obeys the same naming and array rules as events;
// a key whose autofill breaks them refuses every event written with it, with
// a message saying the autofill is at fault.

func applyAutofill(ws *workspace, root *value, autofill map[string]any) *Error {
	af, err := autofillObject(ws, autofill, ws.path[:0])
	if err != nil {
		return err
	}
	af.remove("keen")
	merge(root, &af)
	return nil
}

// merge deep-merges src into dst; both are objects.
func merge(dst, src *value) {
	for i := range src.members {
		m := &src.members[i]
		j := dst.index(string(m.name))
		switch {
		case j < 0:
			dst.members = append(dst.members, *m)
		case dst.members[j].val.kind == kindObject && m.val.kind == kindObject:
			merge(&dst.members[j].val, &m.val)
		default:
			dst.members[j].val = m.val
		}
	}
}

// The converted autofill lives in the workspace like the rest of the event:
// it is rebuilt for every event (the caller's map may change between two),
// so it must cost little. path (where the conversion is, for messages) is
// only read while an error is worded, so a child's path is appended in place
// and its siblings reuse the slot: no allocation per key.

func autofillObject(ws *workspace, m map[string]any, path []pathElem) (value, *Error) {
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable order: the same event always gives the same bytes
	base := len(ws.stack)
	for _, k := range keys {
		if err := checkName(k, path); err != nil {
			return value{}, autofillError(err)
		}
		quoted := ws.str(k).raw
		name := quoted[1 : len(quoted)-1]
		if len(name) != len(k) { // escaped: the decoded name is k itself
			name = []byte(k)
		}
		child := append(path, pathElem{name: name, index: -1})
		v, err := autofillValue(ws, m[k], child)
		if err != nil {
			return value{}, err
		}
		ws.stack = append(ws.stack, member{name: name, quoted: quoted, val: v})
	}
	return value{kind: kindObject, members: ws.pop(base)}, nil
}

func autofillValue(ws *workspace, x any, path []pathElem) (value, *Error) {
	switch t := x.(type) {
	case nil:
		return nullValue, nil
	case bool:
		if t {
			return trueValue, nil
		}
		return falseValue, nil
	case string:
		return ws.str(t), nil
	case json.Number:
		if !isJSONNumber(string(t)) {
			return value{}, autofillError(newError(ErrInvalidPropertyValue, "property %s is not a valid number: %q", formatPath(path), string(t)))
		}
		return ws.raw(kindNumber, string(t)), nil
	case float64:
		return jsonFloat(ws, t, path)
	case float32:
		return jsonFloat(ws, float64(t), path)
	case int:
		return ws.int(int64(t)), nil
	case int64:
		return ws.int(t), nil
	case int32:
		return ws.int(int64(t)), nil
	case uint64:
		start := len(ws.text)
		ws.text = strconv.AppendUint(ws.text, t, 10)
		return value{kind: kindNumber, raw: ws.text[start:len(ws.text):len(ws.text)]}, nil
	case map[string]any:
		return autofillObject(ws, t, path)
	case []any:
		base := len(ws.stack)
		for i, e := range t {
			switch e.(type) {
			case map[string]any, []any:
				c := byte('{')
				if _, ok := e.([]any); ok {
					c = '['
				}
				return value{}, autofillError(nonPrimitiveElement(path, i, c))
			}
			ev, err := autofillValue(ws, e, append(path, pathElem{index: i}))
			if err != nil {
				return value{}, err
			}
			ws.stack = append(ws.stack, member{val: ev})
		}
		return value{kind: kindArray, members: ws.pop(base)}, nil
	default:
		return value{}, autofillError(newError(ErrInvalidPropertyValue, "property %s has a value of Go type %T that is not JSON", formatPath(path), x))
	}
}

func autofillError(e *Error) *Error {
	e.Message = "the access key's autofill is invalid: " + e.Message
	return e
}

// jsonFloat formats f as encoding/json does.
func jsonFloat(ws *workspace, f float64, path []pathElem) (value, *Error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value{}, autofillError(newError(ErrInvalidPropertyValue, "property %s is %v, which JSON cannot hold", formatPath(path), f))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(ws.text)
	b := strconv.AppendFloat(ws.text, f, format, -1, 64)
	if format == 'e' { // 1e-07 → 1e-7, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	ws.text = b
	return value{kind: kindNumber, raw: b[start:len(b):len(b)]}, nil
}

func isJSONNumber(s string) bool {
	p := parser{data: []byte(s)}
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	_, err := p.scanNumber()
	return err == nil && p.pos == len(s)
}
