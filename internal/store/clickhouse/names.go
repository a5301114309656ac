package clickhouse

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/leaf"
)

// Names: a collection's table is "e_" + enc(project) + "__" + enc(collection),
// a leaf's column "p_" + enc(path) + "__" + type, where enc keeps ASCII
// letters and digits and writes every other byte as _XX (hex), so that "__"
// never occurs inside enc's output and a name decodes back. Plain
// identifiers keep every statement free of quoting surprises in the
// driver's INSERT parsing.

// Fixed columns of every collection table.
const (
	colID      = "_id"      // keen.id
	colTS      = "_ts"      // keen.timestamp, Unix milliseconds (18.16 has no DateTime64)
	colCreated = "_created" // keen.created_at, Unix milliseconds
	colJSON    = "_json"    // the stored event
	colKeys    = "_keys"    // the event's leaf keys: presence of arrays, exists
	colV       = "_v"       // ReplacingMergeTree version
)

// maxNameLen keeps a table's directory name within file-system limits.
const maxNameLen = 200

func enc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

func dec(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

func tablePrefix(project string) string { return "e_" + enc(project) + "__" }

func tableName(project, collection string) (string, error) {
	n := tablePrefix(project) + enc(collection)
	if len(n) > maxNameLen {
		return "", fmt.Errorf("clickhouse store: project and collection names %q, %q are too long for a table name", project, collection)
	}
	return n, nil
}

// columnName is the column of leaf key k (path parts joined by leaf.Sep,
// then Sep$type).
func columnName(k string) string {
	i := strings.LastIndex(k, leaf.Sep+"$")
	return "p_" + enc(k[:i]) + "__" + k[i+2:]
}

// columnKey is the leaf key of a column, ok false for a fixed column.
func columnKey(col string) (string, bool) {
	if !strings.HasPrefix(col, "p_") {
		return "", false
	}
	i := strings.LastIndex(col, "__")
	if i < 2 {
		return "", false
	}
	path, ok := dec(col[2:i])
	if !ok {
		return "", false
	}
	return leaf.Key(path, col[i+2:]), true
}

// columnType is the ClickHouse type of a leaf type's column.
func columnType(typ string) (string, error) {
	switch typ {
	case leaf.String, leaf.JSONArray:
		return "Nullable(String)", nil
	case leaf.Number:
		return "Nullable(Float64)", nil
	case leaf.Bool, leaf.Null:
		return "Nullable(UInt8)", nil
	case leaf.StrArray:
		// 18.16 has no Nullable(Array): presence is in _keys.
		return "Array(String)", nil
	}
	return "", fmt.Errorf("clickhouse store: unknown leaf type %q", typ)
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}

// str is s as a ClickHouse string literal (any bytes).
func str(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// num is f as a Float64 literal.
func num(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "toFloat64('inf')"
	case math.IsInf(f, -1):
		return "toFloat64('-inf')"
	case math.IsNaN(f):
		return "toFloat64('nan')"
	}
	if f == 0 {
		f = 0 // -0: the stored numbers have none, and 18.16 parses "-0" as an Int16 expression
	}
	return "toFloat64(" + strconv.FormatFloat(f, 'g', -1, 64) + ")"
}
