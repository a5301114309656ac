package duckdb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
)

// wideEvent is an event of collection "wide" with n numeric properties
// p<first>…p<first+n-1>.
func wideEvent(id string, first, n int) store.Event {
	ts := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString(`{"keen":{"id":"` + id + `","timestamp":"2024-06-01T12:00:00.000Z","created_at":"2024-06-01T12:00:00.000Z"}`)
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `,"p%d":%d`, i, i)
	}
	b.WriteString("}")
	return store.Event{ProjectID: "p", Collection: "wide", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(b.String())}
}

// rss returns the process's resident and peak resident memory in bytes.
func rss(t testing.TB) (cur, peak int64) {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/self/status %s: %v", k, err)
		}
		if k == "VmRSS" {
			cur = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return cur, peak
}

// resetPeak makes the kernel's peak RSS (VmHWM) start again from the
// current RSS.
func resetPeak(t testing.TB) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skip("cannot reset the peak RSS:", err)
	}
}

// TestWideEventMemoryBounded: an event that brings 1,000 new properties is
// stored, and the memory it costs is bounded by its columns. One ALTER
// TABLE per column inside the Insert's transaction kept every
// intermediate version of the table: 1,000 columns on a new table took
// over 300 MB, 4,000 several GB; on a table that had rows, the Insert
// failed (DuckDB's memory limit was below the 500 MiB it pins to append to
// a table of 1,000 columns, see MemoryLimit).
func TestWideEventMemoryBounded(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	warm := wideEvent("warm", 0, 1)
	warm.Collection = "warm" // DuckDB's own start-up memory
	if _, err := s.Insert(ctx, []store.Event{warm}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		first store.Event // stored before, or nothing
		bound int64       // on the peak RSS's growth
	}{
		// A new table is created with its columns in one statement.
		{"new collection", store.Event{}, 100 << 20},
		// DuckDB pins two blocks of 256 KiB per column to append to a
		// table that has rows: 500 MiB for 1,000 columns, and about as
		// much again for the new columns' blocks.
		{"collection with a row", wideEvent("first", 0, 1), 1000 * pinnedPerColumn * 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			coll := strings.ReplaceAll(c.name, " ", "_")
			n := 1000
			if c.first.ID != "" {
				c.first.Collection = coll
				if _, err := s.Insert(ctx, []store.Event{c.first}); err != nil {
					t.Fatal(err)
				}
				n = 999
			}
			before, _ := rss(t)
			resetPeak(t)
			ev := wideEvent("wide", 1, n)
			ev.Collection = coll
			res, err := s.Insert(ctx, []store.Event{ev})
			if err != nil || !sameResult(res, tally{Inserted: 1}) {
				t.Fatalf("%+v %v", res, err)
			}
			_, peak := rss(t)
			t.Logf("peak RSS %d MiB above the %d MiB before the Insert", (peak-before)>>20, before>>20)
			if grew := peak - before; grew > c.bound {
				t.Errorf("storing one event of %d new properties raised the peak RSS by %d MiB (bound %d MiB)", n, grew>>20, c.bound>>20)
			}
			got, err := s.Count(ctx, store.Query{ProjectID: "p", Collection: coll, Filters: []store.Filter{{Path: []string{"p999"}, Operator: "eq", Value: json.Number("999")}}})
			if err != nil || got != 1 {
				t.Fatalf("count p999 = 999: %d %v", got, err)
			}
		})
	}
}

// TestColumnGrowthCost measures what adding columns costs: one event with
// SLUICE_COLUMN_COST new properties, then a collection growing to that
// many columns over 100 Inserts. It logs time and peak RSS; run with
//
//	SLUICE_COLUMN_COST=1000 go test -count=1 -v -run TestColumnGrowthCost ./internal/store/
func TestColumnGrowthCost(t *testing.T) {
	cols, _ := strconv.Atoi(os.Getenv("SLUICE_COLUMN_COST"))
	if cols <= 0 {
		t.Skip("set SLUICE_COLUMN_COST to a number of columns")
	}
	lim := limits.Default()
	lim.MaxPropertiesPerCollection = max(lim.MaxPropertiesPerCollection, cols)
	measure := func(name string, insert func(s *DuckStore) error) {
		s, err := OpenLimits(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), lim)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		warm := wideEvent("warm", 0, 1)
		warm.Collection = "warm" // DuckDB's own start-up memory
		if _, err := s.Insert(context.Background(), []store.Event{warm}); err != nil {
			t.Fatal(err)
		}
		before, _ := rss(t)
		resetPeak(t)
		t0 := time.Now()
		if err := insert(s); err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		_, peak := rss(t)
		t.Logf("%s: %v, peak RSS %d MiB (+%d MiB)", name, took.Round(time.Millisecond), peak>>20, (peak-before)>>20)
	}
	measure(fmt.Sprintf("one event with %d new properties", cols), func(s *DuckStore) error {
		res, err := s.Insert(context.Background(), []store.Event{wideEvent("one", 1, cols)})
		if err == nil && res.Count(store.Stored) != 1 {
			err = fmt.Errorf("%+v", res)
		}
		return err
	})
	measure(fmt.Sprintf("%d columns over 100 Inserts", cols), func(s *DuckStore) error {
		per := max(cols/100, 1)
		for i := 0; i < 100; i++ {
			res, err := s.Insert(context.Background(), []store.Event{wideEvent(fmt.Sprint("e", i), 1+i*per, per)})
			if err == nil && res.Count(store.Stored) != 1 {
				err = fmt.Errorf("Insert %d: %+v", i, res)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// sameOutcome is sameResult without the refusals' messages.
func sameOutcome(r store.InsertResult, want tally) bool {
	strip := func(rs []refusal) []refusal {
		rs = slices.Clone(rs)
		for i := range rs {
			rs[i].Message = ""
		}
		return rs
	}
	r.Outcomes = slices.Clone(r.Outcomes)
	for i := range r.Outcomes {
		r.Outcomes[i].Message = ""
	}
	want.Refused = strip(want.Refused)
	return sameResult(r, want)
}

func openLimited(t testing.TB, dir string, maxColumns int) *DuckStore {
	t.Helper()
	lim := limits.Default()
	lim.MaxPropertiesPerCollection = maxColumns
	s, err := OpenLimits(dir, slog.New(slog.NewTextHandler(io.Discard, nil)), lim)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCollectionPropertyLimit: an event that would take its collection
// over MaxPropertiesPerCollection columns is refused, the rest of the
// Insert stored; processed again (the same Sources, after a reopen too),
// the same events are refused again, the others found stored.
func TestCollectionPropertyLimit(t *testing.T) {
	dir := t.TempDir()
	s := openLimited(t, dir, 10)
	ctx := context.Background()
	sourced := func(ev store.Event, off int64) store.Event {
		ev.Source = store.Source{Topic: "raw", Partition: 0, Offset: off}
		return ev
	}
	other := wideEvent("o1", 0, 8)
	other.Collection = "other"
	evs := []store.Event{
		sourced(wideEvent("a", 0, 6), 0),  // p0…p5: 6 columns
		sourced(wideEvent("b", 6, 5), 1),  // p6…p10: 11, refused
		sourced(wideEvent("c", 6, 4), 2),  // p6…p9: 10
		other,                             // another collection: its own columns
		sourced(wideEvent("d", 0, 10), 3), // no new column
		sourced(wideEvent("e", 9, 2), 4),  // p10: refused, the last of its partition
	}
	want := tally{Inserted: 4, Refused: []refusal{
		{Index: 1, Name: ErrPropertyLimit, Message: `the event would add 5 properties to collection "wide", which has 6 of the 10 it may have (one per property path and JSON type); the event was not stored`},
		{Index: 5, Name: ErrPropertyLimit, Message: `the event would add 1 property to collection "wide", which has 10 of the 10 it may have (one per property path and JSON type); the event was not stored`},
	}}
	res, err := s.Insert(ctx, evs)
	if err != nil || !sameResult(res, want) {
		t.Fatalf("Insert: %+v %v\nwant %+v", res, err, want)
	}
	extractsExactly(t, s, "p", "wide", []store.Event{evs[0], evs[2], evs[4]})
	extractsExactly(t, s, "p", "other", []store.Event{evs[3]})

	// Processed again, before and after a reopen: the refused events are
	// refused again although their partition's mark is past them (the
	// messages say how full the collection is now).
	again := tally{Existing: 4, Refused: want.Refused}
	if res, err := s.Insert(ctx, evs); err != nil || !sameOutcome(res, again) {
		t.Fatalf("again: %+v %v\nwant %+v", res, err, again)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openLimited(t, dir, 10)
	defer s.Close()
	if res, err := s.Insert(ctx, evs); err != nil || !sameOutcome(res, again) {
		t.Fatalf("after reopen: %+v %v\nwant %+v", res, err, again)
	}
	// Events of a full collection that bring no new column are stored;
	// a new collection whose only event is refused gets no table.
	next := []store.Event{sourced(wideEvent("f", 3, 7), 5), wideEvent("g", 0, 11)}
	next[1].Collection = "new"
	if res, err := s.Insert(ctx, next); err != nil || !sameOutcome(res, tally{Inserted: 1, Refused: []refusal{{Index: 1, Name: ErrPropertyLimit}}}) {
		t.Fatalf("next: %+v %v", res, err)
	}
	if tbl, _ := s.snapshot("p", "new"); tbl != "" {
		t.Errorf("a collection of refused events has table %s", tbl)
	}
	extractsExactly(t, s, "p", "wide", []store.Event{evs[0], evs[2], evs[4], next[0]})
}

// TestWideCheckWithoutSources: events without a Source (looked up by
// keen.id) are refused the same way when inserted again.
func TestWideCheckWithoutSources(t *testing.T) {
	s := openLimited(t, t.TempDir(), 3)
	defer s.Close()
	ctx := context.Background()
	evs := []store.Event{wideEvent("a", 0, 2), wideEvent("b", 1, 3), wideEvent("c", 2, 1)}
	want := tally{Inserted: 2, Refused: []refusal{{Index: 1, Name: ErrPropertyLimit,
		Message: `the event would add 2 properties to collection "wide", which has 2 of the 3 it may have (one per property path and JSON type); the event was not stored`}}}
	for i := 0; i < 2; i++ {
		res, err := s.Insert(ctx, evs)
		if err != nil || !sameOutcome(res, want) {
			t.Fatalf("Insert %d: %+v %v\nwant %+v", i, res, err, want)
		}
		want.Inserted, want.Existing = 0, 2
	}
}

// TestExtractionBounds: an extraction over MaxEvents or MaxBytes fails
// with a *store.TooLargeError; at the bounds, and with latest within them, it
// returns the events.
func TestExtractionBounds(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	var evs []store.Event
	var total int64
	for i := range 10 {
		ev := wideEvent(fmt.Sprint("e", i), 0, 3)
		ev.Timestamp = ev.Timestamp.Add(time.Duration(i) * time.Second)
		evs = append(evs, ev)
		total += int64(len(ev.JSON))
	}
	if _, err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	last := int64(len(evs[9].JSON))
	for _, c := range []struct {
		name       string
		limit      int
		maxEvents  int
		maxBytes   int64
		want       int
		overEvents bool // else over bytes, when want < 0
	}{
		{"unbounded", 0, 0, 0, 10, false},
		{"at both bounds", 0, 10, total, 10, false},
		{"one event too many", 0, 9, 0, -1, true},
		{"one byte too many", 0, 0, total - 1, -1, false},
		{"latest within the bounds", 3, 3, 0, 3, false},
		{"latest over the events bound", 11, 9, 0, -1, true},
		{"latest within the bytes bound", 1, 9, last, 1, false},
		{"latest over the bytes bound", 2, 9, last, -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Extract(ctx, store.Query{ProjectID: "p", Collection: "wide", Latest: c.limit, MaxEvents: c.maxEvents, MaxBytes: c.maxBytes})
			if c.want >= 0 {
				if err != nil || len(got) != c.want {
					t.Fatalf("%d events, %v; want %d", len(got), err, c.want)
				}
				return
			}
			var tl *store.TooLargeError
			if !errors.As(err, &tl) || tl.Events != c.overEvents || got != nil {
				t.Fatalf("%d events, %v; want a store.TooLargeError (events: %v)", len(got), err, c.overEvents)
			}
		})
	}
}
