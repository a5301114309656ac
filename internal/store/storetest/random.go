package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// The model-based part: seeded random events, and random queries whose
// answers from the store under test must equal the Model's.

// Environment variables that size and seed the random part.
const (
	EnvSeed    = "STORETEST_SEED"    // the seed (default DefaultSeed; "random": a new one, logged)
	EnvQueries = "STORETEST_QUERIES" // random queries per family (default DefaultQueries)
	EnvEvents  = "STORETEST_EVENTS"  // random events (default DefaultEvents)
)

// The defaults keep the whole suite under a minute on the DuckDB engine.
// The seed is fixed unless asked otherwise, so that a test run (CI's) is
// the same every time; STORETEST_SEED=random explores new data.
const (
	DefaultQueries = 150
	DefaultEvents  = 3000
	DefaultSeed    = 1
)

func envInt(t *testing.T, name string, def uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("storetest: %s=%q is not a non-negative integer", name, v)
	}
	return n
}

var (
	rCountries = []string{"France", "france", "Germany", "Zed", "", "Ünïcode", "émile", "a\"quote", "New York", "Fr", "10", "<&>"}
	rNumbers   = []string{"0", "1", "10", "10.0", "-3.25", "1e2", "100", "7", "0.5", "-0", "2.5", "1234.5678", "-17", "3"}
	rTags      = []string{"red", "green", "blue", "Red", "gr", ""}
	rCities    = []string{"Paris", "Berlin", "paris", "Rome"}
	rColls     = []string{"clicks", "views", "purchases"}
	rTokens    = []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}
	// Points events are scattered around (lon, lat).
	rPlaces = [][2]float64{{2.35, 48.85}, {13.40, 52.52}, {-74.0, 40.71}, {151.2, -33.87}, {179.9, 0}}
	// The events' keen.timestamps span March and April 2024: Paris and
	// New York change to summer time within it.
	rBase = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rSpan = 61 * 24 * time.Hour
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// randomNumber is a number with a few decimals in [-100, 100], as JSON.
func randomNumber(r *rand.Rand) json.Number {
	if r.IntN(3) == 0 {
		return json.Number(pick(r, rNumbers))
	}
	return json.Number(strconv.FormatFloat(float64(r.IntN(20001)-10000)/100, 'f', -1, 64))
}

// randomEvents returns n events over rColls of project "p" (and a few of
// project "q"), with properties of mixed types at the same paths.
func randomEvents(r *rand.Rand, n int) []store.Event {
	evs := make([]store.Event, 0, n)
	for i := 0; i < n; i++ {
		at := rBase.Add(time.Duration(r.Int64N(int64(rSpan/time.Millisecond))) * time.Millisecond)
		if r.IntN(20) == 0 && len(evs) > 0 { // keen.timestamp ties
			at = evs[len(evs)-1].Timestamp
		}
		created := at.Add(time.Duration(r.IntN(5000)) * time.Millisecond)
		var props []member
		if r.IntN(5) > 0 {
			props = append(props, member{"country", pick(r, rCountries)})
		}
		if r.IntN(10) == 0 {
			props = append(props, member{"Country", pick(r, rCountries)})
		}
		if r.IntN(4) > 0 {
			props = append(props, member{"price", randomNumber(r)})
		}
		if r.IntN(3) > 0 {
			props = append(props, member{"score", randomNumber(r)})
		}
		if r.IntN(3) > 0 {
			props = append(props, member{"is_mobile", r.IntN(2) == 0})
		}
		switch r.IntN(7) { // numbers and strings of the same text, and more
		case 0, 1:
			props = append(props, member{"code", pick(r, rNumbers)})
		case 2, 3:
			props = append(props, member{"code", json.Number(pick(r, rNumbers))})
		case 4:
			props = append(props, member{"code", nil})
		case 5:
			props = append(props, member{"code", r.IntN(2) == 0})
		}
		switch r.IntN(7) {
		case 0, 1, 2:
			tags := []any{}
			for j := r.IntN(4); j > 0; j-- {
				tags = append(tags, pick(r, rTags))
			}
			props = append(props, member{"tags", tags})
		case 3:
			props = append(props, member{"tags", []any{json.Number("1"), "red", true}})
		case 4:
			props = append(props, member{"tags", pick(r, rTags)})
		}
		switch r.IntN(6) {
		case 0, 1, 2:
			addr := object{{"city", pick(r, rCities)}}
			if r.IntN(4) == 0 {
				addr = object{}
			}
			props = append(props, member{"user", object{{"id", json.Number(strconv.Itoa(r.IntN(30)))}, {"name", fmt.Sprintf("user%d", r.IntN(12))}, {"address", addr}}})
		case 3:
			props = append(props, member{"user", object{}})
		case 4:
			props = append(props, member{"user", "anonymous"})
		}
		if r.IntN(8) == 0 {
			props = append(props, member{"note", nil})
		}
		switch r.IntN(5) {
		case 0, 1, 2:
			p := pick(r, rPlaces)
			lon := p[0] + (r.Float64()-0.5)*4
			lat := p[1] + (r.Float64()-0.5)*4
			c := []any{json.Number(strconv.FormatFloat(lon, 'f', 4, 64)), json.Number(strconv.FormatFloat(lat, 'f', 4, 64))}
			props = append(props, member{"keen", object{{"location", object{{"coordinates", c}}}}})
		case 3:
			props = append(props, member{"keen", object{{"location", object{{"coordinates", []any{"2.35", "48.85"}}}}}})
		}
		project := "p"
		if r.IntN(10) == 0 {
			project = "q"
		}
		var token string
		if r.IntN(8) == 0 {
			token = pick(r, rTokens)
			// Spread tokens' keen.created_at over more than a window.
			created = rBase.Add(time.Duration(r.Int64N(int64(3*store.UniquenessWindow/time.Millisecond))) * time.Millisecond)
		}
		e := event(project, pick(r, rColls), fmt.Sprintf("r%06d", i), at, created, props...)
		e.UniquenessToken = token
		evs = append(evs, e)
	}
	return evs
}

// random inserts random events into the store and the Model, in random
// batches with events sent again, checking Insert's answers, then runs
// each family's random queries.
func (s *suite) random(t *testing.T) {
	seed := uint64(DefaultSeed)
	if os.Getenv(EnvSeed) == "random" {
		seed = rand.Uint64()
	} else {
		seed = envInt(t, EnvSeed, seed)
	}
	nq := int(envInt(t, EnvQueries, DefaultQueries))
	ne := int(envInt(t, EnvEvents, DefaultEvents))
	t.Logf("storetest: random part with %s=%d %s=%d %s=%d", EnvSeed, seed, EnvQueries, nq, EnvEvents, ne)
	st := s.open(t)
	model := NewModel()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 0))
	evs := randomEvents(r, ne)
	docs := decodeAll(t, evs)
	outcomesDiffer := false
	for len(evs) > 0 {
		k := min(len(evs), 1+r.IntN(400))
		batch := slices.Clone(evs[:k])
		evs = evs[k:]
		for j := r.IntN(3); j > 0; j-- { // re-processing
			batch = append(batch, batch[r.IntN(len(batch))])
		}
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		want, err := model.Insert(ctx, batch)
		if err != nil {
			t.Fatalf("seed %d: the model's Insert: %v", seed, err)
		}
		got, err := st.Insert(ctx, batch)
		if err != nil {
			t.Fatalf("seed %d: Insert: %v", seed, err)
		}
		if got.Count(store.Stored) != want.Count(store.Stored) || got.Count(store.Existing) != want.Count(store.Existing) || got.Count(store.Duplicate) != want.Count(store.Duplicate) || got.Count(store.Refused) > 0 {
			t.Fatalf("seed %d: Insert of %d events: inserted %d, existing %d, duplicates %d, refused %d; want %d, %d, %d, none",
				seed, len(batch), got.Count(store.Stored), got.Count(store.Existing), got.Count(store.Duplicate), got.Count(store.Refused), want.Count(store.Stored), want.Count(store.Existing), want.Count(store.Duplicate))
		}
		if s.has("outcomes") && !outcomesDiffer {
			if msg := diffOutcomes(got.Outcomes, want.Outcomes); msg != "" {
				outcomesDiffer = true // once is enough: the events stored are the same
				t.Errorf("seed %d: Insert outcomes:\n%s", seed, msg)
			}
		}
	}
	for _, a := range []store.Analysis{store.Count, store.CountUnique, store.SelectUnique, store.Sum, store.Average,
		store.Minimum, store.Maximum, store.Median, store.Percentile, store.StandardDeviation, store.Extraction} {
		if !s.has(string(a)) {
			continue
		}
		t.Run(string(a), func(t *testing.T) {
			h := fnv.New64a()
			h.Write([]byte(a))
			g := &queryGen{r: rand.New(rand.NewPCG(seed, h.Sum64())), s: s, docs: docs}
			failures := 0
			for i := 0; i < nq && failures < 5; i++ {
				qq := g.query(a)
				if msg := compareRun(ctx, st, model, qq); msg != "" {
					failures++
					t.Errorf("random %s query %d (again: %s=%d %s=%d go test -run '%s'):\n%s\n%s",
						a, i, EnvSeed, seed, EnvEvents, ne, t.Name(), describe(qq), msg)
				}
			}
		})
	}
	if s.has("schema") {
		t.Run("schema", func(t *testing.T) { compareSchemas(t, st, model, seed) })
	}
	// Last: it changes the events.
	if s.has("delete", "count") {
		t.Run("delete", func(t *testing.T) {
			g := &queryGen{r: rand.New(rand.NewPCG(seed, 1)), s: s, docs: docs}
			for i := 0; i < 12; i++ {
				d := g.deletion(i)
				want, werr := model.Delete(ctx, d)
				got, gerr := st.Delete(ctx, d)
				if werr != nil {
					t.Fatalf("the model refused deletion %d (a suite bug): %v", i, werr)
				}
				if gerr != nil || got.Events != want.Events {
					t.Fatalf("random deletion %d (%s=%d): Delete(%s) = %d events, %v; want %d",
						i, EnvSeed, seed, describeDeletion(d), got.Events, gerr, want.Events)
				}
				// Counts over every collection, grouped when the engine
				// groups, tell whether the same events are left.
				for _, c := range rColls {
					q := store.Query{ProjectID: "p", Collection: c, Analysis: store.Count}
					if s.has("group_by") {
						q.GroupBy = [][]string{path(pick(g.r, rGroupBy))}
					}
					if msg := compareRun(ctx, st, model, q); msg != "" {
						t.Fatalf("after random deletion %d (%s=%d) %s:\n%s\n%s", i, EnvSeed, seed, describeDeletion(d), describe(q), msg)
					}
				}
				for j := 0; j < 10; j++ {
					q := g.query(store.Count)
					if msg := compareRun(ctx, st, model, q); msg != "" {
						t.Fatalf("after random deletion %d (%s=%d) %s:\n%s\n%s", i, EnvSeed, seed, describeDeletion(d), describe(q), msg)
					}
				}
			}
			if s.has("schema") {
				compareSchemas(t, st, model, seed)
			}
		})
	}
}

// compareSchemas compares the store's Schema of the random projects with
// the Model's.
func compareSchemas(t *testing.T, st store.Store, model *Model, seed uint64) {
	t.Helper()
	for _, p := range []string{"p", "q"} {
		want, err := model.Schema(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		wm := map[string]map[string][]string{}
		for _, c := range want {
			wm[c.Name] = c.Properties
			delete(c.Properties, "keen.id")
		}
		got, err := st.Schema(context.Background(), p)
		if err != nil {
			t.Fatalf("Schema(%q): %v", p, err)
		}
		if msg := diffSchema(got, wm); msg != "" {
			t.Errorf("%s=%d: Schema(%q):\n%s", EnvSeed, seed, p, msg)
		}
	}
}

// deletion returns the i-th random deletion: mostly events by filter,
// then a property, and once a whole collection.
func (g *queryGen) deletion(i int) store.Deletion {
	r := g.r
	d := store.Deletion{ProjectID: "p", Collection: pick(r, rColls)}
	switch {
	case i == 11:
		// the whole collection
	case i%4 == 3:
		d.Property = path(pick(r, []string{"country", "user.name", "user", "tags", "code", "user.address", "nope"}))
	default:
		q := g.query(store.Count)
		for len(q.Filters) == 0 && q.Start.IsZero() && q.End.IsZero() {
			q = g.query(store.Count)
		}
		d.Events = &store.Query{Start: q.Start, End: q.End, Filters: q.Filters}
	}
	return d
}

func describeDeletion(d store.Deletion) string {
	switch {
	case d.Events != nil:
		return fmt.Sprintf("events of %s/%s matching %s", d.ProjectID, d.Collection, describe(*d.Events))
	case len(d.Property) > 0:
		return fmt.Sprintf("property %v of %s/%s", d.Property, d.ProjectID, d.Collection)
	}
	return fmt.Sprintf("collection %s/%s", d.ProjectID, d.Collection)
}

// decodeAll decodes the events' JSON.
func decodeAll(t testing.TB, evs []store.Event) []map[string]any {
	docs := make([]map[string]any, len(evs))
	for i, e := range evs {
		d, err := decodeEvent(e.JSON)
		if err != nil {
			t.Fatalf("storetest: decoding a random event: %v", err)
		}
		docs[i] = d
	}
	return docs
}

// compareRun runs q on the store and the Model, and says how the
// answers differ.
func compareRun(ctx context.Context, st store.Store, model *Model, q store.Query) string {
	want, werr := model.Run(ctx, q)
	got, gerr := st.Run(ctx, q)
	if q.Analysis == store.Extraction && tooLarge(werr) != nil {
		wtl, gtl := tooLarge(werr), tooLarge(gerr)
		if gtl == nil {
			return fmt.Sprintf("got %d events, error %v; want a *store.TooLargeError", len(got.Events), gerr)
		}
		// Which bound an extraction over both reports is the engine's
		// choice.
		unbounded := q
		unbounded.MaxEvents, unbounded.MaxBytes = 0, 0
		all, err := model.Run(ctx, unbounded)
		if err != nil {
			return fmt.Sprintf("the model: %v", err)
		}
		var size int64
		for _, e := range all.Events {
			size += int64(len(e))
		}
		overEvents := q.MaxEvents > 0 && len(all.Events) > q.MaxEvents
		overBytes := q.MaxBytes > 0 && size > q.MaxBytes
		if overEvents != overBytes && gtl.Events != wtl.Events {
			return fmt.Sprintf("TooLargeError.Events = %v, want %v", gtl.Events, wtl.Events)
		}
		return ""
	}
	if werr != nil {
		return fmt.Sprintf("the model refused the query (a suite bug): %v", werr)
	}
	if gerr != nil {
		return fmt.Sprintf("error: %v", gerr)
	}
	if q.Analysis == store.Extraction {
		return diffEvents(got.Events, want.Events, false)
	}
	return diffRows(q, got.Rows, want.Rows)
}

// queryGen makes random queries over the random events.
type queryGen struct {
	r    *rand.Rand
	s    *suite
	docs []map[string]any // the random events, decoded: filter values are mostly taken from them
}

// seen returns the value at path of a random event, if it has one that
// can be a filter's value.
func (g *queryGen) seen(p []string) (any, bool) {
	for range 20 {
		v, ok := lookup(pick(g.r, g.docs), p)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case string, json.Number, bool, nil:
			return x, true
		case []any:
			if _, ok := strArray(x); ok {
				return x, true
			}
		}
	}
	return nil, false
}

var (
	// Paths with values of every kind (objects and missing ones too).
	rPaths = []string{"country", "Country", "price", "score", "code", "is_mobile", "tags", "user", "user.id", "user.name",
		"user.address", "user.address.city", "note", "nope", "keen.location.coordinates", "keen.location"}
	rTargets   = []string{"price", "score", "code", "country", "user.id", "user.name", "tags", "is_mobile", "user", "user.address.city", "keen.location.coordinates", "nope", "note"}
	rGroupBy   = []string{"country", "code", "is_mobile", "tags", "user.id", "user.address.city", "user", "price", "note", "nope", "keen.location.coordinates", "Country", "user.name"}
	rPercents  = []float64{0, 1, 5, 10, 12.5, 25, 29, 33.3, 50, 57, 66.6, 75, 90, 95, 99, 99.9, 100}
	rZones     = []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}
	rRegexes   = []string{"^Fr", "an", "(?i)paris", "^$", "e$", "[0-9]", "^user1[0-9]?$", "^(red|blue)$", "é"}
	rIntervals = []string{"hourly", "daily", "weekly", "monthly"}
)

// instant is a random instant in (or a little around) the events' span.
func (g *queryGen) instant() time.Time {
	return rBase.Add(time.Duration(g.r.Int64N(int64((rSpan+4*24*time.Hour)/time.Millisecond)))*time.Millisecond - 2*24*time.Hour)
}

func (g *queryGen) query(a store.Analysis) store.Query {
	r := g.r
	q := store.Query{ProjectID: "p", Collection: pick(r, rColls), Analysis: a}
	switch r.IntN(20) {
	case 0:
		q.Collection = "nothing"
	case 1:
		q.ProjectID = "q"
	}
	switch a {
	case store.Count, store.Extraction:
	case store.CountUnique, store.SelectUnique:
		q.Target = path(pick(r, rTargets))
	default: // mostly paths that have numbers
		q.Target = path(pick(r, rTargets[:5]))
		if r.IntN(4) == 0 {
			q.Target = path(pick(r, rTargets))
		}
	}
	if a == store.Percentile {
		q.Percentile = pick(r, rPercents)
	}
	switch r.IntN(6) { // mostly none: buckets bound the events too
	case 0:
		q.Start = g.instant()
	case 1:
		q.End = g.instant()
	case 2:
		q.Start, q.End = g.instant(), g.instant()
		if q.End.Before(q.Start) {
			q.Start, q.End = q.End, q.Start
		}
	}
	for i := pick(r, []int{0, 0, 0, 1, 1, 1, 1, 2, 2, 3}); i > 0; i-- {
		if f, ok := g.filter(0); ok {
			q.Filters = append(q.Filters, f)
		}
	}
	if a == store.Extraction {
		if r.IntN(3) == 0 {
			q.Latest = 1 + r.IntN(60)
		}
		if r.IntN(3) == 0 {
			q.MaxEvents = 1 + r.IntN(300)
		}
		if r.IntN(3) == 0 {
			q.MaxBytes = int64(1 + r.IntN(100_000))
		}
		return q
	}
	if g.s.has("group_by") && r.IntN(3) > 0 {
		for i := 1 + r.IntN(2); i > 0; i-- {
			q.GroupBy = append(q.GroupBy, path(pick(r, rGroupBy)))
		}
	}
	if g.s.has("buckets") && r.IntN(2) == 0 {
		q.Buckets = g.buckets()
	}
	return q
}

// buckets returns the boundaries of random interval buckets, computed in
// a random named zone as package query does.
func (g *queryGen) buckets() []time.Time {
	r := g.r
	loc, err := time.LoadLocation(pick(r, rZones))
	if err != nil {
		panic(fmt.Sprintf("storetest: loading a time zone: %v", err))
	}
	t := g.instant().In(loc)
	var out []time.Time
	switch pick(r, rIntervals) {
	case "hourly":
		start := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		for i := 0; i <= 1+r.IntN(72); i++ {
			out = append(out, start.Add(time.Duration(i)*time.Hour))
		}
	case "daily":
		for i := 0; i <= 1+r.IntN(40); i++ {
			out = append(out, time.Date(t.Year(), t.Month(), t.Day()+i, 0, 0, 0, 0, loc))
		}
	case "weekly":
		for i := 0; i <= 1+r.IntN(10); i++ {
			out = append(out, time.Date(t.Year(), t.Month(), t.Day()-int(t.Weekday())+7*i, 0, 0, 0, 0, loc))
		}
	default:
		for i := 0; i <= 1+r.IntN(3); i++ {
			out = append(out, time.Date(t.Year(), t.Month()+time.Month(i), 1, 0, 0, 0, 0, loc))
		}
	}
	return out
}

// value is a random filter value of any kind.
func (g *queryGen) value() any {
	r := g.r
	switch r.IntN(9) {
	case 0, 1:
		return pick(r, rCountries)
	case 2:
		return pick(r, rTags)
	case 3:
		return fmt.Sprintf("user%d", r.IntN(12))
	case 4, 5:
		return json.Number(pick(r, rNumbers))
	case 6:
		return r.IntN(2) == 0
	case 7:
		return nil
	default:
		return pick(r, rCities)
	}
}

// scalar is a random number or string.
func (g *queryGen) scalar() any {
	if g.r.IntN(2) == 0 {
		return randomNumber(g.r)
	}
	if g.r.IntN(2) == 0 {
		return pick(g.r, rCountries)
	}
	return pick(g.r, rTags)
}

// filter returns a random filter of an operator the families run.
func (g *queryGen) filter(depth int) (store.Filter, bool) {
	r := g.r
	var ops []string
	if g.s.has("filters") {
		ops = append(ops, "eq", "eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains")
	}
	if g.s.has("regex") {
		ops = append(ops, "regex")
	}
	if g.s.has("within") {
		ops = append(ops, "within")
	}
	if g.s.has("or") && depth < 2 {
		ops = append(ops, "or")
	}
	if len(ops) == 0 {
		return store.Filter{}, false
	}
	op := pick(r, ops)
	f := store.Filter{Path: path(pick(r, rPaths)), Operator: op}
	seen, haveSeen := g.seen(f.Path)
	haveSeen = haveSeen && r.IntN(3) > 0
	switch op {
	case "eq", "ne":
		switch {
		case haveSeen:
			f.Value = seen
		case r.IntN(8) == 0:
			arr := []any{}
			for i := r.IntN(3); i > 0; i-- {
				arr = append(arr, pick(r, rTags))
			}
			f.Value = arr
		default:
			f.Value = g.value()
		}
	case "lt", "lte", "gt", "gte":
		f.Value = g.scalar()
		switch seen.(type) {
		case string, json.Number:
			if haveSeen {
				f.Value = seen
			}
		}
		if r.IntN(8) == 0 {
			f.Path, f.Value = path("keen.timestamp"), g.instant().Format(stamp)
		}
	case "exists":
		f.Value = r.IntN(2) == 0
	case "in":
		var vals []any
		for i := 1 + r.IntN(4); i > 0; i-- {
			if r.IntN(10) == 0 {
				vals = append(vals, []any{pick(r, rTags)})
				continue
			}
			if v, ok := g.seen(f.Path); ok && r.IntN(2) == 0 {
				if _, isArray := v.([]any); !isArray {
					vals = append(vals, v)
					continue
				}
			}
			vals = append(vals, g.value())
		}
		f.Value = vals
	case "contains", "not_contains":
		s := pick(r, append(append([]string{"an", "r", "e", "user1", "Fr"}, rTags...), rCountries...))
		if x, ok := seen.(string); ok && haveSeen && len(x) > 0 { // a part of a value
			rs := []rune(x)
			i := r.IntN(len(rs))
			s = string(rs[i : i+r.IntN(len(rs)-i+1)])
		}
		f.Value = s
	case "regex":
		f.Value = pick(r, rRegexes)
	case "within":
		p := pick(r, rPlaces)
		f.Value = store.Geo{Longitude: p[0] + (r.Float64()-0.5)*4, Latitude: p[1] + (r.Float64()-0.5)*4, MaxMiles: float64(r.IntN(300)) + r.Float64()}
		if r.IntN(5) > 0 {
			f.Path = path("keen.location.coordinates")
		}
	case "or":
		f.Path = nil
		for i := 2 + r.IntN(2); i > 0; i-- {
			if sub, ok := g.filter(depth + 1); ok {
				f.Or = append(f.Or, sub)
			}
		}
		if len(f.Or) == 0 {
			return store.Filter{}, false
		}
	}
	return f, true
}
