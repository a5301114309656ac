package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
	// Version is new at every write (PutDataset sets it): kept results are
	// of one version of the definition.
	Version string `json:"version"`
}

// DatasetRun is the last computation of a dataset's results, kept beside
// them: when it ran, over which intervals, and whether it succeeded. It
// belongs to the definition whose Version it carries.
type DatasetRun struct {
	ProjectID string    `json:"project_id"`
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	RunAt     time.Time `json:"run_at"`
	// Status is the HTTP status the computation would have answered (200
	// when it succeeded) and Message its error text.
	Status  int    `json:"status"`
	Message string `json:"message,omitempty"`
	// Buckets bound the intervals computed (n+1 instants for n): the
	// dataset's timeframe at RunAt.
	Buckets []time.Time `json:"buckets,omitempty"`
	// Indexes is how many index values have results.
	Indexes int `json:"indexes"`
	// Holder is the scheduler member that computed it.
	Holder string `json:"holder"`
}

// DatasetResult is a dataset's kept results for one index value: the
// store rows of the whole timeframe its run computed (package dataset
// encodes them), from which any of its intervals is answered.
type DatasetResult struct {
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// Index is the index value's key (package dataset: the JSON array of
	// the values of the index_by properties, in their order).
	Index string          `json:"index"`
	Rows  json.RawMessage `json:"rows"`
}

const (
	kindDataset       = "dataset"
	kindDatasetRun    = "dataset_run"
	kindDatasetResult = "dataset_result"
)

func datasetRecordKey(pid, name string) string { return "dataset/" + pid + "/" + name }
func datasetRunRecordKey(pid, name string) string {
	return "dataset_run/" + pid + "/" + name
}

// A dataset name holds no '/' (package saved's ValidName), so the index
// key after it is found again by splitting at the first '/'.
func datasetResultRecordKey(pid, name, index string) string {
	return "dataset_result/" + pid + "/" + name + "/" + index
}

// datasetState is what the view holds of one dataset.
type datasetState struct {
	def     Dataset
	run     *DatasetRun
	results map[string]DatasetResult // by index key, of any version
}

func (v *View) applyDataset(key []byte, r record) error {
	pid, name, ok := "", "", false
	switch r.Kind {
	case kindDataset:
		d := r.Dataset
		ok = d != nil && d.Name != "" && string(key) == datasetRecordKey(d.ProjectID, d.Name)
		if ok {
			pid, name = d.ProjectID, d.Name
		}
	case kindDatasetRun:
		run := r.DatasetRun
		ok = run != nil && string(key) == datasetRunRecordKey(run.ProjectID, run.Name)
		if ok {
			pid, name = run.ProjectID, run.Name
		}
	case kindDatasetResult:
		res := r.DatasetResult
		ok = res != nil && string(key) == datasetResultRecordKey(res.ProjectID, res.Name, res.Index)
		if ok {
			pid, name = res.ProjectID, res.Name
		}
	}
	if !ok {
		return fmt.Errorf("registry record %q: malformed %s", key, r.Kind)
	}
	st, found := v.projects[pid]
	if !found {
		return fmt.Errorf("registry record %q: %s of unknown project", key, r.Kind)
	}
	ds := st.datasets[name]
	if ds == nil {
		if r.Kind != kindDataset {
			return nil // of a dataset deleted since: nothing serves it
		}
		ds = &datasetState{results: map[string]DatasetResult{}}
		st.datasets[name] = ds
	}
	switch r.Kind {
	case kindDataset:
		ds.def = *r.Dataset
	case kindDatasetRun:
		run := *r.DatasetRun
		ds.run = &run
	case kindDatasetResult:
		ds.results[r.DatasetResult.Index] = *r.DatasetResult
	}
	return nil
}

// removeDataset folds the tombstone of a dataset record (rest is the key
// after its kind: "pid/name", or "pid/name/index" for a result).
func (v *View) removeDataset(kind, rest string) {
	pid, name, _ := strings.Cut(rest, "/")
	st, ok := v.projects[pid]
	if !ok {
		return
	}
	switch kind {
	case kindDataset:
		delete(st.datasets, name)
	case kindDatasetRun:
		if ds := st.datasets[name]; ds != nil {
			ds.run = nil
		}
	case kindDatasetResult:
		name, index, _ := strings.Cut(name, "/")
		if ds := st.datasets[name]; ds != nil {
			delete(ds.results, index)
		}
	}
}

// Dataset returns one of a project's datasets.
func (v *View) Dataset(pid, name string) (Dataset, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return Dataset{}, false
	}
	ds, ok := st.datasets[name]
	if !ok {
		return Dataset{}, false
	}
	return ds.def, true
}

// Datasets lists a project's datasets by name.
func (v *View) Datasets(pid string) []Dataset {
	st, ok := v.projects[pid]
	if !ok {
		return nil
	}
	out := make([]Dataset, 0, len(st.datasets))
	for _, ds := range st.datasets {
		out = append(out, ds.def)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AllDatasets lists every project's datasets, by project and name.
func (v *View) AllDatasets() []Dataset {
	var out []Dataset
	for _, st := range v.projects {
		for _, ds := range st.datasets {
			out = append(out, ds.def)
		}
	}
	slices.SortFunc(out, func(a, b Dataset) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// DatasetRun returns the last computation of a dataset's current
// definition.
func (v *View) DatasetRun(pid, name string) (DatasetRun, bool) {
	ds := v.dataset(pid, name)
	if ds == nil || ds.run == nil || ds.run.Version != ds.def.Version {
		return DatasetRun{}, false
	}
	return *ds.run, true
}

// DatasetResult returns the kept results of one index value of a
// dataset's current definition.
func (v *View) DatasetResult(pid, name, index string) (DatasetResult, bool) {
	ds := v.dataset(pid, name)
	if ds == nil {
		return DatasetResult{}, false
	}
	res, ok := ds.results[index]
	if !ok || res.Version != ds.def.Version {
		return DatasetResult{}, false
	}
	return res, true
}

// DatasetResults returns every kept result of a dataset, of any version,
// by index key: what a new computation replaces.
func (v *View) DatasetResults(pid, name string) map[string]DatasetResult {
	out := map[string]DatasetResult{}
	if ds := v.dataset(pid, name); ds != nil {
		for k, res := range ds.results {
			out[k] = res
		}
	}
	return out
}

func (v *View) dataset(pid, name string) *datasetState {
	st, ok := v.projects[pid]
	if !ok {
		return nil
	}
	return st.datasets[name]
}

// PutDataset creates or replaces a dataset of an existing project, as a
// new version.
func (r *Registry) PutDataset(ctx context.Context, d Dataset) error {
	if _, ok := r.Project(d.ProjectID); !ok {
		return ErrNotFound
	}
	d.Version = randomHex(8)
	return r.put(ctx, datasetRecordKey(d.ProjectID, d.Name), record{Kind: kindDataset, Dataset: &d})
}

// DeleteDataset removes a dataset with its kept results.
func (r *Registry) DeleteDataset(ctx context.Context, pid, name string) error {
	var found bool
	var indexes []string
	r.Read(func(v *View) {
		_, found = v.Dataset(pid, name)
		for k := range v.DatasetResults(pid, name) {
			indexes = append(indexes, k)
		}
	})
	if !found {
		return ErrNotFound
	}
	// The definition goes first, so that nothing serves results while the
	// rest are removed.
	if err := r.putTombstone(ctx, datasetRecordKey(pid, name)); err != nil {
		return err
	}
	recs := []*kgo.Record{{Key: []byte(datasetRunRecordKey(pid, name))}}
	for _, k := range indexes {
		recs = append(recs, &kgo.Record{Key: []byte(datasetResultRecordKey(pid, name, k))})
	}
	return r.putRecords(ctx, recs)
}

// PutDatasetRun stores a dataset's latest computation.
func (r *Registry) PutDatasetRun(ctx context.Context, run DatasetRun) error {
	return r.put(ctx, datasetRunRecordKey(run.ProjectID, run.Name), record{Kind: kindDatasetRun, DatasetRun: &run})
}

// KeepDatasetResults stores the results of index values of dataset name
// (put) and removes those of others (drop, index keys), in one batch, and
// returns once the local view holds them all.
func (r *Registry) KeepDatasetResults(ctx context.Context, pid, name string, put []DatasetResult, drop []string) error {
	recs := make([]*kgo.Record, 0, len(put)+len(drop))
	for i := range put {
		res := &put[i]
		if res.ProjectID != pid || res.Name != name {
			return fmt.Errorf("keeping results of dataset %s/%s: a result of %s/%s", pid, name, res.ProjectID, res.Name)
		}
		recs = append(recs, &kgo.Record{Key: []byte(datasetResultRecordKey(pid, name, res.Index)), Value: encodeRecord(record{Kind: kindDatasetResult, DatasetResult: res})})
	}
	for _, k := range drop {
		recs = append(recs, &kgo.Record{Key: []byte(datasetResultRecordKey(pid, name, k))})
	}
	return r.putRecords(ctx, recs)
}

// putRecords writes records (a nil Value deletes) and returns once the
// local view holds the last of them: one round trip for many.
func (r *Registry) putRecords(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	res := r.producer.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("writing %d registry records: %w", len(recs), err)
	}
	last := int64(-1)
	for _, pr := range res {
		last = max(last, pr.Record.Offset)
	}
	return r.waitApplied(ctx, last)
}

// The operations an access key's datasets options may name (Keen's): read
// a definition, list definitions, retrieve results.
const (
	DatasetRead     = "read"
	DatasetList     = "list"
	DatasetRetrieve = "retrieve"
)

// DatasetOperations lists them in Keen's order.
var DatasetOperations = []string{DatasetRead, DatasetList, DatasetRetrieve}

// DatasetRules are an access key's datasets options. Operations, when
// given, are the only operations the key may do; Allowed, when given, the
// only datasets it may use, each optionally pinning the index values whose
// results it may retrieve; Blocked the datasets it may not use.
type DatasetRules struct {
	Operations []string                  `json:"operations,omitempty"`
	Allowed    map[string]AllowedDataset `json:"allowed,omitempty"`
	Blocked    []string                  `json:"blocked,omitempty"`
}

// AllowedDataset is one dataset of DatasetRules.Allowed. IndexBy, when
// given, maps index_by properties to the only values whose results the key
// may retrieve ({"customer.id": ["93iskds39kd93id"]}).
type AllowedDataset struct {
	IndexBy map[string][]any `json:"index_by,omitempty"`
}

// Permits reports whether the rules let the key do operation op on the
// dataset name (for retrieve, before index values are checked).
func (r DatasetRules) Permits(op, name string) bool {
	if r.Operations != nil && !slices.Contains(r.Operations, op) {
		return false
	}
	if r.Allowed != nil {
		if _, ok := r.Allowed[name]; !ok {
			return false
		}
	}
	return !slices.Contains(r.Blocked, name)
}

// Pinned returns the index values the rules pin for dataset name
// (property → allowed values; nil: none pinned).
func (r DatasetRules) Pinned(name string) map[string][]any {
	return r.Allowed[name].IndexBy
}

// DatasetRules are the key's datasets options (none when unset).
func (o Options) DatasetRules() DatasetRules {
	r, _ := parseDatasetRules(o.Datasets) // validated when the key was stored
	return r
}

// parseDatasetRules validates an access key's datasets option.
func parseDatasetRules(raw json.RawMessage) (DatasetRules, error) {
	var r DatasetRules
	if isNull(raw) {
		return r, nil
	}
	if err := strictUnmarshal(raw, &r); err != nil {
		return r, invalid("\"options.datasets\" must be an object with \"operations\" (a list of %s), \"allowed\" (an object of dataset names) and \"blocked\" (a list of dataset names): %s",
			strings.Join(DatasetOperations, ", "), jsonProblem(err))
	}
	if r.Operations != nil && len(r.Operations) == 0 {
		return r, invalid("\"options.datasets.operations\" lists no operation; leave it out to permit all of %s", strings.Join(DatasetOperations, ", "))
	}
	for _, op := range r.Operations {
		if !slices.Contains(DatasetOperations, op) {
			return r, invalid("\"options.datasets.operations\" holds %q; allowed values are %s", op, strings.Join(DatasetOperations, ", "))
		}
	}
	for _, name := range r.Blocked {
		if strings.TrimSpace(name) == "" {
			return r, invalid("\"options.datasets.blocked\" lists an empty dataset name")
		}
	}
	for name, a := range r.Allowed {
		if strings.TrimSpace(name) == "" {
			return r, invalid("\"options.datasets.allowed\" names an empty dataset name")
		}
		for prop, vals := range a.IndexBy {
			if strings.TrimSpace(prop) == "" {
				return r, invalid("\"options.datasets.allowed.%s.index_by\" names an empty property", name)
			}
			if len(vals) == 0 {
				return r, invalid("\"options.datasets.allowed.%s.index_by.%s\" lists no value; list the values whose results the key may retrieve", name, prop)
			}
			for _, v := range vals {
				switch v.(type) {
				case string, float64, bool:
				default:
					return r, invalid("\"options.datasets.allowed.%s.index_by.%s\" holds %v; index values are strings, numbers or booleans", name, prop, v)
				}
			}
		}
	}
	return r, nil
}
