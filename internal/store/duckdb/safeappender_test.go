package duckdb

import (
	"bytes"
	"context"
	"database/sql/driver"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// TestSafeAppenderConformance: the store appending through duckdb-go's
// public Appender (the path it falls back to) passes the whole conformance
// suite, as it does through the chunk appender (storetest's TestDuckDB).
func TestSafeAppenderConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTest(t, t.TempDir())
		s.safeAppend = true
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("closing the store: %v", err)
			}
		})
		return s
	})
}

// otherConn is a driver connection whose layout rawConnection does not
// know, as a duckdb-go version that moved its C connection would be.
type otherConn struct{ driver.Conn }

// TestRowWriterFallsBack: when duckdb-go's private layout is not found, the
// store switches to the public Appender for good, and says so once.
func TestRowWriterFallsBack(t *testing.T) {
	var logs bytes.Buffer
	s := openTest(t, t.TempDir())
	defer s.Close()
	s.logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := s.conn.ExecContext(context.Background(), `CREATE TABLE tf (a VARCHAR)`); err != nil {
		t.Fatal(err)
	}
	err := s.conn.Raw(func(dc any) error {
		w, err := s.rowWriter(dc, "tf", []string{"a"}, []bool{true})
		if err != nil {
			return err
		}
		if _, ok := w.(*chunkAppender); !ok {
			t.Errorf("a duckdb-go connection got a %T, want the chunk appender", w)
		}
		w.destroy()
		if _, err := s.rowWriter(otherConn{dc.(driver.Conn)}, "tf", []string{"a"}, []bool{true}); err == nil {
			t.Error("the public Appender accepted a connection that is not duckdb-go's")
		}
		if !s.safeAppend {
			t.Error("the store did not switch to the public Appender")
		}
		w, err = s.rowWriter(dc, "tf", []string{"a"}, []bool{true})
		if err != nil {
			return err
		}
		if _, ok := w.(*safeAppender); !ok {
			t.Errorf("after the switch: a %T, want the public Appender", w)
		}
		w.setString(0, "x")
		if err := w.endRow(); err != nil {
			return err
		}
		return w.close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "public Appender"); n != 1 {
		t.Errorf("logged the switch %d times, want once:\n%s", n, logs.String())
	}
	var got string
	if err := s.conn.QueryRowContext(context.Background(), `SELECT a FROM tf`).Scan(&got); err != nil || got != "x" {
		t.Errorf("the row appended through the public Appender: %q, %v", got, err)
	}
}
