// Package registrytest is the registry's behaviour suite, run against the
// embedded log in fast tests and against a real Apache Kafka broker in e2e.
package registrytest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/registry"
)

// Connect opens a backend on brokers, closed with the test.
func Connect(t testing.TB, brokers []string) *backend.Backend {
	t.Helper()
	b, err := backend.Connect(context.Background(), config.Backend{ConnectTimeout: 30 * time.Second}, brokers, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// Open opens a registry on b, closed with the test.
func Open(t testing.TB, b *backend.Backend) *registry.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := registry.Open(ctx, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// within polls cond until it holds or d passes, and returns how long it took.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// RoundTrip checks, on the cluster at brokers: projects, keys, access keys
// and stream settings survive a reopen; a second process sees a key created
// through the first, and its revocation and deletion, within 1 s; a
// malformed record in the topic is skipped.
func RoundTrip(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := Connect(t, brokers)
	r1 := Open(t, b)

	p, err := r1.CreateProject(ctx, "org-rt", "Staging")
	if err != nil {
		t.Fatal(err)
	}
	// Read-your-writes: visible the moment the call returns.
	if got, ok := r1.Project(p.ID); !ok || got.Name != "Staging" {
		t.Fatalf("project not visible after create: %+v %v", got, ok)
	}
	if c := r1.Match(p.ID, p.WriteKey); c.Kind != registry.KindWrite {
		t.Fatalf("write key does not authenticate: %v", c.Kind)
	}
	auto := registry.AccessKey{Name: "tenant-a", IsActive: true, Permitted: []string{registry.PermWrites},
		Options: registry.Options{Writes: &registry.WritesOptions{Autofill: map[string]any{"tenant": "a"}}}}
	ak, err := r1.CreateAccessKey(ctx, p.ID, auto)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.SetStreams(ctx, p.ID, registry.Streams{OutboundEnabled: true}); err != nil {
		t.Fatal(err)
	}

	// A malformed record from elsewhere is skipped; the registry keeps going.
	raw, err := kgo.NewClient(b.Opts(kgo.DefaultProduceTopic(registry.Topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.ProduceSync(ctx, &kgo.Record{Key: []byte("project/garbage"), Value: []byte("{not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A second process: everything so far is there once it has opened.
	r2 := Open(t, Connect(t, brokers))
	if got, ok := r2.Project(p.ID); !ok || got != p {
		t.Fatalf("second process sees project %+v %v, want %+v", got, ok, p)
	}
	if s, _ := r2.Streams(p.ID); !s.OutboundEnabled {
		t.Fatal("second process lost the stream settings")
	}
	if c := r2.Match(p.ID, ak.Key); c.Kind != registry.KindAccess || c.AccessKey.Options.Writes.Autofill["tenant"] != "a" {
		t.Fatalf("second process: access key %v", c)
	}

	// Live propagation between the two processes.
	k2, err := r1.CreateAccessKey(ctx, p.ID, registry.AccessKey{Name: "live", IsActive: true, Permitted: []string{registry.PermQueries}})
	if err != nil {
		t.Fatal(err)
	}
	took := within(t, time.Second, "new key reaching the second process", func() bool { return r2.Match(p.ID, k2.Key).Kind == registry.KindAccess })
	t.Logf("new key seen by the second process after %s", took)
	if _, err := r1.UpdateAccessKey(ctx, p.ID, k2.Key, func(k *registry.AccessKey) { k.IsActive = false }); err != nil {
		t.Fatal(err)
	}
	took = within(t, time.Second, "revocation reaching the second process", func() bool { return r2.Match(p.ID, k2.Key).Kind == registry.KindNone })
	t.Logf("revocation seen by the second process after %s", took)
	if _, err := r2.UpdateAccessKey(ctx, p.ID, k2.Key, func(k *registry.AccessKey) { k.IsActive = true }); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "unrevocation reaching the first process", func() bool { return r1.Match(p.ID, k2.Key).Kind == registry.KindAccess })
	if err := r1.DeleteAccessKey(ctx, p.ID, ak.Key); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "deletion reaching the second process", func() bool { return r2.Match(p.ID, ak.Key).Kind == registry.KindNone })
	var kept registry.AccessKey
	r2.Read(func(v *registry.View) { kept, _ = v.AccessKey(p.ID, ak.Key) })
	if !kept.Deleted || kept.Options.Writes == nil || kept.Options.Writes.Autofill["tenant"] != "a" {
		t.Fatalf("deleted key lost its autofill: %+v", kept)
	}
	if _, err := r1.UpdateAccessKey(ctx, p.ID, ak.Key, func(*registry.AccessKey) {}); err != registry.ErrNotFound {
		t.Fatalf("updating a deleted key: %v", err)
	}

	// Restart: a fresh process on the same backend rebuilds the same state.
	r3 := Open(t, Connect(t, brokers))
	var keys []registry.AccessKey
	r3.Read(func(v *registry.View) { keys = v.AccessKeys(p.ID) })
	if len(keys) != 1 || keys[0].Key != k2.Key || !keys[0].IsActive {
		t.Fatalf("after restart, keys = %+v", keys)
	}
	if got := r3.Match(p.ID, p.MasterKey); got.Kind != registry.KindMaster {
		t.Fatal("after restart, master key refused")
	}
}

// SavedQueries checks, on the cluster at brokers: a saved query, its
// cached result, a dataset and a schedule member written by one process are seen by
// another within 1 s; a replacement gets a new version, whose old result
// no longer counts; a deletion (a tombstone) reaches the other process and
// holds for a process opened afterwards; Sync catches a view up.
func SavedQueries(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r1 := Open(t, Connect(t, brokers))
	r2 := Open(t, Connect(t, brokers))
	p, err := r1.CreateProject(ctx, "org-sq", "Saved")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	sq, err := r1.PutSavedQuery(ctx, registry.SavedQuery{ProjectID: p.ID, Name: "daily", Query: []byte(`{"analysis_type":"count","event_collection":"c"}`),
		RefreshRate: 14400, Created: now, Modified: now})
	if err != nil {
		t.Fatal(err)
	}
	if sq.Version == "" {
		t.Fatal("a stored saved query has no version")
	}
	if _, err := r1.PutSavedQuery(ctx, registry.SavedQuery{ProjectID: "000000000000000000000000", Name: "x"}); err != registry.ErrNotFound {
		t.Fatalf("a saved query of an unknown project: %v", err)
	}
	if err := r1.PutSavedResult(ctx, registry.SavedResult{ProjectID: p.ID, Name: "daily", Version: sq.Version, RunAt: now, Body: []byte(`{"result":7}`), Status: 200, Holder: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := r1.Heartbeat(ctx, registry.Member{Group: "g", ID: "m1", Joined: now, Beat: now, Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := r1.PutDataset(ctx, registry.Dataset{ProjectID: p.ID, Name: "ds", DisplayName: "DS", Query: []byte(`{"analysis_type":"count"}`),
		IndexBy: []string{"user.id"}, Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}
	var ds registry.Dataset
	r1.Read(func(v *registry.View) { ds, _ = v.Dataset(p.ID, "ds") })
	if ds.Version == "" {
		t.Fatal("a stored dataset has no version")
	}
	kept := []registry.DatasetResult{
		{ProjectID: p.ID, Name: "ds", Version: ds.Version, Index: `["u/1"]`, Rows: []byte(`[[]]`)},
		{ProjectID: p.ID, Name: "ds", Version: ds.Version, Index: `["u2"]`, Rows: []byte(`[[]]`)},
	}
	if err := r1.KeepDatasetResults(ctx, p.ID, "ds", kept, nil); err != nil {
		t.Fatal(err)
	}
	// A batch returns once the writer's view holds all of it.
	if err := r1.KeepDatasetResults(ctx, p.ID, "ds", nil, []string{`["u2"]`}); err != nil {
		t.Fatal(err)
	}
	r1.Read(func(v *registry.View) {
		_, one := v.DatasetResult(p.ID, "ds", `["u/1"]`)
		_, two := v.DatasetResult(p.ID, "ds", `["u2"]`)
		if !one || two {
			t.Fatalf("kept results: %v %v, want the first only", one, two)
		}
	})
	if err := r1.PutDatasetRun(ctx, registry.DatasetRun{ProjectID: p.ID, Name: "ds", Version: ds.Version, RunAt: now, Status: 200, Indexes: 1}); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "saved query, result and member reaching the second process", func() bool {
		var ok bool
		r2.Read(func(v *registry.View) {
			got, found := v.SavedQuery(p.ID, "daily")
			res, hasRes := v.SavedResult(p.ID, "daily")
			ok = found && got.Version == sq.Version && got.RefreshRate == 14400 && hasRes && string(res.Body) == `{"result":7}` &&
				len(v.Members("g")) == 1 && len(v.CachedQueries()) > 0 && len(v.Datasets(p.ID)) == 1
			_, hasRun := v.DatasetRun(p.ID, "ds")
			_, hasKept := v.DatasetResult(p.ID, "ds", `["u/1"]`)
			ok = ok && hasRun && hasKept
		})
		return ok
	})
	// A replacement is a new version: the old result is not its result.
	sq2, err := r2.PutSavedQuery(ctx, registry.SavedQuery{ProjectID: p.ID, Name: "daily", Query: sq.Query, RefreshRate: 14400, Created: now, Modified: now})
	if err != nil {
		t.Fatal(err)
	}
	if sq2.Version == sq.Version {
		t.Fatal("a replacement kept the version")
	}
	if err := r1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	r1.Read(func(v *registry.View) {
		if _, ok := v.SavedResult(p.ID, "daily"); ok {
			t.Fatal("the old definition's result is served for the new one")
		}
	})
	// Deletion: a tombstone, seen by the other process and after a reopen.
	if err := r2.DeleteSavedQuery(ctx, p.ID, "daily"); err != nil {
		t.Fatal(err)
	}
	if err := r2.DeleteSavedQuery(ctx, p.ID, "daily"); err != registry.ErrNotFound {
		t.Fatalf("deleting twice: %v", err)
	}
	if err := r1.Leave(ctx, "g", "m1"); err != nil {
		t.Fatal(err)
	}
	if err := r1.DeleteDataset(ctx, p.ID, "ds"); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "deletion reaching the first process", func() bool {
		var gone bool
		r1.Read(func(v *registry.View) { _, found := v.SavedQuery(p.ID, "daily"); gone = !found })
		return gone
	})
	r3 := Open(t, Connect(t, brokers))
	r3.Read(func(v *registry.View) {
		if _, found := v.SavedQuery(p.ID, "daily"); found {
			t.Fatal("a process opened after the deletion sees the saved query")
		}
		if len(v.Members("g")) != 0 {
			t.Fatal("a process opened after the member left sees it")
		}
		if _, found := v.Dataset(p.ID, "ds"); found {
			t.Fatal("a process opened after the dataset's deletion sees it")
		}
		if n := len(v.DatasetResults(p.ID, "ds")); n != 0 {
			t.Fatalf("a process opened after the dataset's deletion sees %d of its results", n)
		}
		if _, ok := v.Project(p.ID); !ok {
			t.Fatal("the project is gone")
		}
	})
}
