package duckdb

// The rows of the events go into DuckDB through its C appender, with the
// values written straight into the appender's data chunks. duckdb-go's own
// Appender takes a row of driver.Values and sets each value through a
// function chosen by a type switch, with one cgo call per string and per
// NULL and five per list. Here a value costs a store into the chunk's
// memory; strings of more than 12 bytes still take one cgo call (DuckDB
// copies them into the chunk's string heap), and NULLs are the validity
// bits left unset. For the pipeline benchmark's 1 KB events the store's
// CPU per event went from 14.5–15.1 µs to 12.6–13.1 µs (BenchmarkLoad1M,
// docs/store.md). Where duckdb-go's private layout is not found, the store
// appends through duckdb-go's public Appender instead (safeappender.go).

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/duckdb/duckdb-go/v2/mapping"
	"github.com/sluice-io/sluice/internal/leaf"
)

// rawConnection returns the DuckDB C connection of a duckdb-go driver
// connection (what database/sql.Conn.Raw gives). duckdb-go keeps it in an
// unexported field and has no API that hands it out; a duckdb-go version
// that moves it gets an error here instead of a guess, and the store falls
// back to the public Appender (DuckStore.rowWriter).
func rawConnection(driverConn any) (mapping.Connection, error) {
	v := reflect.ValueOf(driverConn)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		f := v.Elem().FieldByName("conn")
		if f.IsValid() && f.Type() == reflect.TypeFor[mapping.Connection]() {
			c := *(*mapping.Connection)(unsafe.Pointer(f.UnsafeAddr()))
			if c.Ptr != nil {
				return c, nil
			}
		}
	}
	return mapping.Connection{}, fmt.Errorf("store: no DuckDB connection in the driver's connection (%T): this duckdb-go version keeps it elsewhere", driverConn)
}

// colKind is what a column holds, and so how a value is written to it.
type colKind int

const (
	kVarchar colKind = iota
	kDouble
	kBool
	kTimestamp
	kBigInt
	kInteger
	kVarcharList
)

// column is one column of the appender's chunk, for the chunk being filled.
type column struct {
	name     string
	kind     colKind
	vec      mapping.Vector
	data     unsafe.Pointer
	nullable bool     // rows may leave it unset (NULL)
	validity []uint64 // a nullable column's validity bits
	// A list column's strings, in its child vector.
	child              mapping.Vector
	childData          unsafe.Pointer
	childLen, childCap int
}

// chunkAppender appends rows to a table, a chunk of up to VectorSize (2048)
// rows at a time. Columns that may be NULL start every chunk as NULL; setting a
// value makes it valid.
type chunkAppender struct {
	app   mapping.Appender
	chunk mapping.DataChunk
	cols  []column
	rows  int // in the chunk being filled
	max   int // chunk capacity
}

// stringT is DuckDB's string_t when the string is inlined (at most 12
// bytes): its length, then its bytes, zero-padded (DuckDB compares inlined
// strings by their 16 bytes).
type stringT struct {
	n      uint32
	inline [inlineLen]byte
}

const inlineLen = 12

// newChunkAppender starts appending to table's columns names; nullable[i]
// says whether rows may leave column i unset.
func newChunkAppender(conn mapping.Connection, table string, names []string, nullable []bool) (*chunkAppender, error) {
	a := &chunkAppender{max: int(mapping.VectorSize())}
	if mapping.AppenderCreateExt(conn, "", "", table, &a.app) == mapping.StateError {
		err := appenderError(a.app, "creating an appender")
		mapping.AppenderDestroy(&a.app)
		return nil, err
	}
	types := make([]mapping.LogicalType, 0, len(names))
	defer func() {
		for i := range types {
			mapping.DestroyLogicalType(&types[i])
		}
	}()
	a.cols = make([]column, len(names))
	for i, name := range names {
		if mapping.AppenderAddColumn(a.app, name) == mapping.StateError {
			err := appenderError(a.app, "adding column "+name)
			mapping.AppenderDestroy(&a.app)
			return nil, err
		}
		typ := mapping.AppenderColumnType(a.app, mapping.IdxT(i))
		types = append(types, typ)
		kind, err := kindOf(typ)
		if err != nil {
			mapping.AppenderDestroy(&a.app)
			return nil, fmt.Errorf("store: column %s: %w", name, err)
		}
		a.cols[i] = column{name: name, kind: kind, nullable: nullable[i]}
	}
	a.chunk = mapping.CreateDataChunk(types)
	if err := a.startChunk(); err != nil {
		a.destroy()
		return nil, err
	}
	return a, nil
}

// kindOf maps a column's DuckDB type to what the store writes to it.
func kindOf(typ mapping.LogicalType) (colKind, error) {
	switch t := mapping.GetTypeId(typ); t {
	case mapping.TypeVarchar:
		return kVarchar, nil
	case mapping.TypeDouble:
		return kDouble, nil
	case mapping.TypeBoolean:
		return kBool, nil
	case mapping.TypeTimestamp:
		return kTimestamp, nil
	case mapping.TypeBigInt:
		return kBigInt, nil
	case mapping.TypeInteger:
		return kInteger, nil
	case mapping.TypeList:
		child := mapping.ListTypeChildType(typ)
		defer mapping.DestroyLogicalType(&child)
		if mapping.GetTypeId(child) == mapping.TypeVarchar {
			return kVarcharList, nil
		}
		return 0, errors.New("a list of a type the store does not write")
	default:
		return 0, fmt.Errorf("type %d, which the store does not write", t)
	}
}

// startChunk points the columns at the (new or reset) chunk's vectors:
// every nullable column NULL, every list empty with room for a string per
// row. A vector's data moves when the chunk is reset: it is fetched again.
func (a *chunkAppender) startChunk() error {
	a.rows = 0
	for i := range a.cols {
		c := &a.cols[i]
		c.vec = mapping.DataChunkGetVector(a.chunk, mapping.IdxT(i))
		c.data = mapping.VectorGetData(c.vec)
		if c.nullable {
			mapping.VectorEnsureValidityWritable(c.vec)
			c.validity = unsafe.Slice((*uint64)(mapping.VectorGetValidity(c.vec)), (a.max+63)/64)
			clear(c.validity)
		}
		if c.kind == kVarcharList {
			c.childLen, c.childCap = 0, 0
			if err := a.reserve(c, a.max); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserve makes room for n strings in a list column's child vector.
func (a *chunkAppender) reserve(c *column, n int) error {
	if mapping.ListVectorReserve(c.vec, mapping.IdxT(n)) == mapping.StateError {
		return fmt.Errorf("store: appending to column %s: reserving room for %d list items", c.name, n)
	}
	// Reserving moves the child's data.
	c.child = mapping.ListVectorGetChild(c.vec)
	c.childData = mapping.VectorGetData(c.child)
	c.childCap = n
	return nil
}

// endRow counts the row being filled, and appends the chunk once it is full.
func (a *chunkAppender) endRow() error {
	a.rows++
	if a.rows == a.max {
		return a.flushChunk()
	}
	return nil
}

// flushChunk hands the chunk's rows to the appender.
func (a *chunkAppender) flushChunk() error {
	if a.rows == 0 {
		return nil
	}
	for i := range a.cols {
		if c := &a.cols[i]; c.kind == kVarcharList {
			if mapping.ListVectorSetSize(c.vec, mapping.IdxT(c.childLen)) == mapping.StateError {
				return fmt.Errorf("store: appending to column %s: setting its list size", c.name)
			}
		}
	}
	mapping.DataChunkSetSize(a.chunk, mapping.IdxT(a.rows))
	if mapping.AppendDataChunk(a.app, a.chunk) == mapping.StateError {
		return appenderError(a.app, "appending rows")
	}
	mapping.DataChunkReset(a.chunk)
	return a.startChunk()
}

// close appends the last rows and ends the appender (which writes them to
// the table, in the connection's transaction).
func (a *chunkAppender) close() error {
	err := a.flushChunk()
	if err == nil && mapping.AppenderClose(a.app) == mapping.StateError {
		err = appenderError(a.app, "closing the appender")
	}
	a.destroy()
	return err
}

// destroy frees the appender and its chunk (the rows not yet closed are
// dropped).
func (a *chunkAppender) destroy() {
	if a.chunk.Ptr != nil {
		mapping.DestroyDataChunk(&a.chunk)
	}
	mapping.AppenderDestroy(&a.app)
}

func appenderError(app mapping.Appender, doing string) error {
	return fmt.Errorf("store: %s: %s", doing, mapping.AppenderError(app))
}

// valid marks the row being filled as set in c.
func (a *chunkAppender) valid(c *column) {
	if c.nullable {
		c.validity[a.rows/64] |= 1 << (a.rows % 64)
	}
}

// setString writes s to column i of the row being filled.
func (a *chunkAppender) setString(i int, s string) {
	c := &a.cols[i]
	writeString(c.vec, c.data, a.rows, unsafe.Slice(unsafe.StringData(s), len(s))) // read, not kept
	a.valid(c)
}

// writeString writes s to the row-th string_t of vec (whose data is data).
func writeString(vec mapping.Vector, data unsafe.Pointer, row int, s []byte) {
	if len(s) <= inlineLen {
		p := (*stringT)(unsafe.Add(data, row*16))
		p.n = uint32(len(s))
		p.inline = [inlineLen]byte{}
		copy(p.inline[:], s)
		return
	}
	mapping.VectorAssignStringElementLen(vec, mapping.IdxT(row), s)
}

// setTimestamp writes t, in microseconds since the epoch (UTC).
func (a *chunkAppender) setTimestamp(i int, t time.Time) {
	c := &a.cols[i]
	*(*int64)(unsafe.Add(c.data, a.rows*8)) = t.UnixMicro()
	a.valid(c)
}

func (a *chunkAppender) setBigInt(i int, v int64) {
	c := &a.cols[i]
	*(*int64)(unsafe.Add(c.data, a.rows*8)) = v
	a.valid(c)
}

func (a *chunkAppender) setInteger(i int, v int32) {
	c := &a.cols[i]
	*(*int32)(unsafe.Add(c.data, a.rows*4)) = v
	a.valid(c)
}

// setLeaf writes a leaf's value to column i, the column of its key (so of
// its type: strings and JSON arrays are VARCHAR, numbers DOUBLE, booleans
// and nulls BOOLEAN, string arrays VARCHAR[]).
func (a *chunkAppender) setLeaf(i int, f *leaf.Field) error {
	c := &a.cols[i]
	switch c.kind {
	case kVarchar:
		writeString(c.vec, c.data, a.rows, f.Str)
	case kDouble:
		*(*float64)(unsafe.Add(c.data, a.rows*8)) = f.Num
	case kBool:
		*(*bool)(unsafe.Add(c.data, a.rows)) = f.Bool
	case kVarcharList:
		if err := a.setList(c, f.Strs); err != nil {
			return err
		}
	default:
		return fmt.Errorf("store: a leaf (%s) for column %s (%s)", f.Key, c.name, c.kind)
	}
	a.valid(c)
	return nil
}

// setList writes a list of strings: its entry (offset and length in the
// child vector), and the strings at the end of the child vector.
func (a *chunkAppender) setList(c *column, strs [][]byte) error {
	if n := c.childLen + len(strs); n > c.childCap {
		if err := a.reserve(c, max(n, 2*c.childCap)); err != nil {
			return err
		}
	}
	for j, s := range strs {
		writeString(c.child, c.childData, c.childLen+j, s)
	}
	// DuckDB's list_entry_t: offset, length.
	*(*[2]uint64)(unsafe.Add(c.data, a.rows*16)) = [2]uint64{uint64(c.childLen), uint64(len(strs))}
	c.childLen += len(strs)
	return nil
}

func (k colKind) String() string {
	return [...]string{"VARCHAR", "DOUBLE", "BOOLEAN", "TIMESTAMP", "BIGINT", "INTEGER", "VARCHAR[]"}[k]
}
