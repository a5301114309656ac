package duckdb

import (
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
)

// compileWhere turns a query's timeframe and filters into a SQL condition
// over a collection's table, whose typed columns are cols (field key →
// column name). What each operator matches is store.Filter's contract; here,
// the type of the filter's value picks the column it reads (eq 5 the
// number column of the path, eq "5" the string one), and a column the
// table does not have compiles to FALSE. Numbers are compared as DOUBLE.
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

func (fc *filterCompiler) col(typ string) string { return leafColumn(fc.cols, fc.path, typ) }

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

// eq compiles equality with v.
func (fc *filterCompiler) eq(v any) (string, error) {
	var parts []string
	if f, ok, err := store.FilterNumber(v); err != nil {
		return "", err
	} else if ok {
		if c := fc.col(leaf.Number); c != "" {
			parts = append(parts, c+" = "+fc.arg(f))
		}
		return or(parts), nil
	}
	switch x := store.FilterList(v).(type) {
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
	default:
		return "", fmt.Errorf("store: filter value %v (%T) is not a number, string, boolean, null or array of strings", v, v)
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

func (fc *filterCompiler) contains(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("store: operators contains and not_contains take a string, not %T", v)
	}
	var parts []string
	if c := fc.col(leaf.String); c != "" {
		parts = append(parts, "contains("+c+", "+fc.arg(s)+")")
	}
	if c := fc.col(leaf.StrArray); c != "" {
		parts = append(parts, "list_contains("+c+", "+fc.arg(s)+")")
	}
	return or(parts), nil
}

var comparisons = map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

func compileFilter(f store.Filter, cols map[string]string) (string, []any, error) {
	if f.Operator == "or" {
		if len(f.Or) == 0 {
			return "", nil, fmt.Errorf("store: an or filter without filters")
		}
		var parts []string
		var all []any
		for _, sub := range f.Or {
			c, a, err := compileFilter(sub, cols)
			if err != nil {
				return "", nil, err
			}
			parts = append(parts, "coalesce("+c+", FALSE)")
			all = append(all, a...)
		}
		return or(parts), all, nil
	}
	if len(f.Path) == 0 {
		return "", nil, fmt.Errorf("store: a filter has no property name")
	}
	fc := &filterCompiler{path: strings.Join(f.Path, leaf.Sep), cols: cols}
	var cond string
	switch f.Operator {
	case "regex":
		pattern, ok := f.Value.(string)
		if !ok {
			return "", nil, fmt.Errorf("store: operator regex takes a string (a regular expression)")
		}
		if _, err := regexp.Compile(pattern); err != nil {
			return "", nil, fmt.Errorf("store: operator regex: %w", err)
		}
		cond = "FALSE"
		if c := fc.col(leaf.String); c != "" {
			// The pattern is a literal, not a parameter, so that DuckDB
			// compiles it once rather than per row.
			cond = "regexp_matches(" + c + ", " + stringLiteral(pattern) + ")"
		}
	case "within":
		g, ok := f.Value.(store.Geo)
		if p, isPtr := f.Value.(*store.Geo); isPtr && p != nil {
			g, ok = *p, true
		}
		if !ok {
			return "", nil, fmt.Errorf("store: operator within takes a point and a distance (store.Geo), not %T", f.Value)
		}
		cond = "FALSE"
		if c := fc.col(leaf.JSONArray); c != "" {
			cond = withinCondition(c, g)
		}
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
		n, isNum, err := store.FilterNumber(f.Value)
		s, isStr := f.Value.(string)
		switch {
		case err != nil:
			return "", nil, err
		case isNum:
			if c := fc.col(leaf.Number); c != "" {
				cond = c + " " + op + " " + fc.arg(n)
			}
		case isStr:
			if c := fc.col(leaf.String); c != "" {
				cond = c + " " + op + " " + fc.arg(s)
			}
		default:
			return "", nil, fmt.Errorf("store: operator %s takes a number or a string, not %T", f.Operator, f.Value)
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
		vals, ok := store.FilterList(f.Value).([]any)
		if !ok {
			return "", nil, fmt.Errorf("store: operator in takes an array")
		}
		var parts []string
		for _, v := range vals {
			switch v.(type) {
			case []any, []string:
				continue // an array inside in matches nothing
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
	case "contains", "not_contains":
		c, err := fc.contains(f.Value)
		if err != nil {
			return "", nil, err
		}
		cond = c
		if f.Operator == "not_contains" {
			cond = not(c)
		}
	default:
		return "", nil, fmt.Errorf("store: operator %q is not supported", f.Operator)
	}
	return cond, fc.args, nil
}

// stringLiteral is s as a SQL string literal.
func stringLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// withinCondition matches a JSON-array column (compact JSON text) holding
// [longitude, latitude], two numbers, no farther than g.MaxMiles from g's
// point: the haversine distance on a sphere of store.EarthRadiusMiles.
func withinCondition(col string, g store.Geo) string {
	num := func(i int) string {
		return fmt.Sprintf("json_type(%s, '$[%d]') IN ('UBIGINT', 'BIGINT', 'DOUBLE')", col, i)
	}
	val := func(i int) string { return fmt.Sprintf("TRY_CAST(json_extract(%s, '$[%d]') AS DOUBLE)", col, i) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	// The CASE keeps the distance from being computed (and the casts from
	// failing) for arrays that are not two numbers.
	dist := fmt.Sprintf("2 * %s * asin(least(1, sqrt(pow(sin(radians(%s - %s) / 2), 2) + cos(radians(%s)) * cos(radians(%s)) * pow(sin(radians(%s - %s) / 2), 2))))",
		f(store.EarthRadiusMiles), val(1), f(g.Latitude), f(g.Latitude), val(1), val(0), f(g.Longitude))
	// An out-of-range number is ±Inf (as in the number columns): no
	// distance, and DuckDB's trigonometry refuses it.
	return fmt.Sprintf("CASE WHEN json_array_length(%s) = 2 AND %s AND %s AND isfinite(%s) AND isfinite(%s) THEN %s <= %s ELSE FALSE END",
		col, num(0), num(1), val(0), val(1), dist, f(g.MaxMiles))
}
