package registry

import (
	"encoding/json"
	"testing"
)

// TestViewDatasetResults: a dataset's run and per-index-value results fold
// into the view, are served only for the definition's current version,
// and go with the dataset.
func TestViewDatasetResults(t *testing.T) {
	v := NewView()
	p := newTestProject("P")
	put := func(key string, r record) {
		t.Helper()
		if err := v.Apply([]byte(key), encodeRecord(r)); err != nil {
			t.Fatal(err)
		}
	}
	put(projectRecordKey(p.ID), record{Kind: kindProject, Project: &p})
	// Results of a dataset the view does not hold (deleted since) are
	// dropped.
	stray := DatasetResult{ProjectID: p.ID, Name: "d", Version: "v0", Index: `["a"]`, Rows: json.RawMessage(`[]`)}
	put(datasetResultRecordKey(p.ID, "d", stray.Index), record{Kind: kindDatasetResult, DatasetResult: &stray})
	if n := len(v.DatasetResults(p.ID, "d")); n != 0 {
		t.Fatalf("%d stray results kept", n)
	}

	d := Dataset{ProjectID: p.ID, Name: "d", Version: "v1"}
	put(datasetRecordKey(p.ID, "d"), record{Kind: kindDataset, Dataset: &d})
	run := DatasetRun{ProjectID: p.ID, Name: "d", Version: "v1", Status: 200}
	put(datasetRunRecordKey(p.ID, "d"), record{Kind: kindDatasetRun, DatasetRun: &run})
	for _, index := range []string{`["a"]`, `["a/b"]`} {
		res := DatasetResult{ProjectID: p.ID, Name: "d", Version: "v1", Index: index, Rows: json.RawMessage(`[[]]`)}
		put(datasetResultRecordKey(p.ID, "d", index), record{Kind: kindDatasetResult, DatasetResult: &res})
	}
	if _, ok := v.DatasetRun(p.ID, "d"); !ok {
		t.Fatal("no run")
	}
	if _, ok := v.DatasetResult(p.ID, "d", `["a/b"]`); !ok {
		t.Fatal("no result for an index value holding '/'")
	}
	// A result's key must name it.
	bad := DatasetResult{ProjectID: p.ID, Name: "d", Version: "v1", Index: `["x"]`}
	if err := v.Apply([]byte(datasetResultRecordKey(p.ID, "d", `["y"]`)), encodeRecord(record{Kind: kindDatasetResult, DatasetResult: &bad})); err == nil {
		t.Fatal("a result under another index value's key was folded")
	}

	// A tombstone removes one index value's results.
	v.remove([]byte(datasetResultRecordKey(p.ID, "d", `["a/b"]`)))
	if _, ok := v.DatasetResult(p.ID, "d", `["a/b"]`); ok {
		t.Fatal("a removed result is served")
	}

	// A new definition: the old version's run and results are not served,
	// but are still listed for the next computation to replace.
	d.Version = "v2"
	put(datasetRecordKey(p.ID, "d"), record{Kind: kindDataset, Dataset: &d})
	if _, ok := v.DatasetRun(p.ID, "d"); ok {
		t.Fatal("a run of an older version is served")
	}
	if _, ok := v.DatasetResult(p.ID, "d", `["a"]`); ok {
		t.Fatal("a result of an older version is served")
	}
	if n := len(v.DatasetResults(p.ID, "d")); n != 1 {
		t.Fatalf("%d results listed for replacement, want 1", n)
	}

	// Deleting the dataset deletes what it kept.
	v.remove([]byte(datasetRecordKey(p.ID, "d")))
	put(datasetRecordKey(p.ID, "d"), record{Kind: kindDataset, Dataset: &d})
	if n := len(v.DatasetResults(p.ID, "d")); n != 0 {
		t.Fatalf("a re-created dataset holds %d results of the deleted one", n)
	}
	if len(v.AllDatasets()) != 1 {
		t.Fatalf("datasets %+v", v.AllDatasets())
	}
}
