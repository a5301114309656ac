package query

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The order of values in answers (select_unique's values, funnel actors,
// groups, order_by): null, then false and true, then numbers, then strings
// (by bytes), then arrays; values of one kind by their natural order.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, int, float64, json.Number:
		return 2
	case string:
		return 3
	case []string:
		return 4
	case json.RawMessage:
		return 5
	default:
		return 6
	}
}

func compareValues(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int64, int, float64, json.Number:
		fa, fb := toFloat(a), toFloat(b)
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case []string:
		y := b.([]string)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := strings.Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return len(x) - len(y)
	case json.RawMessage:
		return bytes.Compare(x, b.(json.RawMessage))
	case []any:
		y, _ := b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := compareValues(x[i], y[i]); c != 0 {
				return c
			}
		}
		return len(x) - len(y)
	}
	return 0
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return math.NaN()
}

func sortValues(vs []any) {
	sort.SliceStable(vs, func(i, j int) bool { return compareValues(vs[i], vs[j]) < 0 })
}

// valueKey identifies a value by type and value: the string "1" and the
// number 1 are different actors.
func valueKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "z"
	case bool:
		return "b" + strconv.FormatBool(x)
	case string:
		return "s" + x
	case float64, int64, int, json.Number:
		return "n" + strconv.FormatFloat(toFloat(x), 'g', -1, 64)
	default:
		b, _ := json.Marshal(x)
		return "j" + string(b)
	}
}

// render gives a store value its JSON form: a float that is not finite
// (a sum past float64's range) is null, select_unique's values are sorted.
func render(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
	case []any:
		out := append([]any(nil), x...)
		sortValues(out)
		return out
	}
	return v
}
