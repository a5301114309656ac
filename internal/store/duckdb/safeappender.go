package duckdb

import (
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/sluice-io/sluice/internal/leaf"
)

// rowWriter writes an Insert's rows into one table: chunkAppender, which
// fills DuckDB's data chunks directly (appender.go), or safeAppender,
// through duckdb-go's public Appender. appendRows takes the first and falls
// back to the second, once and saying so, when duckdb-go's private layout
// is not what rawConnection expects.
type rowWriter interface {
	setString(i int, s string)
	setTimestamp(i int, t time.Time)
	setBigInt(i int, v int64)
	setInteger(i int, v int32)
	setLeaf(i int, f *leaf.Field) error
	endRow() error
	close() error
	destroy()
}

var (
	_ rowWriter = (*chunkAppender)(nil)
	_ rowWriter = (*safeAppender)(nil)
)

// safeAppender appends rows through duckdb-go's Appender, one row of
// driver.Values at a time: slower (a type switch and cgo calls per value,
// see appender.go) but using only duckdb-go's API.
type safeAppender struct {
	app *duckdb.Appender
	row []driver.Value // the row being filled; nil values are NULL
}

func newSafeAppender(driverConn any, table string, names []string) (*safeAppender, error) {
	c, ok := driverConn.(driver.Conn)
	if !ok {
		return nil, fmt.Errorf("store: %T is not a driver connection", driverConn)
	}
	app, err := duckdb.NewAppenderWithColumns(c, "", "", table, names)
	if err != nil {
		return nil, fmt.Errorf("store: creating an appender for %s: %w", table, err)
	}
	return &safeAppender{app: app, row: make([]driver.Value, len(names))}, nil
}

func (a *safeAppender) setString(i int, s string)       { a.row[i] = s }
func (a *safeAppender) setTimestamp(i int, t time.Time) { a.row[i] = t.UTC() }
func (a *safeAppender) setBigInt(i int, v int64)        { a.row[i] = v }
func (a *safeAppender) setInteger(i int, v int32)       { a.row[i] = v }

// setLeaf stores a leaf as its column's type holds it (flatten.go).
func (a *safeAppender) setLeaf(i int, f *leaf.Field) error {
	_, typ := leaf.SplitKey(f.Key)
	switch typ {
	case leaf.String, leaf.JSONArray:
		a.row[i] = string(f.Str)
	case leaf.Number:
		a.row[i] = f.Num
	case leaf.Bool, leaf.Null:
		a.row[i] = f.Bool
	case leaf.StrArray:
		strs := make([]string, len(f.Strs))
		for j, s := range f.Strs {
			strs[j] = string(s)
		}
		a.row[i] = strs
	default:
		return fmt.Errorf("store: leaf %s has no column type", f.Key)
	}
	return nil
}

func (a *safeAppender) endRow() error {
	err := a.app.AppendRow(a.row...)
	clear(a.row)
	return err
}

func (a *safeAppender) close() error { return a.app.Close() }

// destroy discards the rows not yet flushed and releases the appender.
func (a *safeAppender) destroy() {
	_ = a.app.Clear()
	_ = a.app.Close()
}
