package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// appenderRow is what TestChunkAppender writes to one row, and expects to
// read back (nil: NULL).
type appenderRow struct {
	i    int64
	ts   time.Time
	n    int32
	s    []byte
	d    *float64
	b    *bool
	list [][]byte // nil: NULL
}

// The chunk appender writes every kind of column the store uses, NULLs
// where a row sets nothing, strings inlined (up to 12 bytes) and not,
// lists that outgrow their child vector, a value set twice (the last one
// wins), over several chunks, inside the connection's transaction.
func TestChunkAppender(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if _, err := s.conn.ExecContext(ctx, `CREATE TABLE tx (i BIGINT, ts TIMESTAMP, n INTEGER, s VARCHAR, d DOUBLE, b BOOLEAN, l VARCHAR[])`); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcxyz é日"
	str := func() []byte {
		n := []int{0, 1, 11, 12, 13, 40, 300}[r.IntN(7)]
		var b strings.Builder
		for b.Len() < n {
			b.WriteByte(alphabet[r.IntN(6)]) // one byte
			if r.IntN(10) == 0 {
				b.WriteString([]string{"é", "日"}[r.IntN(2)])
			}
		}
		return []byte(b.String())
	}
	const rows = 5000 // three chunks
	want := make([]appenderRow, rows)
	for i := range want {
		w := &want[i]
		w.i = int64(i)
		w.ts = time.UnixMilli(1_700_000_000_000 + r.Int64N(1e10)).UTC()
		w.n = r.Int32()
		if r.IntN(10) < 6 {
			w.s = str()
		}
		if r.IntN(10) < 6 {
			d := r.NormFloat64() * 1e6
			w.d = &d
		}
		if r.IntN(10) < 6 {
			b := r.IntN(2) == 0
			w.b = &b
		}
		if r.IntN(10) < 6 {
			w.list = [][]byte{}
			for range r.IntN(41) {
				w.list = append(w.list, str())
			}
		}
	}

	write := func(rows []appenderRow) error {
		return s.conn.Raw(func(dc any) error {
			conn, err := rawConnection(dc)
			if err != nil {
				return err
			}
			app, err := newChunkAppender(conn, "tx", []string{"i", "ts", "n", "s", "d", "b", "l"},
				[]bool{false, false, false, true, true, true, true})
			if err != nil {
				return err
			}
			for k, w := range rows {
				app.setBigInt(0, w.i)
				app.setTimestamp(1, w.ts)
				app.setInteger(2, w.n)
				var leaves []struct {
					col int
					f   leaf.Field
				}
				add := func(col int, f leaf.Field) {
					leaves = append(leaves, struct {
						col int
						f   leaf.Field
					}{col, f})
				}
				if w.s != nil {
					add(3, leaf.Field{Str: w.s})
				}
				if w.d != nil {
					add(4, leaf.Field{Num: *w.d})
				}
				if w.b != nil {
					add(5, leaf.Field{Bool: *w.b})
				}
				if w.list != nil {
					add(6, leaf.Field{Strs: w.list})
				}
				for _, l := range leaves {
					if k%7 == 0 { // set twice: the first value is overwritten
						long := []byte("overwritten, longer than twelve bytes")
						first := leaf.Field{Str: long, Num: -1, Bool: !l.f.Bool, Strs: [][]byte{long, []byte("x")}}
						if err := app.setLeaf(l.col, &first); err != nil {
							app.destroy()
							return err
						}
					}
					if err := app.setLeaf(l.col, &l.f); err != nil {
						app.destroy()
						return err
					}
				}
				if err := app.endRow(); err != nil {
					app.destroy()
					return err
				}
			}
			return app.close()
		})
	}

	// Rolled back with its transaction.
	if _, err := s.conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := write(want[:100]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM tx`).Scan(&count); err != nil || count != 0 {
		t.Fatalf("after a rollback: %d rows (%v), want 0", count, err)
	}

	if err := write(want); err != nil {
		t.Fatal(err)
	}
	rs, err := s.conn.QueryContext(ctx, `SELECT i, ts, n, s, d, b, to_json(l)::VARCHAR FROM tx ORDER BY i`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got := 0
	for rs.Next() {
		var (
			i    int64
			ts   time.Time
			n    int32
			str  sql.NullString
			d    sql.NullFloat64
			b    sql.NullBool
			list sql.NullString
		)
		if err := rs.Scan(&i, &ts, &n, &str, &d, &b, &list); err != nil {
			t.Fatal(err)
		}
		if i != int64(got) {
			t.Fatalf("row %d: i = %d", got, i)
		}
		w := want[got]
		if !ts.Equal(w.ts) || n != w.n {
			t.Fatalf("row %d: ts %v n %d, want %v %d", got, ts, n, w.ts, w.n)
		}
		if str.Valid != (w.s != nil) || str.String != string(w.s) {
			t.Fatalf("row %d: s = %q (valid %v), want %q (valid %v)", got, str.String, str.Valid, w.s, w.s != nil)
		}
		if d.Valid != (w.d != nil) || (w.d != nil && d.Float64 != *w.d) {
			t.Fatalf("row %d: d = %v (valid %v), want %v", got, d.Float64, d.Valid, w.d)
		}
		if b.Valid != (w.b != nil) || (w.b != nil && b.Bool != *w.b) {
			t.Fatalf("row %d: b = %v (valid %v), want %v", got, b.Bool, b.Valid, w.b)
		}
		if list.Valid != (w.list != nil) {
			t.Fatalf("row %d: list valid %v, want %v", got, list.Valid, w.list != nil)
		}
		if list.Valid {
			var items []string
			if err := json.Unmarshal([]byte(list.String), &items); err != nil {
				t.Fatalf("row %d: list %s: %v", got, list.String, err)
			}
			if len(items) != len(w.list) {
				t.Fatalf("row %d: list of %d items, want %d", got, len(items), len(w.list))
			}
			for j, it := range items {
				if it != string(w.list[j]) {
					t.Fatalf("row %d: list item %d = %q, want %q", got, j, it, w.list[j])
				}
			}
		}
		got++
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if got != rows {
		t.Fatalf("read %d rows, want %d", got, rows)
	}
}

// A leaf for a column no leaf has (a fixed column) is an error, so is an
// appender for a column of a type the store does not write, and
// rawConnection finds no connection where there is none.
func TestChunkAppenderRefuses(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if _, err := s.conn.ExecContext(ctx, `CREATE TABLE tx (i INTEGER, ts TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	for col := range 2 {
		err := s.conn.Raw(func(dc any) error {
			conn, err := rawConnection(dc)
			if err != nil {
				return err
			}
			app, err := newChunkAppender(conn, "tx", []string{"i", "ts"}, []bool{true, true})
			if err != nil {
				return err
			}
			defer app.destroy()
			return app.setLeaf(col, &leaf.Field{Key: leaf.Key("x", leaf.Number), Num: 1})
		})
		if err == nil || !strings.Contains(err.Error(), "a leaf (x") {
			t.Errorf("column %d: error %v, want one naming the leaf", col, err)
		}
	}

	// Columns of types the store never creates.
	if _, err := s.conn.ExecContext(ctx, `CREATE TABLE ty (d DATE, l INTEGER[])`); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"d", "l"} {
		err := s.conn.Raw(func(dc any) error {
			conn, err := rawConnection(dc)
			if err != nil {
				return err
			}
			app, err := newChunkAppender(conn, "ty", []string{col}, []bool{true})
			if err == nil {
				app.destroy()
			}
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "column "+col+":") || !strings.Contains(err.Error(), "does not write") {
			t.Errorf("an appender for column %s: error %v, want one saying the store does not write its type", col, err)
		}
	}

	if _, err := rawConnection(&struct{ conn int }{}); err == nil {
		t.Error("rawConnection found a DuckDB connection in a struct that has none")
	}
	if _, err := rawConnection(42); err == nil {
		t.Error("rawConnection found a DuckDB connection in an int")
	}
}
