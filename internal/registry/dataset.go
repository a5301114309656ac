package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Dataset is a Keen cached dataset's definition: a query with an interval,
// indexed by the values of IndexBy (see package dataset).
type Dataset struct {
	ProjectID   string          `json:"project_id"`
	Name        string          `json:"name"`
	DisplayName string          `json:"display_name"`
	Query       json.RawMessage `json:"query"`
	IndexBy     []string        `json:"index_by"`
	Created     time.Time       `json:"created"`
	Modified    time.Time       `json:"modified"`
}

const kindDataset = "dataset"

func datasetRecordKey(pid, name string) string { return "dataset/" + pid + "/" + name }

func (v *View) applyDataset(key []byte, d *Dataset) error {
	if d == nil || d.Name == "" || string(key) != datasetRecordKey(d.ProjectID, d.Name) {
		return fmt.Errorf("registry record %q: malformed dataset", key)
	}
	st, ok := v.projects[d.ProjectID]
	if !ok {
		return fmt.Errorf("registry record %q: dataset of unknown project", key)
	}
	st.datasets[d.Name] = *d
	return nil
}

// Dataset returns one of a project's datasets.
func (v *View) Dataset(pid, name string) (Dataset, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return Dataset{}, false
	}
	d, ok := st.datasets[name]
	return d, ok
}

// Datasets lists a project's datasets by name.
func (v *View) Datasets(pid string) []Dataset {
	st, ok := v.projects[pid]
	if !ok {
		return nil
	}
	out := make([]Dataset, 0, len(st.datasets))
	for _, d := range st.datasets {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PutDataset creates or replaces a dataset of an existing project.
func (r *Registry) PutDataset(ctx context.Context, d Dataset) error {
	if _, ok := r.Project(d.ProjectID); !ok {
		return ErrNotFound
	}
	return r.put(ctx, datasetRecordKey(d.ProjectID, d.Name), record{Kind: kindDataset, Dataset: &d})
}

// DeleteDataset removes a dataset.
func (r *Registry) DeleteDataset(ctx context.Context, pid, name string) error {
	var found bool
	r.Read(func(v *View) { _, found = v.Dataset(pid, name) })
	if !found {
		return ErrNotFound
	}
	return r.putTombstone(ctx, datasetRecordKey(pid, name))
}
