package duckdb

import (
	"encoding/json"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
)

// compileWhere turns a query's timeframe and filters into a SQL condition
// over a collection's table, whose typed columns are cols (field key →
// column name).
//
// Filter semantics (decided with the engine's evaluation; the tests hold an
// independent evaluator of the same rules):
//
//   - The type of the filter's value picks the column: eq 5 looks at the
//     number column of the path only, eq "5" at the string one. A column
//     that does not exist compiles to FALSE.
//   - eq: number, string, boolean or null equality; a string also matches
//     an array of strings that contains it; an array of strings matches an
//     equal array of strings; any other array or object value matches
//     nothing.
//   - ne and not_contains are the negations of eq and contains, so they
//     match events where the property is missing (Keen/Mongo style).
//   - lt, lte, gt, gte: numbers numerically, strings lexicographically (by
//     bytes); other values match nothing.
//   - exists true: the path has a value of any type, or has a child path
//     with one (an empty object does not count); exists false: the reverse.
//   - in: the values are split by type, each compared as eq does; an
//     array value inside "in" matches nothing.
//   - contains: a substring of a string, or a member of an array of
//     strings.
//   - Numbers are compared as float64 (DOUBLE); extraction returns the
//     events exactly as stored.
func compileWhere(q store.Query, cols map[string]string) (string, []any, error) {
	var conds []string
	var args []any
	if !q.Start.IsZero() {
		conds = append(conds, "_ts >= ?")
		args = append(args, q.Start.UTC())
	}
	if !q.End.IsZero() {
		conds = append(conds, "_ts < ?")
		args = append(args, q.End.UTC())
	}
	for _, f := range q.Filters {
		c, a, err := compileFilter(f, cols)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(conds) == 0 {
		return "TRUE", nil, nil
	}
	return strings.Join(conds, " AND "), args, nil
}

type filterCompiler struct {
	path string
	cols map[string]string
	args []any
}

func (fc *filterCompiler) col(typ string) string {
	k := leaf.Key(fc.path, typ)
	if c, ok := keenColumns[k]; ok {
		return c // also in tables of earlier versions, which have a column for it
	}
	return fc.cols[k]
}

func (fc *filterCompiler) arg(v any) string {
	fc.args = append(fc.args, v)
	return "?"
}

func or(parts []string) string {
	switch len(parts) {
	case 0:
		return "FALSE"
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func not(cond string) string { return "NOT coalesce(" + cond + ", FALSE)" }

func number(v json.Number) (float64, error) {
	f, err := v.Float64()
	if err != nil {
		return 0, fmt.Errorf("store: filter value %s is not a number", v)
	}
	return f, nil
}

// eq compiles equality with v.
func (fc *filterCompiler) eq(v any) (string, error) {
	var parts []string
	switch x := v.(type) {
	case json.Number:
		f, err := number(x)
		if err != nil {
			return "", err
		}
		if c := fc.col(leaf.Number); c != "" {
			parts = append(parts, c+" = "+fc.arg(f))
		}
	case string:
		if c := fc.col(leaf.String); c != "" {
			parts = append(parts, c+" = "+fc.arg(x))
		}
		if c := fc.col(leaf.StrArray); c != "" {
			parts = append(parts, "list_contains("+c+", "+fc.arg(x)+")")
		}
	case bool:
		if c := fc.col(leaf.Bool); c != "" {
			parts = append(parts, c+" = "+fc.arg(x))
		}
	case nil:
		if c := fc.col(leaf.Null); c != "" {
			parts = append(parts, c)
		}
	case []any:
		if c := fc.col(leaf.StrArray); c != "" && allStrings(x) {
			elems := make([]string, len(x))
			for i, e := range x {
				elems[i] = fc.arg(e)
			}
			parts = append(parts, c+" = ["+strings.Join(elems, ", ")+"]::VARCHAR[]")
		}
	}
	return or(parts), nil
}

func allStrings(a []any) bool {
	for _, e := range a {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

func (fc *filterCompiler) contains(v any) string {
	s, ok := v.(string)
	if !ok {
		return "FALSE"
	}
	var parts []string
	if c := fc.col(leaf.String); c != "" {
		parts = append(parts, "contains("+c+", "+fc.arg(s)+")")
	}
	if c := fc.col(leaf.StrArray); c != "" {
		parts = append(parts, "list_contains("+c+", "+fc.arg(s)+")")
	}
	return or(parts)
}

var comparisons = map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

func compileFilter(f store.Filter, cols map[string]string) (string, []any, error) {
	if len(f.Path) == 0 {
		return "", nil, fmt.Errorf("store: a filter has no property name")
	}
	fc := &filterCompiler{path: strings.Join(f.Path, leaf.Sep), cols: cols}
	var cond string
	switch f.Operator {
	case "eq", "ne":
		c, err := fc.eq(f.Value)
		if err != nil {
			return "", nil, err
		}
		cond = c
		if f.Operator == "ne" {
			cond = not(c)
		}
	case "lt", "lte", "gt", "gte":
		op := comparisons[f.Operator]
		cond = "FALSE"
		switch x := f.Value.(type) {
		case json.Number:
			n, err := number(x)
			if err != nil {
				return "", nil, err
			}
			if c := fc.col(leaf.Number); c != "" {
				cond = c + " " + op + " " + fc.arg(n)
			}
		case string:
			if c := fc.col(leaf.String); c != "" {
				cond = c + " " + op + " " + fc.arg(x)
			}
		}
	case "exists":
		want, ok := f.Value.(bool)
		if !ok {
			return "", nil, fmt.Errorf("store: operator exists takes true or false")
		}
		prefix := fc.path + leaf.Sep
		var parts []string
		for k, c := range cols {
			if _, own := keenColumns[k]; !own && strings.HasPrefix(k, prefix) {
				parts = append(parts, c+" IS NOT NULL")
			}
		}
		for k, c := range keenColumns {
			if strings.HasPrefix(k, prefix) {
				parts = append(parts, c+" IS NOT NULL")
			}
		}
		sort.Strings(parts)
		cond = or(parts)
		if !want {
			cond = not(cond)
		}
	case "in":
		vals, ok := f.Value.([]any)
		if !ok {
			return "", nil, fmt.Errorf("store: operator in takes an array")
		}
		var parts []string
		for _, v := range vals {
			if _, isArray := v.([]any); isArray {
				continue
			}
			c, err := fc.eq(v)
			if err != nil {
				return "", nil, err
			}
			if c != "FALSE" {
				parts = append(parts, c)
			}
		}
		cond = or(parts)
	case "contains":
		cond = fc.contains(f.Value)
	case "not_contains":
		cond = not(fc.contains(f.Value))
	default:
		return "", nil, fmt.Errorf("store: operator %q is not supported", f.Operator)
	}
	return cond, fc.args, nil
}
