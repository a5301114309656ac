package duckdb

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// openLogs opens every table's JSON log, cut to what the table's
// committed rows point at, after moving the JSON of tables written by
// earlier versions (in a _raw column) to a log.
func (s *DuckStore) openLogs(ctx context.Context) error {
	// The tables of earlier versions (a _raw column), found with one
	// query rather than one per table.
	legacy := map[string]bool{}
	if err := s.collect(ctx, `SELECT table_name FROM information_schema.columns WHERE column_name = '_raw'`, nil, func(r *sql.Rows) error {
		var name string
		if err := r.Scan(&name); err != nil {
			return err
		}
		legacy[name] = true
		return nil
	}); err != nil {
		return fmt.Errorf("store: reading the tables' columns: %w", err)
	}
	for _, t := range s.tables {
		var err error
		if legacy[t.name] {
			if err := s.moveRawToLog(ctx, t); err != nil {
				return fmt.Errorf("store: moving the JSON of %s to %s: %w", t.name, s.logPath(t.name), err)
			}
		}
		var end int64
		if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(_off + _len) + 1, 0) FROM `+t.name).Scan(&end); err != nil {
			return fmt.Errorf("store: reading the end of %s's JSON: %w", t.name, err)
		}
		if t.log, err = openJSONLog(s.logPath(t.name), end); err != nil {
			return err
		}
	}
	return nil
}

// moveRawToLog rewrites a table of an earlier version (the JSON in a _raw
// column, keen.id a primary key) into today's layout, in one transaction:
// the JSON goes to the table's log and the table is rebuilt without _raw
// and without the key. A crash before the commit leaves the table as it
// was, and the next start does it again (the log is rewritten from the
// start: no committed row points into it yet).
func (s *DuckStore) moveRawToLog(ctx context.Context, t *table) (err error) {
	s.logger.Info("event store: moving a table's JSON to its log (once, after an upgrade)", "table", t.name)
	log, err := openJSONLog(s.logPath(t.name), 0)
	if err != nil {
		return err
	}
	defer log.close()
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if _, rerr := s.conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
				s.logger.Warn("event store: rollback", "err", rerr)
			}
		}
	}()
	type moved struct {
		id  string
		ptr jsonPtr
	}
	var all []moved
	w := bufio.NewWriterSize(log.f, 1<<20)
	var off int64
	if err := s.collect(ctx, `SELECT _id, _raw FROM `+t.name, nil, func(r *sql.Rows) error {
		var m moved
		var raw []byte
		if err := r.Scan(&m.id, &raw); err != nil {
			return err
		}
		m.ptr = jsonPtr{off: off, n: int32(len(raw))}
		all = append(all, m)
		off += int64(len(raw)) + 1
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.WriteByte('\n')
	}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := log.sync(); err != nil {
		return err
	}
	if _, err := s.conn.ExecContext(ctx, `CREATE TEMP TABLE _moved (id VARCHAR, off BIGINT, len INTEGER)`); err != nil {
		return err
	}
	if err := s.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "_moved")
		if err != nil {
			return err
		}
		for _, m := range all {
			if err := app.AppendRow(m.id, m.ptr.off, m.ptr.n); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	}); err != nil {
		return err
	}
	for _, q := range []string{
		`CREATE TABLE _rebuilt AS SELECT o._id, o._ts, o._created, m.off AS _off, m.len AS _len, o.* EXCLUDE (_id, _ts, _created, _raw)
			FROM ` + t.name + ` o JOIN _moved m ON o._id = m.id`,
		`DROP TABLE ` + t.name,
		`ALTER TABLE _rebuilt RENAME TO ` + t.name,
		`DROP TABLE _moved`,
		`COMMIT`,
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
