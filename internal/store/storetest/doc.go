// Package storetest is the conformance suite every store engine must pass,
// and Model, the independent in-memory store.Store it checks engines
// against.
//
// Model evaluates queries directly over the decoded event JSON, as
// internal/store/query.go defines each analysis and filter (no SQL, nothing
// shared with an engine). It is also a fast store for other packages'
// tests: a query over 10,000 events takes milliseconds to tens of
// milliseconds. Its doc comment lists the choices it makes where query.go
// is silent.
//
// # Running the suite
//
// An engine's test calls Run with a function that opens a new, empty store
// (closing it with t.Cleanup):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			st, err := myengine.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// An engine that serves only part of the contract lists what it serves with
// RunOptions and Options.Families (see Families); the suite logs the
// families it leaves out, and runs no case that needs one of them.
//
// The suite has fixed cases, whose answers are written out by hand
// (Analyses/<analysis>/…, Filters/<family>/<operator>/…, GroupBy/…,
// Buckets/…, Extraction/…, Insert, Schema, Delete/…), and a model-based
// part, Random: seeded random events (three collections and two projects,
// mixed types at the same paths, nested objects, arrays of strings and of
// other values, keen.location.coordinates, uniqueness tokens, events sent
// again) inserted in random batches into the store and into a Model, then,
// per analysis family (Random/count, Random/count_unique, …), random
// queries — optional group_by on zero to two paths, optional interval
// buckets in named time zones, random timeframes and filters, or included
// — whose answers must equal the Model's: counts and group keys exactly,
// float results within Tolerance (relative), rows compared as sets keyed
// by (bucket, group), select_unique values as sets, extractions byte for
// byte and in order. Then Random/schema compares the Schema of the random
// projects with the Model's, and Random/delete (last: it changes the
// events) makes random deletions — events by random timeframe and filters,
// properties, a whole collection — comparing what each removed, and counts
// after it.
//
// # Reproducing a failure
//
// The random part logs its seed, and every mismatch prints the seed, the
// query (as JSON) and the command that runs that family again. These
// environment variables size and seed it:
//
//	STORETEST_SEED     the seed (default 1, so that runs repeat; "random":
//	                   a new one at each run, to explore)
//	STORETEST_QUERIES  random queries per analysis family (default 150)
//	STORETEST_EVENTS   random events (default 3000)
//
// For example, to run only the random count_unique queries again:
//
//	STORETEST_SEED=42 go test -run 'TestDuckDB/Random/count_unique' ./internal/store/storetest/
package storetest
