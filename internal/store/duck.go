package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DuckStore is the Store on an embedded DuckDB database (DESIGN decision 7,
// engine chosen by measurement):
//
//   - one table per (project, collection), named t1, t2, … through the
//     catalog table _collections;
//   - in it, _id VARCHAR PRIMARY KEY (keen.id), _ts TIMESTAMP
//     (keen.timestamp), _created TIMESTAMP (keen.created_at), _raw BLOB
//     (the stored JSON, returned by extraction; BLOB, not VARCHAR: DuckDB
//     then neither re-validates its UTF-8 nor keeps string statistics for
//     it, which halved the commit's cost; tables created before hold it
//     as VARCHAR, which reads the same), and one typed column per
//     (property path, JSON type) (flatten.go), named c1, c2, … through the
//     catalog table _columns, added with ALTER TABLE when a batch brings a
//     new one;
//   - _uniq (project, collection, token, keen_id, created_at): the accepted
//     events that carried a keen.uniqueness_token.
//
// Writes are serialized (one write connection, one lock); the JSON of a
// batch is flattened before the lock is taken, so concurrent Inserts
// flatten in parallel. Reads use the connection pool concurrently.
type DuckStore struct {
	db     *sql.DB
	conn   *sql.Conn // the write connection
	logger *slog.Logger

	wmu sync.Mutex // serializes writes and catalog changes

	mu      sync.RWMutex // guards tables and each table's cols (replaced, never modified, once published)
	tables  map[collKey]*table
	nTables int
}

type collKey struct{ project, collection string }

type table struct {
	name string
	cols map[string]string // field key (path + "$" + type) → column name
	ids  *idFilter         // the stored keen.ids; built on first write, guarded by wmu
}

// DBFile is the database's file name inside the store's directory.
const DBFile = "events.duckdb"

// DuckDB settings: the WAL is checkpointed into the database file every
// 256 MB (the default, 16 MB, makes ingest checkpoint constantly), and
// DuckDB's buffer manager is capped.
const (
	walAutocheckpoint = "256MB"
	memoryLimit       = "2GB"
)

var _ Store = (*DuckStore)(nil)

// Open opens (creating if needed) the store kept in directory dir.
func Open(dir string, logger *slog.Logger) (*DuckStore, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	connector, err := duckdb.NewConnector(path, func(execer driver.ExecerContext) error {
		for _, q := range []string{
			"SET wal_autocheckpoint = '" + walAutocheckpoint + "'",
			"SET memory_limit = '" + memoryLimit + "'",
		} {
			if _, err := execer.ExecContext(context.Background(), q, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	s := &DuckStore{db: db, logger: logger, tables: map[collKey]*table{}}
	ctx := context.Background()
	if s.conn, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS _collections (project VARCHAR, collection VARCHAR, tbl VARCHAR, PRIMARY KEY (project, collection))`,
		`CREATE TABLE IF NOT EXISTS _columns (tbl VARCHAR, field VARCHAR, col VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS _uniq (project VARCHAR, collection VARCHAR, token VARCHAR, keen_id VARCHAR, created_at TIMESTAMP)`,
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: creating the catalog: %w", err)
		}
	}
	if err := s.loadCatalog(ctx); err != nil {
		s.Close()
		return nil, err
	}
	logger.Info("event store open", "path", path, "collections", len(s.tables))
	return s, nil
}

// loadCatalog reads the catalog tables into memory.
func (s *DuckStore) loadCatalog(ctx context.Context) error {
	tables := map[collKey]*table{}
	byName := map[string]*table{}
	n := 0
	rows, err := s.conn.QueryContext(ctx, `SELECT project, collection, tbl FROM _collections`)
	if err != nil {
		return fmt.Errorf("store: reading the catalog: %w", err)
	}
	for rows.Next() {
		var k collKey
		t := &table{cols: map[string]string{}}
		if err := rows.Scan(&k.project, &k.collection, &t.name); err != nil {
			rows.Close()
			return fmt.Errorf("store: reading the catalog: %w", err)
		}
		tables[k] = t
		byName[t.name] = t
		var i int
		if _, err := fmt.Sscanf(t.name, "t%d", &i); err == nil && i > n {
			n = i
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: reading the catalog: %w", err)
	}
	rows, err = s.conn.QueryContext(ctx, `SELECT tbl, field, col FROM _columns`)
	if err != nil {
		return fmt.Errorf("store: reading the catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tbl, f, col string
		if err := rows.Scan(&tbl, &f, &col); err != nil {
			return fmt.Errorf("store: reading the catalog: %w", err)
		}
		if t := byName[tbl]; t != nil {
			t.cols[f] = col
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: reading the catalog: %w", err)
	}
	s.mu.Lock()
	s.tables, s.nTables = tables, n
	s.mu.Unlock()
	return nil
}

// Close checkpoints the database and closes it.
func (s *DuckStore) Close() error {
	var errs []error
	if s.conn != nil {
		if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.conn.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// flatEvent is an event ready to append.
type flatEvent struct {
	ev     *Event
	fields []field
}

// Insert stores events: an event whose keen.id its collection already holds
// is counted as Existing and left alone (re-processing); an event whose
// uniqueness token is held, in its collection, by an event with a
// different keen.id created less than UniquenessWindow before it (by
// CreatedAt) is dropped and counted as a duplicate. Idempotence is checked
// per (project, collection): keen.id is unique per project, and an event
// never changes collection. A batch is one transaction: on an error
// (malformed event JSON included) nothing of it is stored.
func (s *DuckStore) Insert(ctx context.Context, events []Event) (InsertResult, error) {
	var res InsertResult
	if len(events) == 0 {
		return res, nil
	}
	for i := range events {
		if ev := &events[i]; ev.ID == "" || ev.ProjectID == "" || ev.Collection == "" {
			return res, fmt.Errorf("store: event %d: project, collection and keen.id are required", i)
		}
	}
	flat, err := flattenAll(events)
	if err != nil {
		return res, err
	}
	groups := map[collKey][]flatEvent{}
	var order []collKey
	for _, fe := range flat {
		k := collKey{fe.ev.ProjectID, fe.ev.Collection}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], fe)
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	// Catalog changes are published to readers only once committed: a
	// query must not name a table or column it cannot see yet.
	var st staged
	for _, k := range order {
		r, err := s.insertGroup(ctx, k, groups[k], &st)
		if err != nil {
			s.rollback()
			return InsertResult{}, err
		}
		res.Inserted += r.Inserted
		res.Existing += r.Existing
		res.Duplicates += r.Duplicates
	}
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		s.rollback()
		return InsertResult{}, fmt.Errorf("store: commit: %w", err)
	}
	s.publish(&st)
	return res, nil
}

// staged holds an Insert's catalog changes until its commit.
type staged struct {
	tables map[collKey]*table // new tables
	cols   map[*table]map[string]string
}

// view returns the columns of t as the write transaction sees them.
func (st *staged) view(t *table) map[string]string {
	if st.cols == nil {
		st.cols = map[*table]map[string]string{}
	}
	if c, ok := st.cols[t]; ok {
		return c
	}
	c := make(map[string]string, len(t.cols))
	for k, v := range t.cols {
		c[k] = v
	}
	st.cols[t] = c
	return c
}

func (s *DuckStore) publish(st *staged) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, cols := range st.cols {
		t.cols = cols // copy on write: readers keep the old map
	}
	for k, t := range st.tables {
		s.tables[k] = t
		s.nTables++
	}
}

// rollback aborts the write transaction (the staged catalog changes are
// dropped with it).
func (s *DuckStore) rollback() {
	if _, err := s.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		s.logger.Warn("event store: rollback", "err", err)
	}
}

func (s *DuckStore) insertGroup(ctx context.Context, k collKey, evs []flatEvent, st *staged) (InsertResult, error) {
	var res InsertResult
	s.mu.RLock()
	t := s.tables[k]
	s.mu.RUnlock()
	if t == nil {
		t = st.tables[k]
	}
	if t == nil {
		name := fmt.Sprintf("t%d", s.nTables+len(st.tables)+1)
		if _, err := s.conn.ExecContext(ctx, `CREATE TABLE `+name+` (_id VARCHAR PRIMARY KEY, _ts TIMESTAMP, _created TIMESTAMP, _raw BLOB)`); err != nil {
			return res, fmt.Errorf("store: creating the table of %s/%s: %w", k.project, k.collection, err)
		}
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO _collections VALUES (?, ?, ?)`, k.project, k.collection, name); err != nil {
			return res, fmt.Errorf("store: %w", err)
		}
		t = &table{name: name, cols: map[string]string{}}
		if st.tables == nil {
			st.tables = map[collKey]*table{}
		}
		st.tables[k] = t
	}
	cols := st.view(t)

	// Which events are already stored (re-processing), or repeated in the
	// batch? Only the ids the table's filter may hold are looked up.
	existing, err := s.storedIDs(ctx, t, evs)
	if err != nil {
		return res, err
	}

	// Uniqueness tokens: the current holder of a token is its most recent
	// accepted event.
	type holder struct {
		id      string
		created time.Time
	}
	holders := map[string]holder{}
	var tokens []any
	for _, fe := range evs {
		if fe.ev.UniquenessToken != "" {
			tokens = append(tokens, fe.ev.UniquenessToken)
		}
	}
	if len(tokens) > 0 {
		if err := s.collect(ctx, `SELECT token, arg_max(keen_id, created_at), max(created_at) FROM _uniq
			WHERE project = ? AND collection = ? AND token IN (SELECT unnest(?::VARCHAR[])) GROUP BY token`,
			[]any{k.project, k.collection, tokens}, func(r *sql.Rows) error {
				var tok string
				var h holder
				if err := r.Scan(&tok, &h.id, &h.created); err != nil {
					return err
				}
				holders[tok] = h
				return nil
			}); err != nil {
			return res, fmt.Errorf("store: looking up uniqueness tokens: %w", err)
		}
	}

	var accepted []flatEvent
	var newTokens [][]any
	for _, fe := range evs {
		ev := fe.ev
		if existing[ev.ID] {
			res.Existing++
			continue
		}
		if tok := ev.UniquenessToken; tok != "" {
			if h, ok := holders[tok]; ok && h.id != ev.ID && ev.CreatedAt.UTC().Before(h.created.Add(UniquenessWindow)) {
				res.Duplicates++
				continue
			}
			holders[tok] = holder{ev.ID, ev.CreatedAt.UTC()}
			newTokens = append(newTokens, []any{k.project, k.collection, tok, ev.ID, ev.CreatedAt.UTC()})
		}
		existing[ev.ID] = true
		t.ids.add(ev.ID) // a rolled-back id stays: a false positive, checked next time
		accepted = append(accepted, fe)
		res.Inserted++
	}
	if len(accepted) == 0 {
		return res, nil
	}

	// New columns.
	var newFields []string
	seen := map[string]bool{}
	for _, fe := range accepted {
		for _, f := range fe.fields {
			if _, ok := cols[f.key]; !ok && !seen[f.key] {
				seen[f.key] = true
				newFields = append(newFields, f.key)
			}
		}
	}
	sort.Strings(newFields)
	// DuckDB adds one column per ALTER TABLE; the catalog rows go in one
	// statement.
	var catalogRows []string
	var catalogArgs []any
	for _, fk := range newFields {
		_, typ := splitFieldKey(fk)
		col := fmt.Sprintf("c%d", len(cols)+1)
		if _, err := s.conn.ExecContext(ctx, `ALTER TABLE `+t.name+` ADD COLUMN `+col+` `+sqlTypes[typ]); err != nil {
			return res, fmt.Errorf("store: adding a column to %s: %w", t.name, err)
		}
		catalogRows = append(catalogRows, "(?, ?, ?)")
		catalogArgs = append(catalogArgs, t.name, fk, col)
		cols[fk] = col
	}
	if len(catalogRows) > 0 {
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO _columns VALUES `+strings.Join(catalogRows, ", "), catalogArgs...); err != nil {
			return res, fmt.Errorf("store: recording the new columns of %s: %w", t.name, err)
		}
	}

	// Append the rows: the fixed columns, then the columns this batch uses.
	used := map[string]int{}
	colNames := []string{"_id", "_ts", "_created", "_raw"}
	for _, fe := range accepted {
		for _, f := range fe.fields {
			if _, ok := used[f.key]; !ok {
				used[f.key] = len(colNames)
				colNames = append(colNames, cols[f.key])
			}
		}
	}
	err = s.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", "", t.name, colNames)
		if err != nil {
			return err
		}
		row := make([]driver.Value, len(colNames))
		for _, fe := range accepted {
			clear(row)
			row[0], row[1], row[2], row[3] = fe.ev.ID, fe.ev.Timestamp.UTC(), fe.ev.CreatedAt.UTC(), fe.ev.JSON
			for _, f := range fe.fields {
				row[used[f.key]] = f.val // a repeated key: the last one wins
			}
			if err := app.AppendRow(row...); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return res, fmt.Errorf("store: appending to %s: %w", t.name, err)
	}
	if len(newTokens) > 0 {
		err := s.conn.Raw(func(dc any) error {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "_uniq")
			if err != nil {
				return err
			}
			for _, r := range newTokens {
				if err := app.AppendRow(r[0], r[1], r[2], r[3], r[4]); err != nil {
					app.Close()
					return err
				}
			}
			return app.Close()
		})
		if err != nil {
			return res, fmt.Errorf("store: recording uniqueness tokens: %w", err)
		}
	}
	return res, nil
}

// collect runs a query on the write connection and calls fn for each row.
// A single list argument is passed as is.
func (s *DuckStore) collect(ctx context.Context, q string, args any, fn func(*sql.Rows) error) error {
	var a []any
	if l, ok := args.([]any); ok && len(l) > 0 {
		if _, isList := l[len(l)-1].([]any); isList {
			a = l
		} else {
			a = []any{l}
		}
	}
	rows, err := s.conn.QueryContext(ctx, q, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// idFetchMax is the largest extraction fetched by keen.id (see Extract);
// a variable for the tests.
var idFetchMax = 1000

// selectIDs returns the keen.ids of the events an extraction returns, or
// nil if there are more than idFetchMax.
func (s *DuckStore) selectIDs(ctx context.Context, tbl, where string, args []any, limit int) ([]string, error) {
	n := idFetchMax + 1
	if limit > 0 && limit < n {
		n = limit
	}
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT _id FROM %s WHERE %s ORDER BY _ts DESC, _id DESC LIMIT %d`, tbl, where, n), args...)
	if err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: extraction: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	if len(ids) > idFetchMax {
		return nil, nil
	}
	return ids, nil
}

// snapshot returns the table of a collection and its columns (a published
// column map is never modified: publish replaces it),
// or "" if the collection has no table.
func (s *DuckStore) snapshot(project, collection string) (string, map[string]string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tables[collKey{project, collection}]
	if t == nil {
		return "", nil
	}
	return t.name, t.cols
}

// Count counts the events matching q (0 for an unknown collection).
func (s *DuckStore) Count(ctx context.Context, q Query) (int64, error) {
	tbl, cols := s.snapshot(q.ProjectID, q.Collection)
	if tbl == "" {
		return 0, nil
	}
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+tbl+` WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// Extract returns the matching events, oldest keen.timestamp first (ties
// by keen.id); with a Limit, the Limit most recent ones (Keen's latest).
func (s *DuckStore) Extract(ctx context.Context, q Query) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	tbl, cols := s.snapshot(q.ProjectID, q.Collection)
	if tbl == "" {
		return out, nil
	}
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return nil, err
	}
	// The stored JSON (_raw) is most of the table: scanning it to sort a
	// large selection costs hundreds of ms per million events. So the
	// matching keen.ids are selected first from the narrow columns; when
	// there are at most idFetchMax of them, their JSON is fetched through
	// the primary key index (about 1 ms), else in one scan.
	ids, err := s.selectIDs(ctx, tbl, where, args, q.Limit)
	if err != nil {
		return nil, err
	}
	var sqlq string
	switch {
	case ids != nil:
		if len(ids) == 0 {
			return out, nil
		}
		// Literals, not parameters: DuckDB then plans an index lookup.
		sqlq, args = `SELECT _raw FROM `+tbl+` WHERE _id IN (`+sqlStrings(ids)+`) ORDER BY _ts, _id`, nil
	case q.Limit > 0:
		sqlq = fmt.Sprintf(`SELECT _raw FROM (SELECT _raw, _ts, _id FROM %s WHERE %s ORDER BY _ts DESC, _id DESC LIMIT %d) ORDER BY _ts, _id`, tbl, where, q.Limit)
	default:
		sqlq = `SELECT _raw FROM ` + tbl + ` WHERE ` + where + ` ORDER BY _ts, _id`
	}
	rows, err := s.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: extraction: %w", err)
		}
		out = append(out, json.RawMessage(raw))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	return out, nil
}
