package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// walSize returns the size of the store's WAL as DuckDB reports it.
func walSize(t *testing.T, s *DuckStore) string {
	t.Helper()
	var wal string
	if err := s.conn.QueryRowContext(context.Background(),
		"SELECT wal_size FROM pragma_database_size() WHERE database_name = '"+dbAlias+"'").Scan(&wal); err != nil {
		t.Fatal(err)
	}
	return wal
}

// The store checkpoints itself once checkpointEvery bytes of events have
// been committed since its last checkpoint, whatever the size of DuckDB's
// WAL (large Inserts bypass it), on its checkpointer's connection.
func TestStoreCheckpointsAfterCheckpointEveryBytes(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ran := make(chan error, 10)
	s.ck.ran = func(_ time.Duration, err error) { ran <- err }
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	evs := wordEvents(r, "p1", "c", "a", 100)
	var size int
	for _, e := range evs {
		size += len(e.JSON)
	}
	s.checkpointEvery = size + size/2

	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if w := walSize(t, s); w == "0 bytes" {
		t.Fatalf("WAL empty after %d of %d bytes: the store checkpointed too early", size, s.checkpointEvery)
	}
	select {
	case err := <-ran:
		t.Fatalf("a checkpoint ran (%v) after %d of %d bytes", err, size, s.checkpointEvery)
	default:
	}
	if _, err := s.Insert(ctx, wordEvents(r, "p1", "c", "b", 100)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no checkpoint ran after %d bytes of events, past checkpointEvery (%d)", 2*size, s.checkpointEvery)
	}
	if w := walSize(t, s); w != "0 bytes" {
		t.Fatalf("WAL holds %s after the checkpoint", w)
	}
	if s.sinceCheckpoint != 0 {
		t.Fatalf("sinceCheckpoint = %d after a checkpoint", s.sinceCheckpoint)
	}
	if n, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: "c"}); err != nil || n != 200 {
		t.Fatalf("count = %d, %v; want 200", n, err)
	}
}

// Inserts go on while the checkpointer checkpoints, on its own connection:
// every checkpoint succeeds or is tried again, nothing is lost or stored
// twice, and the store reopens with every event and every mark.
func TestInsertsWhileCheckpointing(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	var mu sync.Mutex
	var runs int
	var errs []error
	s.ck.ran = func(_ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.checkpointEvery = 1 // a checkpoint asked for after every Insert
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 5))
	const batches, size = 60, 210 // size a multiple of the 3 partitions
	for i := range batches {
		evs := wordEvents(r, "p1", "c", fmt.Sprintf("b%d-", i), size)
		for j := range evs {
			evs[j].Source = store.Source{Topic: "raw", Partition: int32(j % 3), Offset: int64((i*size + j) / 3)}
		}
		res, err := s.Insert(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		if got := tallyOf(res); !sameResult(res, tally{Inserted: size}) {
			t.Fatalf("batch %d: %+v", i, got)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if runs == 0 {
		t.Fatal("no checkpoint ran")
	}
	t.Logf("%d checkpoints ran, %d failed (tried again): %v", runs, len(errs), errs)
	mu.Unlock()

	s = openTest(t, dir)
	defer s.Close()
	if n, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: "c"}); err != nil || n != batches*size {
		t.Fatalf("count = %d, %v; want %d", n, err, batches*size)
	}
	// Processed again from the start: every event is Existing.
	evs := wordEvents(rand.New(rand.NewPCG(5, 5)), "p1", "c", "b0-", size)
	for j := range evs {
		evs[j].Source = store.Source{Topic: "raw", Partition: int32(j % 3), Offset: int64(j / 3)}
	}
	res, err := s.Insert(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if got := tallyOf(res); !sameResult(res, tally{Existing: size}) {
		t.Fatalf("processed again: %+v; want %d existing", got, size)
	}
}

// Strings are never FSST-compressed on their own (disabledCompression);
// repeated ones are still dictionary-compressed.
func TestNoFSSTCompression(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(4, 4))
	// A first batch too small to judge the columns by (minSample): they
	// keep DuckDB's choice of compression, where FSST would be tried.
	for i, n := range []int{minSample / 2, 20000, 20000, 20000} {
		if _, err := s.Insert(ctx, wordEvents(r, "p1", "c", fmt.Sprint(i), n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ck.now(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, _ := s.snapshot("p1", "c")
	seen := compressions(t, s, tbl, "")
	if seen["FSST"] {
		t.Errorf("a column segment is FSST-compressed (compressions: %v)", seen)
	}
	if !seen[dictionary] {
		t.Errorf("no dictionary-compressed segment for the repeated words (compressions: %v)", seen)
	}
}

// keen.timestamp and keen.created_at are filtered through an expression
// over _ts and _created (keenColumns): it must give back the strings the
// events hold, at the edges of the years too.
func TestKeenTimeFiltersAtTheEdges(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.UnixMilli(-1).UTC(), // a Kafka record without a timestamp
		time.Date(2026, 2, 28, 7, 8, 9, 10e6, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
	}
	var evs []store.Event
	for i, ts := range times {
		stamp := ts.Format("2006-01-02T15:04:05.000Z")
		evs = append(evs, store.Event{ProjectID: "p", Collection: "c", ID: fmt.Sprint("id", i), Timestamp: ts, CreatedAt: ts,
			JSON: []byte(fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":"id%d"}}`, stamp, stamp, i))})
	}
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for i, ts := range times {
		stamp := ts.Format("2006-01-02T15:04:05.000Z")
		for _, name := range []string{"timestamp", "created_at"} {
			n, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: "c", Filters: []store.Filter{{Path: []string{"keen", name}, Operator: "eq", Value: stamp}}})
			if err != nil || n != 1 {
				t.Errorf("keen.%s eq %s: %d, %v; want 1", name, stamp, n, err)
			}
			n, err = s.Count(ctx, store.Query{ProjectID: "p", Collection: "c", Filters: []store.Filter{{Path: []string{"keen", name}, Operator: "lt", Value: stamp}}})
			if err != nil || n != int64(i) {
				t.Errorf("keen.%s lt %s: %d, %v; want %d", name, stamp, n, err, i)
			}
		}
	}
}

func TestMostlyDistinct(t *testing.T) {
	vals := func(n, distinct int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = []byte(fmt.Sprint("v", i%distinct))
		}
		return out
	}
	for _, c := range []struct {
		name string
		vals [][]byte
		want bool
	}{
		{"too few to judge", vals(minSample-1, minSample-1), false},
		{"all distinct", vals(minSample, minSample), true},
		{"one in 128 repeated", vals(1024, 1016), true},
		{"one more repeated", vals(1024, 1015), false},
		{"1,000 values, as a country", vals(1024, 1000), false},
		{"half distinct", vals(1000, 500), false},
		{"a few values repeated", vals(1024, 44), false},
		{"none", nil, false},
	} {
		if got := mostlyDistinct(c.vals); got != c.want {
			t.Errorf("%s: mostlyDistinct = %v, want %v", c.name, got, c.want)
		}
	}
}

// A string column whose first values almost never repeat is created
// without compression, so DuckDB stops trying a dictionary on it even
// when later values repeat; one whose first values repeat, even if most
// of them are distinct, keeps DuckDB's choice (a dictionary).
func TestColumnCompressionChosenFromFirstValues(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	batch := func(prefix string, n, distinct int) []store.Event {
		evs := make([]store.Event, n)
		for i := range evs {
			id := fmt.Sprintf("%s%d", prefix, i)
			v := fmt.Sprintf("value-%d", i%distinct)
			evs[i] = store.Event{ProjectID: "p", Collection: "c", ID: id, Timestamp: genBase, CreatedAt: genBase,
				JSON: []byte(fmt.Sprintf(`{"keen":{"id":%q},"unique":%q,"repeated":"%s","country":"c%03d"}`, id, v, v[:7]+fmt.Sprint(i%3), i%1000))}
		}
		return evs
	}
	// First batch: "unique" all distinct, "repeated" three values,
	// "country" 1,000 values (1,000 distinct among the first 1,024: most
	// are distinct, yet each repeats 16 times in a row group).
	if _, err := s.Insert(ctx, batch("a", 1024, 1024)); err != nil {
		t.Fatal(err)
	}
	// Then "unique" repeats too: a dictionary would now pay off, but the
	// column was created uncompressed.
	for i := range 3 {
		if _, err := s.Insert(ctx, batch(fmt.Sprint("b", i), 20000, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ck.now(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, cols := s.snapshot("p", "c")
	if got := compressions(t, s, tbl, cols[leaf.Key("unique", leaf.String)]); len(got) != 1 || !got["Uncompressed"] {
		t.Errorf("column of mostly distinct first values: compressions %v, want only Uncompressed", got)
	}
	if got := compressions(t, s, tbl, cols[leaf.Key("repeated", leaf.String)]); !got[dictionary] {
		t.Errorf("column of repeated values: compressions %v, want %s", got, dictionary)
	}
	if got := compressions(t, s, tbl, cols[leaf.Key("country", leaf.String)]); !got[dictionary] {
		t.Errorf("column of 1,000 values: compressions %v, want %s", got, dictionary)
	}
}

// dictionary is how pragma_storage_info names DuckDB's dictionary
// compression of strings (since DuckDB 1.3 a dictionary whose strings are
// FSST-compressed when that pays, and the only dictionary it writes).
const dictionary = "DICT_FSST"

// compressions returns the compressions of table tbl's string segments, of
// column col only unless col is "".
func compressions(t *testing.T, s *DuckStore, tbl, col string) map[string]bool {
	t.Helper()
	rows, err := s.conn.QueryContext(context.Background(), "SELECT DISTINCT compression FROM pragma_storage_info('"+tbl+"') WHERE segment_type = 'VARCHAR' AND (? = '' OR column_name = ?)", col, col)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		got[c] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Checkpoints leave large Inserts' row groups as they are (maxVacuumTasks):
// each Insert of a row group and a few events keeps its small last row
// group, where a vacuum would merge those tails into full row groups.
func TestCheckpointsDoNotVacuum(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	size, err := strconv.Atoi(rowGroupSize)
	if err != nil {
		t.Fatal(err)
	}
	const inserts, tail = 3, 100
	for i := range inserts {
		evs := make([]store.Event, size+tail)
		for j := range evs {
			id := fmt.Sprintf("i%d-%d", i, j)
			evs[j] = store.Event{ProjectID: "p", Collection: "c", ID: id, Timestamp: genBase, CreatedAt: genBase,
				JSON: []byte(fmt.Sprintf(`{"keen":{"id":%q},"n":%d}`, id, j))}
		}
		if _, err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ck.now(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, _ := s.snapshot("p", "c")
	var groups int
	if err := s.conn.QueryRowContext(ctx, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('"+tbl+"')").Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if groups != 2*inserts {
		t.Errorf("%d row groups after %d Inserts of %d+%d events, want %d: a checkpoint merged row groups", groups, inserts, size, tail, 2*inserts)
	}
	if n, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: "c"}); err != nil || n != int64(inserts*(size+tail)) {
		t.Fatalf("count = %d, %v; want %d", n, err, inserts*(size+tail))
	}
}

// TestTempDirectoryInTheStore: DuckDB spills into the store's directory,
// not the process's working directory.
func TestTempDirectoryInTheStore(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	var got string
	if err := s.conn.QueryRowContext(context.Background(), "SELECT current_setting('temp_directory')").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, tempDir); got != want {
		t.Errorf("temp_directory %q, want %q", got, want)
	}
}

// MemoryBytes reports DuckDB's buffer manager: something once events are
// stored, and no more than the memory limit.
func TestMemoryBytes(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Insert(ctx, wordEvents(rand.New(rand.NewPCG(9, 9)), "p1", "c", "m", 5000)); err != nil {
		t.Fatal(err)
	}
	n, err := s.MemoryBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 || n > MemoryLimit(s.limits) {
		t.Errorf("MemoryBytes = %d, want more than 0 and at most the memory limit (%d)", n, MemoryLimit(s.limits))
	}
}
