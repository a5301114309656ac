package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Operators are Keen's filter operators (and "or", whose operands are
// filters).
var Operators = []string{"eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains", "regex", "within", "or"}

// GeoProperty is the only property a within filter may name (Keen's rule).
const GeoProperty = "keen.location.coordinates"

// propertyTypes are the types a filter's optional property_type names (as
// Keen's explorer sends it); the value is converted to it.
var propertyTypes = []string{"String", "Number", "Boolean", "Null", "List", "Datetime", "Geo"}

// parseFilters parses a "filters" parameter: an array of filters, ANDed.
func parseFilters(raw json.RawMessage) ([]store.Filter, error) {
	if isNull(raw) {
		return nil, nil
	}
	var in []json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, invalid(`"filters" must be an array of {"property_name", "operator", "property_value"}`)
	}
	out := make([]store.Filter, 0, len(in))
	for i, f := range in {
		sf, err := parseFilter(f)
		if err != nil {
			return nil, prefix(fmt.Sprintf("filter %d: ", i), err)
		}
		out = append(out, sf)
	}
	return out, nil
}

// keyFilters are an access key's query filters, parsed as a client's are.
func keyFilters(fs []registry.Filter) ([]store.Filter, error) {
	out := make([]store.Filter, 0, len(fs))
	for i, f := range fs {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("encoding the access key's filter %d: %w", i, err)
		}
		sf, err := parseFilter(b)
		if err != nil {
			return nil, prefix(fmt.Sprintf("the access key's query filter %d: ", i), err)
		}
		out = append(out, sf)
	}
	return out, nil
}

func parseFilter(raw json.RawMessage) (store.Filter, error) {
	var f struct {
		PropertyName  *string         `json:"property_name"`
		Operator      *string         `json:"operator"`
		PropertyValue json.RawMessage `json:"property_value"`
		PropertyType  *string         `json:"property_type"`
		Operands      json.RawMessage `json:"operands"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return store.Filter{}, invalid(`a filter is {"property_name", "operator", "property_value"} (or {"operator": "or", "operands": [filters]}): %s`, jsonProblem(err))
	}
	if f.Operator == nil {
		return store.Filter{}, invalid(`a filter needs "operator"`)
	}
	op := *f.Operator
	if !slices.Contains(Operators, op) {
		return store.Filter{}, invalid(`operator %q is not a Keen filter operator; use one of %s`, op, strings.Join(Operators, ", "))
	}
	if op == "or" {
		if f.PropertyName != nil || !isNull(f.PropertyValue) || f.PropertyType != nil {
			return store.Filter{}, invalid(`an "or" filter has only "operator" and "operands"`)
		}
		var operands []json.RawMessage
		if err := json.Unmarshal(f.Operands, &operands); err != nil || len(operands) == 0 {
			return store.Filter{}, invalid(`an "or" filter needs "operands": a non-empty array of filters`)
		}
		or := store.Filter{Operator: "or"}
		for i, o := range operands {
			sf, err := parseFilter(o)
			if err != nil {
				return store.Filter{}, prefix(fmt.Sprintf("operand %d: ", i), err)
			}
			or.Or = append(or.Or, sf)
		}
		return or, nil
	}
	if f.Operands != nil {
		return store.Filter{}, invalid(`"operands" belongs to "or" filters only`)
	}
	if f.PropertyName == nil {
		return store.Filter{}, invalid(`a filter needs "property_name"`)
	}
	path, err := propertyPath("property_name", *f.PropertyName)
	if err != nil {
		return store.Filter{}, err
	}
	var v any
	if !isNull(f.PropertyValue) {
		d := json.NewDecoder(bytes.NewReader(f.PropertyValue))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return store.Filter{}, invalid(`"property_value" is not JSON`)
		}
	}
	if f.PropertyType != nil {
		if v, err = convert(v, *f.PropertyType); err != nil {
			return store.Filter{}, err
		}
	}
	return operand(path, *f.PropertyName, op, v)
}

// operand checks a filter's value against its operator.
func operand(path []string, name, op string, v any) (store.Filter, error) {
	f := store.Filter{Path: path, Operator: op, Value: v}
	switch op {
	case "eq", "ne":
		switch x := v.(type) {
		case map[string]any:
			return f, invalid(`operator %q takes a string, number, boolean, null or array of strings, not an object`, op)
		case []any:
			for _, e := range x {
				if _, ok := e.(string); !ok {
					return f, invalid(`operator %q compares arrays of strings only`, op)
				}
			}
		}
	case "exists":
		if _, ok := v.(bool); !ok {
			return f, invalid(`operator "exists" takes true or false`)
		}
	case "in":
		if _, ok := v.([]any); !ok {
			return f, invalid(`operator "in" takes an array`)
		}
	case "contains", "not_contains":
		if _, ok := v.(string); !ok {
			return f, invalid(`operator %q takes a string`, op)
		}
	case "lt", "lte", "gt", "gte":
		switch v.(type) {
		case json.Number, string:
		default:
			return f, invalid(`operator %q takes a number or a string`, op)
		}
	case "regex":
		s, ok := v.(string)
		if !ok {
			return f, invalid(`operator "regex" takes a string (an RE2 regular expression)`)
		}
		if _, err := regexp.Compile(s); err != nil {
			return f, invalid(`operator "regex": %q is not an RE2 regular expression: %v`, s, err)
		}
	case "within":
		if name != GeoProperty {
			return f, refuse("InvalidPropertyNameForGeoFilter", "You specified a geo filter on a property other than %s, which is not allowed. You specified: '%s'.", GeoProperty, name)
		}
		g, err := geo(v)
		if err != nil {
			return f, err
		}
		f.Value = g
	}
	return f, nil
}

// geo reads a within filter's value: {"coordinates": [longitude,
// latitude], "max_distance_miles": N}.
func geo(v any) (store.Geo, error) {
	bad := invalid(`operator "within" takes {"coordinates": [longitude, latitude], "max_distance_miles": miles}`)
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 {
		return store.Geo{}, bad
	}
	c, ok := m["coordinates"].([]any)
	if !ok || len(c) != 2 {
		return store.Geo{}, bad
	}
	lon, err1 := num(c[0])
	lat, err2 := num(c[1])
	miles, err3 := num(m["max_distance_miles"])
	if err1 != nil || err2 != nil || err3 != nil || lon < -180 || lon > 180 || lat < -90 || lat > 90 || miles < 0 {
		return store.Geo{}, bad
	}
	return store.Geo{Longitude: lon, Latitude: lat, MaxMiles: miles}, nil
}

func num(v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	return n.Float64()
}

// convert gives a filter's value the type its property_type names: a
// form's text "5" with Number is the number 5.
func convert(v any, typ string) (any, error) {
	if !slices.Contains(propertyTypes, typ) {
		return nil, invalid(`"property_type" %q is not one of %s`, typ, strings.Join(propertyTypes, ", "))
	}
	mismatch := invalid(`"property_value" is not a %s`, typ)
	switch typ {
	case "String":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
	case "Number":
		switch x := v.(type) {
		case json.Number:
			return x, nil
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && json.Valid([]byte(strings.TrimSpace(x))) {
				return json.Number(strings.TrimSpace(x)), nil
			}
		}
	case "Boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
	case "Null":
		if v == nil || v == "null" {
			return nil, nil
		}
	case "List":
		if _, ok := v.([]any); ok {
			return v, nil
		}
	case "Datetime":
		// Stored timestamps are UTC with milliseconds, so a date-time
		// compares with them as a string once written the same way.
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
			}
		}
	case "Geo":
		if _, ok := v.(map[string]any); ok {
			return v, nil
		}
	}
	return nil, mismatch
}

// propertyPath splits a property name ("customer.id") into its path.
func propertyPath(param, name string) ([]string, error) {
	if name == "" {
		return nil, invalid("%q must not be empty", param)
	}
	path := strings.Split(name, ".")
	if slices.Contains(path, "") {
		return nil, invalid("%q %q has an empty part", param, name)
	}
	return path, nil
}

// jsonProblem names what a strict decoder objected to.
func jsonProblem(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return msg[i:]
	}
	return "not such an object"
}
