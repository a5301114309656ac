package clickhouse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// The keen fields kept in fixed columns, by leaf key. keen.timestamp and
// keen.created_at are strings to filters and group_by (UTC, milliseconds,
// "Z"), rebuilt from their milliseconds.
var keenColumns = map[string]string{
	leaf.Key("keen"+leaf.Sep+"id", leaf.String):         colID,
	leaf.Key("keen"+leaf.Sep+"timestamp", leaf.String):  isoMillis(colTS),
	leaf.Key("keen"+leaf.Sep+"created_at", leaf.String): isoMillis(colCreated),
}

// isoMillis is the "2006-01-02T15:04:05.000Z" text of a Unix-millisecond
// column (from 1970 on), without formatDateTime's version differences.
func isoMillis(c string) string {
	return "concat(replaceOne(toString(toDateTime(intDiv(" + c + ", 1000), 'UTC')), ' ', 'T'), '.', substring(toString(1000 + " + c + " % 1000), 2, 3), 'Z')"
}

// leafColumn is the SQL expression of the leaf of type typ at path (parts
// joined by leaf.Sep), or "" if the table has none.
func leafColumn(cols map[string]string, path, typ string) string {
	k := leaf.Key(path, typ)
	if c, ok := keenColumns[k]; ok {
		return c
	}
	return cols[k]
}

// millisCeil is t in Unix milliseconds, rounded up: the stored
// milliseconds are integers, so _ts >= millisCeil(t) is _ts >= t.
func millisCeil(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// compileWhere turns a query's timeframe and filters into a condition over
// a collection's table, whose leaf columns are cols.
func compileWhere(q store.Query, cols map[string]string) (string, error) {
	var conds []string
	if !q.Start.IsZero() {
		conds = append(conds, colTS+" >= "+strconv.FormatInt(millisCeil(q.Start), 10))
	}
	if !q.End.IsZero() {
		conds = append(conds, colTS+" < "+strconv.FormatInt(millisCeil(q.End), 10))
	}
	for _, f := range q.Filters {
		c, err := compileFilter(f, cols)
		if err != nil {
			return "", err
		}
		conds = append(conds, "ifNull("+c+", 0)")
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), nil
}

type filterCompiler struct {
	path string
	cols map[string]string
}

func (fc *filterCompiler) col(typ string) string { return leafColumn(fc.cols, fc.path, typ) }

// present is the condition that the event has the leaf of type typ.
func (fc *filterCompiler) present(typ string) string {
	return "has(" + colKeys + ", " + str(leaf.Key(fc.path, typ)) + ")"
}

func or(parts []string) string {
	switch len(parts) {
	case 0:
		return "0"
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func not(cond string) string { return "NOT ifNull(" + cond + ", 0)" }

func (fc *filterCompiler) eq(v any) (string, error) {
	var parts []string
	if f, ok, err := store.FilterNumber(v); err != nil {
		return "", err
	} else if ok {
		if c := fc.col(leaf.Number); c != "" {
			parts = append(parts, c+" = "+num(f))
		}
		return or(parts), nil
	}
	switch x := store.FilterList(v).(type) {
	case string:
		if c := fc.col(leaf.String); c != "" {
			parts = append(parts, c+" = "+str(x))
		}
		if c := fc.col(leaf.StrArray); c != "" {
			parts = append(parts, "has("+c+", "+str(x)+")")
		}
	case bool:
		if c := fc.col(leaf.Bool); c != "" {
			b := "0"
			if x {
				b = "1"
			}
			parts = append(parts, c+" = "+b)
		}
	case nil:
		if c := fc.col(leaf.Null); c != "" {
			parts = append(parts, c+" = 1")
		}
	case []any:
		if c := fc.col(leaf.StrArray); c != "" && allStrings(x) {
			if len(x) == 0 {
				parts = append(parts, "("+fc.present(leaf.StrArray)+" AND empty("+c+"))")
			} else {
				elems := make([]string, len(x))
				for i, e := range x {
					elems[i] = str(e.(string))
				}
				parts = append(parts, c+" = ["+strings.Join(elems, ", ")+"]")
			}
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
		parts = append(parts, "position("+c+", "+str(s)+") > 0")
	}
	if c := fc.col(leaf.StrArray); c != "" {
		parts = append(parts, "has("+c+", "+str(s)+")")
	}
	return or(parts), nil
}

var comparisons = map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}

// ownKeenPaths are the paths always present: the keen object and its
// fields in fixed columns.
var ownKeenPaths = map[string]bool{
	"keen": true, "keen" + leaf.Sep + "id": true, "keen" + leaf.Sep + "timestamp": true, "keen" + leaf.Sep + "created_at": true,
}

func compileFilter(f store.Filter, cols map[string]string) (string, error) {
	if f.Operator == "or" {
		if len(f.Or) == 0 {
			return "", fmt.Errorf("store: an or filter without filters")
		}
		var parts []string
		for _, sub := range f.Or {
			c, err := compileFilter(sub, cols)
			if err != nil {
				return "", err
			}
			parts = append(parts, "ifNull("+c+", 0)")
		}
		return or(parts), nil
	}
	if len(f.Path) == 0 {
		return "", fmt.Errorf("store: a filter has no property name")
	}
	fc := &filterCompiler{path: strings.Join(f.Path, leaf.Sep), cols: cols}
	switch f.Operator {
	case "regex":
		pattern, ok := f.Value.(string)
		if !ok {
			return "", fmt.Errorf("store: operator regex takes a string (a regular expression)")
		}
		if _, err := regexp.Compile(pattern); err != nil {
			return "", fmt.Errorf("store: operator regex: %w", err)
		}
		if c := fc.col(leaf.String); c != "" {
			// 18.16 pre-checks a literal it finds in the pattern, case
			// sensitively even under (?i): match('Paris', '(?i)paris') is
			// 0. A top-level alternative that matches nothing ([^\s\S])
			// leaves it no required literal, and the pattern its meaning.
			return "match(" + c + ", " + str("(?:"+pattern+")|[^\\s\\S]") + ")", nil
		}
		return "0", nil
	case "within":
		g, ok := f.Value.(store.Geo)
		if p, isPtr := f.Value.(*store.Geo); isPtr && p != nil {
			g, ok = *p, true
		}
		if !ok {
			return "", fmt.Errorf("store: operator within takes a point and a distance (store.Geo), not %T", f.Value)
		}
		if c := fc.col(leaf.JSONArray); c != "" {
			return withinCondition(c, g), nil
		}
		return "0", nil
	case "eq", "ne":
		c, err := fc.eq(f.Value)
		if err != nil {
			return "", err
		}
		if f.Operator == "ne" {
			return not(c), nil
		}
		return c, nil
	case "lt", "lte", "gt", "gte":
		op := comparisons[f.Operator]
		n, isNum, err := store.FilterNumber(f.Value)
		s, isStr := f.Value.(string)
		switch {
		case err != nil:
			return "", err
		case isNum:
			if c := fc.col(leaf.Number); c != "" {
				return c + " " + op + " " + num(n), nil
			}
		case isStr:
			if c := fc.col(leaf.String); c != "" {
				return c + " " + op + " " + str(s), nil
			}
		default:
			return "", fmt.Errorf("store: operator %s takes a number or a string, not %T", f.Operator, f.Value)
		}
		return "0", nil
	case "exists":
		want, ok := f.Value.(bool)
		if !ok {
			return "", fmt.Errorf("store: operator exists takes true or false")
		}
		cond := "1"
		if !ownKeenPaths[fc.path] {
			prefix := fc.path + leaf.Sep
			cond = "arrayExists(k -> substring(k, 1, " + strconv.Itoa(len(prefix)) + ") = " + str(prefix) + ", " + colKeys + ")"
		}
		if !want {
			return not(cond), nil
		}
		return cond, nil
	case "in":
		vals, ok := store.FilterList(f.Value).([]any)
		if !ok {
			return "", fmt.Errorf("store: operator in takes an array")
		}
		var parts []string
		for _, v := range vals {
			switch v.(type) {
			case []any, []string:
				continue // an array inside in matches nothing
			}
			c, err := fc.eq(v)
			if err != nil {
				return "", err
			}
			if c != "0" {
				parts = append(parts, "ifNull("+c+", 0)")
			}
		}
		return or(parts), nil
	case "contains", "not_contains":
		c, err := fc.contains(f.Value)
		if err != nil {
			return "", err
		}
		if f.Operator == "not_contains" {
			return not(c), nil
		}
		return c, nil
	}
	return "", fmt.Errorf("store: operator %q is not supported", f.Operator)
}

// withinCondition matches a JSON-array column (compact JSON text) holding
// [longitude, latitude], two finite numbers, no farther than g.MaxMiles
// from g's point (haversine on a sphere of store.EarthRadiusMiles). 18.16
// has no JSON functions: the text is split at its one comma, and an
// element that is not a plain number (a string, an array) does not parse.
func withinCondition(col string, g store.Geo) string {
	s := "ifNull(" + col + ", '')"
	parts := "splitByChar(',', substring(" + s + ", 2, length(" + s + ") - 2))"
	el := func(i int) string { return "toFloat64OrNull(" + parts + "[" + strconv.Itoa(i) + "])" }
	val := func(i int) string { return "ifNull(" + el(i) + ", 0)" }
	rad := func(x string) string { return "(" + x + ") * pi() / 180" }
	lon, lat := val(1), val(2)
	dist := "2 * " + num(store.EarthRadiusMiles) + " * asin(least(1, sqrt(pow(sin(" + rad(lat+" - "+num(g.Latitude)) + " / 2), 2) + cos(" +
		rad(num(g.Latitude)) + ") * cos(" + rad(lat) + ") * pow(sin(" + rad(lon+" - "+num(g.Longitude)) + " / 2), 2))))"
	valid := "length(" + parts + ") = 2 AND isNotNull(" + el(1) + ") AND isNotNull(" + el(2) + ") AND isFinite(" + lon + ") AND isFinite(" + lat + ")"
	return "if(" + valid + ", " + dist + " <= " + num(g.MaxMiles) + ", 0)"
}
