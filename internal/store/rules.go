package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
)

// The rules every engine applies the same way: what a deletion may name,
// how a filter's value reads, which leaves a group_by value comes from.

// Check refuses a deletion that names no project or collection, both a
// property and events, or a property no deletion may remove: the keen
// object and its own fields, which every event has.
func (d Deletion) Check() error {
	if d.ProjectID == "" || d.Collection == "" {
		return errors.New("store: a deletion names a project and a collection")
	}
	if len(d.Property) > 0 && d.Events != nil {
		return errors.New("store: a deletion removes a property or events, not both")
	}
	path := d.Property
	if len(path) == 0 {
		return nil
	}
	for _, p := range path {
		if p == "" {
			return fmt.Errorf("store: property %q has an empty name", strings.Join(path, "."))
		}
	}
	if path[0] == "keen" && (len(path) == 1 || (len(path) == 2 && slices.Contains([]string{"id", "timestamp", "created_at"}, path[1]))) {
		return fmt.Errorf("store: the property %s cannot be deleted", strings.Join(path, "."))
	}
	return nil
}

// FilterNumber returns a filter value's number: a json.Number (out of
// range: ±Inf, as the stored events' numbers are) or a Go number. ok is
// false for any other value; err is set for a json.Number that is not a
// number.
func FilterNumber(v any) (f float64, ok bool, err error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, true, fmt.Errorf("store: filter value %s is not a number", x)
		}
		return f, true, nil
	case float64:
		return x, true, nil
	case float32:
		return float64(x), true, nil
	case int:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	}
	return 0, false, nil
}

// FilterList returns a []string filter value as the []any decoded JSON
// gives; any other value as it is.
func FilterList(v any) any {
	if l, ok := v.([]string); ok {
		a := make([]any, len(l))
		for i, s := range l {
			a[i] = s
		}
		return a
	}
	return v
}

// GroupTypes are the leaf types a group_by path's value can come from, in
// the order an engine selects their columns. A null value, an object and a
// missing value are all nil (Row.Group), so the null leaf is not among them.
var GroupTypes = []string{leaf.String, leaf.Number, leaf.Bool, leaf.StrArray, leaf.JSONArray}
