package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
)

// DuckStore is the store.Store on an embedded DuckDB database (docs/decisions.md §7,
// engine chosen by measurement):
//
//   - one table per (project, collection), named t1, t2, … through the
//     catalog table _collections;
//   - in it, _id VARCHAR (keen.id), _ts TIMESTAMP (keen.timestamp),
//     _created TIMESTAMP (keen.created_at), _off BIGINT and _len INTEGER
//     (where the event's JSON is in the table's JSON log, jsonlog.go), and
//     one typed column per (property path, JSON type) (flatten.go; keen.id,
//     keen.timestamp and keen.created_at are the three columns above),
//     named c1, c2, … through the catalog table _columns, added with ALTER
//     TABLE when a batch brings a new one;
//   - _uniq (project, collection, token, keen_id, created_at): the accepted
//     events that carried a keen.uniqueness_token;
//   - _marks (topic, part, next): per raw partition, the offset after the
//     last event stored (sources.go), appended to by every Insert (a
//     partition's mark is its largest next); _sources, a table of one row
//     per partition, is what earlier versions kept, read when the store
//     opens.
//
// Writes are serialized (one write connection, one lock); the JSON of a
// batch is flattened before the lock is taken, so concurrent Inserts
// flatten in parallel. Reads use the connection pool concurrently.
type DuckStore struct {
	db     *sql.DB
	conn   *sql.Conn // the write connection
	logger *slog.Logger

	wmu sync.Mutex // serializes writes and catalog changes

	mu sync.RWMutex // guards tables and each table's cols (replaced, never modified, once published)
	// delMu is held (read) by a query while it runs, and (write) by a
	// Delete while it removes what a running query may read: a table, a
	// column, a log or bytes in it.
	delMu   sync.RWMutex
	tables  map[collKey]*table
	nTables int

	dir    string
	limits limits.Config
	marks  map[srcKey]int64 // each raw partition's mark (store.Source); guarded by wmu
	// markRows is how many rows _marks and _sources hold, marksSlack how
	// many more than one per partition they may hold (compactMarks; tests
	// set less); see saveMarks; guarded by wmu.
	markRows, marksSlack int64
	// sinceCheckpoint counts the JSON bytes committed since the last
	// checkpoint this store ran, which it runs at checkpointEvery
	// (checkpointBytes; tests set less); guarded by wmu.
	sinceCheckpoint, checkpointEvery int
	// eventsSinceOpen counts the events written since the database was
	// opened, reopenEvery how many make the store reopen it (reopenEvents;
	// tests set less), reopens the reopens done; guarded by wmu.
	eventsSinceOpen, reopenEvery int64
	reopens                      int
	jsonBuf                      []byte // writeJSON's buffer, reused; guarded by wmu
	// safeAppend says rows go through duckdb-go's public Appender rather
	// than the chunk appender (rowWriter); guarded by wmu.
	safeAppend    bool
	propertyChunk int64 // see propertyChunk
	// traced, when set (benchmarks), is given each Insert's steps.
	traced func(insertSteps)
	ck     *checkpointer
}

// insertSteps is where one Insert's wall time went, and whether a
// checkpoint ran meanwhile.
type insertSteps struct {
	events                                             int
	flatten, wait, plan, append, sources, sync, commit time.Duration
	duringCheckpoint                                   bool
}

type collKey struct{ project, collection string }

type table struct {
	name string
	cols map[string]string // field key (path + "$" + type) → column name
	log  *jsonLog          // the events' JSON
}

// fixedColumns are every table's own columns; the events' properties
// follow, added as they appear. No primary key: DuckDB rewrites a table's
// whole index at every checkpoint, which made checkpoints longer as the
// table grew (a second per million events, during which inserts wait).
// Idempotence comes from the partitions' marks instead (store.Source).
const fixedColumns = `_id VARCHAR ` + uncompressed + `, _ts TIMESTAMP, _created TIMESTAMP, _off BIGINT, _len INTEGER`

// fixedNames are the names of the fixed columns, in fixedColumns' order
// (appendRows writes them by position).
var fixedNames = []string{"_id", "_ts", "_created", "_off", "_len"}

// logPath is the JSON log of table name.
func (s *DuckStore) logPath(name string) string {
	return filepath.Join(s.dir, jsonDir, name+".jsonl")
}

// DBFile is the database's file name inside the store's directory.
const DBFile = "events.duckdb"

// tempDir is where DuckDB spills, inside the store's directory.
const tempDir = "duckdb.tmp"

// DuckDB settings. A checkpoint (moving the WAL's rows into the database
// file, compressed) blocks commits while it runs, and it rewrites the last,
// partly filled row group of each table it touches: with row groups of
// 16,384 rows instead of 122,880 and a checkpoint every 16 MB of WAL (about
// 15,000 events), a checkpoint takes a few hundred ms instead of seconds,
// for the same CPU per event (docs/store.md has the measurements).
//
// An Insert of a full row group or more (a backlog draining) is written
// straight into the database file, not through the WAL, so the WAL no
// longer tells how much a checkpoint has to do: after a long drain, the
// first checkpoint merged the partly filled row groups of every large
// Insert at once and stalled commits for several seconds. So the store
// also checkpoints itself after every checkpointBytes of events.
//
// FSST (DuckDB's compression of strings that are not a few repeated values)
// is off: it cost a fifth of the store's CPU per event (docs/store.md has
// the measurement), and the whole JSON is kept in the logs anyway. Strings
// that repeat are still dictionary-compressed.
//
// Checkpoints do not vacuum (max_vacuum_tasks 0). An Insert of a full row
// group or more leaves its last row group partly filled, and the next
// large Insert starts a new one after it; a vacuum then merged those tails
// with their neighbours, rewriting whole row groups at every checkpoint:
// in the store benchmark, Inserts of 33,000 events cost 25 µs per event
// with vacuums and 18–20 without, while Inserts of 32,000 (whose tails are
// too large to merge) cost 19–20 with vacuums. The price is at most one
// partly filled row group per large Insert, and the space of rows Delete
// removes is reclaimed only as DuckDB rewrites their row groups (deletes
// are rare; inserts are the pipeline's steady load).
//
// DuckDB's buffer manager is capped at 512 MB (memoryLimit), or more when
// the widest collection allowed needs it (MemoryLimit). In the pipeline
// benchmark, 1 GB changed the drain's throughput within noise and made a
// full scan of a text column 15% faster, for 300 MB more resident memory.
const (
	walAutocheckpoint   = "1GB"
	rowGroupSize        = "16384"
	checkpointBytes     = 16 << 20
	disabledCompression = "fsst"
	memoryLimit         = 512 << 20
	maxVacuumTasks      = "0"
	dbAlias             = "events"
)

// pinnedPerColumn is what DuckDB holds pinned per column of a table while
// it appends to it: two blocks (values and validity) of 256 KiB, allocated
// again for every column at the first append after a checkpoint. One
// Insert into a table of 1,000 columns needs 500 MiB at once, and fails if
// the memory limit is lower (measured: TestWideTableAppendAfterCheckpoint).
const pinnedPerColumn = 512 << 10

// MemoryLimit is DuckDB's memory limit for a store with limits l: 512 MB,
// or what an Insert into the widest collection l allows needs plus 256 MB
// for everything else, if that is more.
func MemoryLimit(l limits.Config) int64 {
	return max(memoryLimit, 256<<20+int64(l.MaxPropertiesPerCollection)*pinnedPerColumn)
}

var _ store.Store = (*DuckStore)(nil)

// Open opens (creating if needed) the store kept in directory dir, with
// the default limits.
func Open(dir string, logger *slog.Logger) (*DuckStore, error) {
	return OpenLimits(dir, logger, limits.Default())
}

// OpenLimits is Open with limits l.
func OpenLimits(dir string, logger *slog.Logger, l limits.Config) (*DuckStore, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if l.MaxPropertiesPerCollection <= 0 {
		return nil, fmt.Errorf("store: MaxPropertiesPerCollection is %d; it must be positive", l.MaxPropertiesPerCollection)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := openDB(dir, l)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DBFile)
	s := &DuckStore{db: db, logger: logger, tables: map[collKey]*table{}, dir: dir, limits: l, marks: map[srcKey]int64{}, marksSlack: compactMarks, checkpointEvery: checkpointBytes, reopenEvery: reopenEvents, propertyChunk: propertyChunk}
	ctx := context.Background()
	if s.conn, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS _collections (project VARCHAR, collection VARCHAR, tbl VARCHAR, PRIMARY KEY (project, collection))`,
		`CREATE TABLE IF NOT EXISTS _columns (tbl VARCHAR, field VARCHAR, col VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS _uniq (project VARCHAR, collection VARCHAR, token VARCHAR, keen_id VARCHAR, created_at TIMESTAMP)`,
		`CREATE TABLE IF NOT EXISTS _sources (topic VARCHAR, part INTEGER, next BIGINT, PRIMARY KEY (topic, part))`,
		`CREATE TABLE IF NOT EXISTS _marks (topic VARCHAR, part INTEGER, next BIGINT)`,
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
	if err := s.openLogs(ctx); err != nil {
		s.Close()
		return nil, err
	}
	ckConn, err := db.Conn(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.ck = startCheckpointer(ckConn, logger)
	logger.Info("event store open", "path", path, "collections", len(s.tables))
	return s, nil
}

// openDB opens the store's database in dir: a DuckDB instance with the
// database file attached and the store's settings, which every connection
// of the pool runs.
func openDB(dir string, l limits.Config) (*sql.DB, error) {
	path := filepath.Join(dir, DBFile)
	// The database is attached rather than opened: the row group size is
	// an ATTACH option. Every connection of the pool runs these.
	connector, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, q := range []string{
			"ATTACH IF NOT EXISTS '" + strings.ReplaceAll(path, "'", "''") + "' AS " + dbAlias + " (ROW_GROUP_SIZE " + rowGroupSize + ")",
			"USE " + dbAlias,
			"SET wal_autocheckpoint = '" + walAutocheckpoint + "'",
			fmt.Sprintf("SET memory_limit = '%dMiB'", MemoryLimit(l)>>20),
			// Where DuckDB spills blocks over the memory limit (a wide
			// table's, see MemoryLimit); its default for a database opened
			// in memory and attached is ".tmp" in the process's working
			// directory.
			"SET temp_directory = '" + strings.ReplaceAll(filepath.Join(dir, tempDir), "'", "''") + "'",
			"SET disabled_compression_methods = '" + disabledCompression + "'",
			"SET max_vacuum_tasks = " + maxVacuumTasks,
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
	return sql.OpenDB(connector), nil
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
	if err := s.collect(ctx, `SELECT tbl, field, col FROM _columns`, nil, func(r *sql.Rows) error {
		var tbl, f, col string
		if err := r.Scan(&tbl, &f, &col); err != nil {
			return err
		}
		if t := byName[tbl]; t != nil {
			t.cols[f] = col
		}
		return nil
	}); err != nil {
		return fmt.Errorf("store: reading the catalog: %w", err)
	}
	// A partition's mark is the largest recorded, in either table.
	if err := s.collect(ctx, `SELECT topic, part, max(next), count(*) FROM (SELECT topic, part, next FROM _sources UNION ALL SELECT topic, part, next FROM _marks) GROUP BY topic, part`, nil, func(r *sql.Rows) error {
		var k srcKey
		var m, n int64
		if err := r.Scan(&k.topic, &k.part, &m, &n); err != nil {
			return err
		}
		s.marks[k] = m
		s.markRows += n
		return nil
	}); err != nil {
		return fmt.Errorf("store: reading the stored positions: %w", err)
	}
	s.mu.Lock()
	s.tables, s.nTables = tables, n
	s.mu.Unlock()
	return nil
}

// Close checkpoints the database and closes it.
func (s *DuckStore) Close() error {
	s.wmu.Lock() // after an Insert, and its reopen, that runs
	defer s.wmu.Unlock()
	var errs []error
	if s.ck != nil {
		errs = append(errs, s.ck.stop())
	}
	if s.conn != nil {
		if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.conn.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range s.tables {
		if t.log != nil {
			errs = append(errs, t.log.close())
		}
	}
	return errors.Join(errs...)
}

// flatEvent is an event ready to append.
type flatEvent struct {
	ev     *store.Event
	fields []leaf.Field
	index  int // in the events given to Insert
}

// Insert stores events and answers what it did with each: an event its
// collection already processed (below its store.Source partition's mark,
// or without one the same keen.id stored) is Existing, with the JSON
// stored for it, and left alone (re-processing); an event whose uniqueness
// token is held, in its collection, by an event with a different keen.id
// created less than store.UniquenessWindow before it (by CreatedAt) is a
// Duplicate, dropped; an event that would take its collection over
// MaxPropertiesPerCollection columns is Refused (see wideCheck).
// Idempotence is checked per (project, collection): keen.id is unique per
// project, and an event never changes collection.
//
// New tables and columns are created first, each table's in short
// transactions of their own, and stay whatever becomes of the events
// (DuckDB kept every version of a table that one transaction altered: one
// event of 1,000 new properties took hundreds of MB, 4,000 several GB).
// The events themselves are one transaction: on an error (malformed event
// JSON included) none of them is stored.
func (s *DuckStore) Insert(ctx context.Context, events []store.Event) (store.InsertResult, error) {
	res := store.InsertResult{Outcomes: make([]store.Outcome, len(events))}
	if len(events) == 0 {
		return res, nil
	}
	for i := range events {
		if ev := &events[i]; ev.ID == "" || ev.ProjectID == "" || ev.Collection == "" {
			return res, fmt.Errorf("store: event %d: project, collection and keen.id are required", i)
		}
	}
	t0, ck0 := time.Now(), s.ck.mark()
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

	t1 := time.Now()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ensureOpen(ctx); err != nil {
		return store.InsertResult{}, err
	}
	t2 := time.Now()
	// What becomes of each event, and the tables and columns the accepted
	// ones need, committed before their rows are written.
	marks := map[srcKey]int64{}
	plans := make([]*groupPlan, 0, len(order))
	for _, k := range order {
		p, err := s.planGroup(ctx, k, groups[k], marks, res.Outcomes)
		if err != nil {
			return store.InsertResult{}, err
		}
		plans = append(plans, p)
	}
	t3 := time.Now()

	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return store.InsertResult{}, fmt.Errorf("store: %w", err)
	}
	// The marks are published only once committed.
	st := staged{logEnds: map[*jsonLog]int64{}}
	fail := func(err error) (store.InsertResult, error) {
		s.rollback(&st)
		return store.InsertResult{}, err
	}
	// The JSON first; the logs are synced while DuckDB appends the rows
	// (both take milliseconds, and an Insert's fixed cost is what a batch
	// at a steady rate pays). The JSON is on disk before the rows that
	// point at it are committed: COMMIT waits for the sync.
	ptrs := make([][]jsonPtr, len(plans))
	for i, p := range plans {
		if len(p.accepted) == 0 {
			continue
		}
		if ptrs[i], err = s.writeJSON(p.t, p.accepted, &st); err != nil {
			return fail(err)
		}
	}
	synced := syncLogs(st.logEnds)
	failSynced := func(err error) (store.InsertResult, error) {
		<-synced // no rewind of a log while it is being synced
		return fail(err)
	}
	for i, p := range plans {
		if err := s.writeRows(p, ptrs[i]); err != nil {
			return failSynced(err)
		}
	}
	t3a := time.Now()
	markRows, err := s.saveMarks(ctx, marks)
	if err != nil {
		return failSynced(err)
	}
	t4 := time.Now()
	if err := <-synced; err != nil {
		return fail(err)
	}
	t5 := time.Now()
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(fmt.Errorf("store: commit: %w", err))
	}
	for k, m := range marks {
		s.marks[k] = m
	}
	s.markRows = markRows
	t6 := time.Now()
	for _, fe := range flat {
		s.sinceCheckpoint += len(fe.ev.JSON)
	}
	if s.sinceCheckpoint >= s.checkpointEvery {
		s.ck.wake()
		s.sinceCheckpoint = 0
	}
	t7, ckDuring := time.Now(), s.ck.overlapped(ck0)
	if s.traced != nil {
		s.traced(insertSteps{len(events), t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t3a.Sub(t3), t4.Sub(t3a), t5.Sub(t4), t6.Sub(t5), ckDuring})
	}
	if t7.Sub(t0) > slowInsert+time.Duration(len(events))*slowPerEvent {
		var used, free int64
		var wal string
		_ = s.conn.QueryRowContext(ctx, "SELECT used_blocks, free_blocks, wal_size FROM pragma_database_size() WHERE database_name = '"+dbAlias+"'").Scan(&used, &free, &wal)
		s.logger.Warn("a store insert was slow", "events", len(events), "took", t7.Sub(t0),
			"flattening", t1.Sub(t0), "waiting", t2.Sub(t1), "planning", t3.Sub(t2), "appending", t3a.Sub(t3), "marking", t4.Sub(t3a),
			"syncing", t5.Sub(t4), "committing", t6.Sub(t5), "during_a_checkpoint", ckDuring,
			"db_blocks_used", used, "db_blocks_free", free, "wal_size", wal)
	}
	// After the slow insert's report, which reads the database: a reopen
	// logs its own time.
	s.eventsSinceOpen += int64(len(events))
	s.maybeReopen(ctx)
	return res, nil
}

// MemoryBytes is what DuckDB's buffer manager holds now (duckdb_memory()):
// the process's memory outside Go's heap that the store accounts for,
// capped by memory_limit.
func (s *DuckStore) MemoryBytes(ctx context.Context) (int64, error) {
	// Not read while a Delete or a reopen holds the database: a metrics
	// scrape does not wait for them.
	if !s.delMu.TryRLock() {
		return 0, errors.New("store: the database is busy (a delete or a reopen)")
	}
	defer s.delMu.RUnlock()
	db, err := s.readDB()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: reading DuckDB's memory: %w", err)
	}
	return n, nil
}

// An Insert that takes longer than slowInsert plus slowPerEvent per event
// says where its time went, and whether a checkpoint was running (an
// append to a table waits while a checkpoint writes that table; a sync or
// commit waits for a busy disk); a large batch is allowed its size.
const (
	slowInsert   = 500 * time.Millisecond
	slowPerEvent = 50 * time.Microsecond
)

// staged holds what the events' transaction changed outside DuckDB.
type staged struct {
	logEnds map[*jsonLog]int64 // each log written to → its end before this Insert
}

// markOf returns a partition's mark as this Insert sees it.
func (s *DuckStore) markOf(marks map[srcKey]int64) func(srcKey) (int64, bool) {
	return func(k srcKey) (int64, bool) {
		if m, ok := marks[k]; ok {
			return m, true
		}
		m, ok := s.marks[k]
		return m, ok
	}
}

// rollback aborts the events' transaction and cuts the JSON it wrote off
// the logs.
func (s *DuckStore) rollback(st *staged) {
	if _, err := s.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		s.logger.Warn("event store: rollback", "err", err)
	}
	for l, end := range st.logEnds {
		if err := l.rewind(end); err != nil {
			s.logger.Warn("event store: rollback", "err", err)
		}
	}
}

// saveMarks records the partitions' new marks in the write transaction,
// appended to _marks: an INSERT OR REPLACE into a table keyed by partition
// cost 2–3 ms per Insert, more than appending its rows. Once _marks holds
// more than marksSlack rows beyond one per partition, the same
// transaction replaces them (and _sources') with one row per partition;
// it returns the rows _marks then holds.
func (s *DuckStore) saveMarks(ctx context.Context, marks map[srcKey]int64) (int64, error) {
	if len(marks) == 0 {
		return s.markRows, nil
	}
	rows := s.markRows + int64(len(marks))
	write := marks
	if rows > int64(len(s.marks))+s.marksSlack {
		for _, q := range []string{"DELETE FROM _marks", "DELETE FROM _sources"} {
			if _, err := s.conn.ExecContext(ctx, q); err != nil {
				return 0, fmt.Errorf("store: compacting the stored positions: %w", err)
			}
		}
		write = make(map[srcKey]int64, len(s.marks)+len(marks))
		for k, m := range s.marks {
			write[k] = m
		}
		for k, m := range marks {
			write[k] = m
		}
		rows = int64(len(write))
	}
	err := s.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "_marks")
		if err != nil {
			return err
		}
		for k, m := range write {
			if err := app.AppendRow(k.topic, k.part, m); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("store: recording the stored positions: %w", err)
	}
	return rows, nil
}

// compactMarks is how many rows _marks may hold beyond one per partition
// before saveMarks compacts it (a few hundred Inserts at the pipeline's
// steady rate; reading it when the store opens stays a matter of
// milliseconds).
const compactMarks = 20_000

// groupPlan is what an Insert does with the events of one collection.
type groupPlan struct {
	t         *table
	cols      map[string]string // t's columns, the accepted events' included
	accepted  []flatEvent
	newTokens [][]any
}

// planGroup decides what becomes of the events of collection k, writing
// each one's outcome in out (by its index in the Insert), and creates the
// table and columns the accepted ones need (committed, and published).
// marks collects the partitions' new marks.
func (s *DuckStore) planGroup(ctx context.Context, k collKey, evs []flatEvent, marks map[srcKey]int64, out []store.Outcome) (*groupPlan, error) {
	p := &groupPlan{}
	s.mu.RLock()
	t := s.tables[k]
	var cols map[string]string
	if t != nil {
		cols = t.cols
	}
	s.mu.RUnlock()

	// Which events are already stored (re-processing)? The partitions'
	// marks tell for most; the rest are looked up by keen.id. Either way
	// the stored JSON of those found is read back (Outcome.JSON).
	stored, lookup, next := splitBySource(evs, s.markOf(marks))
	storedJSON := map[string][]byte{}
	if t != nil {
		var ids []string
		for i := range evs {
			if stored[i] {
				ids = append(ids, evs[i].ev.ID)
			}
		}
		for _, i := range lookup {
			ids = append(ids, evs[i].ev.ID)
		}
		if len(ids) > 0 {
			found, err := s.storedJSON(ctx, t, ids)
			if err != nil {
				return nil, err
			}
			storedJSON = found
		}
		for _, i := range lookup {
			_, stored[i] = storedJSON[evs[i].ev.ID]
		}
	}
	for k, m := range next {
		marks[k] = m
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
	if len(tokens) > 0 && t != nil {
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
			return nil, fmt.Errorf("store: looking up uniqueness tokens: %w", err)
		}
	}

	wide := newWideCheck(cols, s.limits.MaxPropertiesPerCollection)
	inBatch := make(map[string][]byte, len(evs)) // keen.id → JSON, of the events this Insert stores
	for i, fe := range evs {
		ev := fe.ev
		o := &out[fe.index]
		// First, and whatever else becomes of the event, so that a refused
		// event is refused again when processed again (refuseWide).
		if msg := wide.refuse(fe, k.collection); msg != "" {
			*o = store.Outcome{Status: store.Refused, Name: ErrPropertyLimit, Message: msg}
			continue
		}
		if stored[i] {
			// nil JSON: processed before but not stored (a duplicate
			// then, or deleted since).
			*o = store.Outcome{Status: store.Existing, JSON: storedJSON[ev.ID]}
			continue
		}
		if doc, ok := inBatch[ev.ID]; ok {
			*o = store.Outcome{Status: store.Existing, JSON: doc}
			continue
		}
		if tok := ev.UniquenessToken; tok != "" {
			if h, ok := holders[tok]; ok && h.id != ev.ID && ev.CreatedAt.UTC().Before(h.created.Add(store.UniquenessWindow)) {
				*o = store.Outcome{Status: store.Duplicate}
				continue
			}
			holders[tok] = holder{ev.ID, ev.CreatedAt.UTC()}
			p.newTokens = append(p.newTokens, []any{k.project, k.collection, tok, ev.ID, ev.CreatedAt.UTC()})
		}
		inBatch[ev.ID] = ev.JSON
		wide.accept()
		p.accepted = append(p.accepted, fe)
		*o = store.Outcome{Status: store.Stored}
	}
	if len(p.accepted) == 0 {
		return p, nil
	}
	var err error
	switch {
	case t == nil:
		t, err = s.createTable(ctx, k, newColumns(wide.added, p.accepted))
	case len(wide.added) > 0:
		err = s.addColumns(ctx, t, newColumns(wide.added, p.accepted))
	}
	if err != nil {
		return nil, err
	}
	p.t = t
	s.mu.RLock()
	p.cols = t.cols
	s.mu.RUnlock()
	return p, nil
}

// syncLogs syncs the logs written to, in a goroutine of its own, and
// sends the first error (or nil) once done.
func syncLogs(logEnds map[*jsonLog]int64) <-chan error {
	logs := make([]*jsonLog, 0, len(logEnds))
	for l := range logEnds {
		logs = append(logs, l)
	}
	done := make(chan error, 1)
	go func() {
		for _, l := range logs {
			if err := l.sync(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// writeRows appends a plan's accepted events, whose JSON is at ptrs, and
// their uniqueness tokens in the events' transaction.
func (s *DuckStore) writeRows(p *groupPlan, ptrs []jsonPtr) error {
	if len(p.accepted) == 0 {
		return nil
	}
	if err := s.appendRows(p.t, p.cols, p.accepted, ptrs); err != nil {
		return err
	}
	if len(p.newTokens) > 0 {
		err := s.conn.Raw(func(dc any) error {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "_uniq")
			if err != nil {
				return err
			}
			for _, r := range p.newTokens {
				if err := app.AppendRow(r[0], r[1], r[2], r[3], r[4]); err != nil {
					app.Close()
					return err
				}
			}
			return app.Close()
		})
		if err != nil {
			return fmt.Errorf("store: recording uniqueness tokens: %w", err)
		}
	}
	return nil
}

// columnDefs are new columns: field keys, sorted, and their SQL column
// definitions.
type columnDefs struct{ fields, defs []string }

// newColumns returns the definitions of the columns of fields, the new
// fields of evs.
func newColumns(fields map[string]bool, evs []flatEvent) columnDefs {
	var c columnDefs
	strs := false
	for fk := range fields {
		c.fields = append(c.fields, fk)
		_, typ := leaf.SplitKey(fk)
		strs = strs || typ == leaf.String
	}
	sort.Strings(c.fields)
	var samples map[string][][]byte
	if strs {
		samples = stringSamples(evs, fields, distinctSample)
	}
	c.defs = make([]string, len(c.fields))
	for i, fk := range c.fields {
		_, typ := leaf.SplitKey(fk)
		c.defs[i] = sqlTypes[typ]
		if typ == leaf.String && mostlyDistinct(samples[fk]) {
			c.defs[i] += " " + uncompressed
		}
	}
	return c
}

// createTable creates, in a transaction of its own, the table of
// collection k with columns nc, in one statement, and publishes it.
func (s *DuckStore) createTable(ctx context.Context, k collKey, nc columnDefs) (*table, error) {
	fields, defs := nc.fields, nc.defs
	name := fmt.Sprintf("t%d", s.nTables+1)
	cols := make(map[string]string, len(fields))
	var b strings.Builder
	b.WriteString(`CREATE TABLE ` + name + ` (` + fixedColumns)
	for i, fk := range fields {
		col := fmt.Sprintf("c%d", i+1)
		cols[fk] = col
		b.WriteString(", " + col + " " + defs[i])
	}
	b.WriteString(")")
	err := s.schemaTx(ctx, func() error {
		if _, err := s.conn.ExecContext(ctx, b.String()); err != nil {
			return err
		}
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO _collections VALUES (?, ?, ?)`, k.project, k.collection, name); err != nil {
			return err
		}
		return s.recordColumns(ctx, name, fields, cols)
	})
	if err != nil {
		return nil, fmt.Errorf("store: creating the table of %s/%s: %w", k.project, k.collection, err)
	}
	log, err := openJSONLog(s.logPath(name), 0)
	if err != nil {
		return nil, err
	}
	t := &table{name: name, cols: cols, log: log}
	s.mu.Lock()
	s.tables[k] = t
	s.nTables++
	s.mu.Unlock()
	return t, nil
}

// alterChunk is how many columns one transaction adds to an existing
// table. DuckDB adds one column per ALTER TABLE, and a transaction keeps
// every version of the table its ALTERs made until it ends: 1,000 ALTERs
// in one transaction held 330 MB for an empty table, and grew with the
// square of the columns. One ALTER per transaction costs a commit each.
const alterChunk = 32

// addColumns adds columns nc to t, alterChunk per transaction, each chunk
// published once committed.
func (s *DuckStore) addColumns(ctx context.Context, t *table, nc columnDefs) error {
	s.mu.RLock()
	have := t.cols
	s.mu.RUnlock()
	fields, defs := nc.fields, nc.defs
	for len(fields) > 0 {
		n := min(len(fields), alterChunk)
		cols := make(map[string]string, len(have)+n)
		for k, v := range have {
			cols[k] = v
		}
		err := s.schemaTx(ctx, func() error {
			next := nextColumn(cols)
			for i, fk := range fields[:n] {
				col := fmt.Sprintf("c%d", next+i)
				if _, err := s.conn.ExecContext(ctx, `ALTER TABLE `+t.name+` ADD COLUMN `+col+` `+defs[i]); err != nil {
					return err
				}
				cols[fk] = col
			}
			return s.recordColumns(ctx, t.name, fields[:n], cols)
		})
		if err != nil {
			return fmt.Errorf("store: adding columns to %s: %w", t.name, err)
		}
		s.mu.Lock()
		t.cols = cols // copy on write: readers keep the old map
		s.mu.Unlock()
		have, fields, defs = cols, fields[n:], defs[n:]
	}
	return nil
}

// nextColumn is the number of the next column of a table whose columns
// are cols: past the highest, since a deleted property's columns leave
// gaps.
func nextColumn(cols map[string]string) int {
	n := 0
	for _, c := range cols {
		var i int
		if _, err := fmt.Sscanf(c, "c%d", &i); err == nil && i > n {
			n = i
		}
	}
	return n + 1
}

// recordColumns writes the catalog rows of fields (columns in cols) of
// table name, in one statement.
func (s *DuckStore) recordColumns(ctx context.Context, name string, fields []string, cols map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	rows := make([]string, len(fields))
	args := make([]any, 0, 3*len(fields))
	for i, fk := range fields {
		rows[i] = "(?, ?, ?)"
		args = append(args, name, fk, cols[fk])
	}
	_, err := s.conn.ExecContext(ctx, `INSERT INTO _columns VALUES `+strings.Join(rows, ", "), args...)
	return err
}

// schemaTx runs fn in a transaction of its own on the write connection.
func (s *DuckStore) schemaTx(ctx context.Context, fn func() error) error {
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := s.conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
			s.logger.Warn("event store: rollback", "err", rerr)
		}
		return err
	}
	_, err := s.conn.ExecContext(ctx, "COMMIT")
	return err
}

// jsonChunk is the size of writeJSON's writes.
const jsonChunk = 1 << 20

// writeJSON appends the events' JSON to t's log, one per line, and
// returns where each one is. It writes through one reused buffer of about
// jsonChunk bytes: a batch's JSON is tens of MB, and a buffer of that size
// allocated at every Insert was a sixth of the pipeline's allocations.
func (s *DuckStore) writeJSON(t *table, evs []flatEvent, st *staged) ([]jsonPtr, error) {
	if _, ok := st.logEnds[t.log]; !ok {
		st.logEnds[t.log] = t.log.end
	}
	ptrs := make([]jsonPtr, len(evs))
	buf := s.jsonBuf[:0]
	for i, fe := range evs {
		if len(buf) > 0 && len(buf)+len(fe.ev.JSON) >= jsonChunk {
			if err := t.log.appendBatch(buf); err != nil {
				return nil, err
			}
			buf = buf[:0]
		}
		ptrs[i] = jsonPtr{off: t.log.end + int64(len(buf)), n: int32(len(fe.ev.JSON))}
		buf = append(buf, fe.ev.JSON...)
		buf = append(buf, '\n')
	}
	err := t.log.appendBatch(buf)
	if cap(buf) <= 2*jsonChunk { // not one of Keen's largest events
		s.jsonBuf = buf[:0]
	}
	if err != nil {
		return nil, err
	}
	return ptrs, nil
}

// appendRows appends the rows of evs: the fixed columns, then the columns
// this batch uses.
func (s *DuckStore) appendRows(t *table, cols map[string]string, evs []flatEvent, ptrs []jsonPtr) error {
	used := map[string]int{}
	colNames := append([]string(nil), fixedNames...)
	for _, fe := range evs {
		for _, f := range fe.fields {
			if _, ok := used[f.Key]; !ok {
				used[f.Key] = len(colNames)
				colNames = append(colNames, cols[f.Key])
			}
		}
	}
	nullable := make([]bool, len(colNames))
	for i := len(fixedNames); i < len(nullable); i++ {
		nullable[i] = true // the leaves' columns: NULL where an event has no such leaf
	}
	err := s.conn.Raw(func(dc any) error {
		app, err := s.rowWriter(dc, t.name, colNames, nullable)
		if err != nil {
			return err
		}
		// Events of a batch mostly have one shape: the n-th field's column
		// is first looked for where the last event's n-th field went (a
		// comparison instead of hashing the key).
		var lastKeys []string
		var lastCols []int
		for i, fe := range evs {
			app.setString(0, fe.ev.ID)
			app.setTimestamp(1, fe.ev.Timestamp)
			app.setTimestamp(2, fe.ev.CreatedAt)
			app.setBigInt(3, ptrs[i].off)
			app.setInteger(4, ptrs[i].n)
			for j := range fe.fields {
				f := &fe.fields[j]
				if j >= len(lastKeys) {
					lastKeys, lastCols = append(lastKeys, ""), append(lastCols, 0)
				}
				if lastKeys[j] != f.Key {
					lastKeys[j], lastCols[j] = f.Key, used[f.Key]
				}
				// A repeated key: the last one wins.
				if err := app.setLeaf(lastCols[j], f); err != nil {
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
	if err != nil {
		return fmt.Errorf("store: appending to %s: %w", t.name, err)
	}
	return nil
}

// rowWriter returns the writer of one Insert's rows into table: the chunk
// appender, unless duckdb-go's private layout is not what it reads (a
// duckdb-go version that moved it), in which case the store appends through
// duckdb-go's public Appender from then on, and logs it once. Called with
// wmu held.
func (s *DuckStore) rowWriter(dc any, table string, names []string, nullable []bool) (rowWriter, error) {
	if !s.safeAppend {
		conn, err := rawConnection(dc)
		if err == nil {
			return newChunkAppender(conn, table, names, nullable)
		}
		s.safeAppend = true
		s.logger.Warn("store: appending through duckdb-go's public Appender, slower: its connection is not where this build looks for it", "err", err)
	}
	return newSafeAppender(dc, table, names)
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

// snapshot returns the table of a collection and its columns (a published
// column map is never modified: publish replaces it),
// or "" if the collection has no table.
func (s *DuckStore) snapshot(project, collection string) (string, map[string]string) {
	t, cols := s.snapshotTable(project, collection)
	if t == nil {
		return "", nil
	}
	return t.name, cols
}

// snapshotTable is snapshot with the table itself (nil if none).
func (s *DuckStore) snapshotTable(project, collection string) (*table, map[string]string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tables[collKey{project, collection}]
	if t == nil {
		return nil, nil
	}
	return t, t.cols
}

// Count counts the events matching q (0 for an unknown collection).
func (s *DuckStore) Count(ctx context.Context, q store.Query) (int64, error) {
	tbl, cols := s.snapshot(q.ProjectID, q.Collection)
	if tbl == "" {
		return 0, nil
	}
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return 0, err
	}
	s.delMu.RLock()
	defer s.delMu.RUnlock()
	db, err := s.readDB()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+tbl+` WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// Extract returns the matching events, oldest keen.timestamp first (ties
// by keen.id); with Latest, the Latest most recent ones (Keen's latest).
// The matching rows are selected from the narrow columns, then their JSON
// is read from the table's log.
func (s *DuckStore) Extract(ctx context.Context, q store.Query) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	// A Delete neither closes a log nor blanks bytes in it while an
	// extraction follows pointers it read.
	s.delMu.RLock()
	defer s.delMu.RUnlock()
	t, cols := s.snapshotTable(q.ProjectID, q.Collection)
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return out, nil
	}
	sqlq := `SELECT _off, _len FROM ` + t.name + ` WHERE ` + where + ` ORDER BY _ts, _id`
	if q.Latest > 0 {
		sqlq = fmt.Sprintf(`SELECT _off, _len FROM (SELECT _off, _len, _ts, _id FROM %s WHERE %s ORDER BY _ts DESC, _id DESC LIMIT %d) ORDER BY _ts, _id`, t.name, where, q.Latest)
	}
	// One row past the bound tells that it is exceeded, without listing
	// every matching row.
	capped := q.MaxEvents > 0 && (q.Latest == 0 || q.Latest > q.MaxEvents)
	if capped {
		sqlq += fmt.Sprintf(` LIMIT %d`, q.MaxEvents+1)
	}
	db, err := s.readDB()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	defer rows.Close()
	var ptrs []jsonPtr
	var bytes int64
	for rows.Next() {
		var p jsonPtr
		if err := rows.Scan(&p.off, &p.n); err != nil {
			return nil, fmt.Errorf("store: extraction: %w", err)
		}
		if capped && len(ptrs) == q.MaxEvents {
			return nil, &store.TooLargeError{Events: true, MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
		}
		if bytes += int64(p.n); q.MaxBytes > 0 && bytes > q.MaxBytes {
			return nil, &store.TooLargeError{MaxEvents: q.MaxEvents, MaxBytes: q.MaxBytes}
		}
		ptrs = append(ptrs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	docs, err := t.log.read(ctx, ptrs)
	if err != nil {
		return nil, fmt.Errorf("store: extraction: %w", err)
	}
	for _, d := range docs {
		out = append(out, d)
	}
	return out, nil
}
