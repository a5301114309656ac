package registry_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
)

func TestRoundTripEmbedded(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	registrytest.RoundTrip(t, log.Addrs())
}

func TestSavedQueriesEmbedded(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	registrytest.SavedQueries(t, log.Addrs())
}

// TestHooksOnAccessChangesOnly: OnChange's hooks (the gateway's
// revalidation of live connections, the pipeline's reconcile) run for
// projects, access keys and stream settings, not for saved queries, which
// (with the schedule's heartbeats) change every few seconds.
func TestHooksOnAccessChangesOnly(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	r := registrytest.Open(t, registrytest.Connect(t, log.Addrs()))
	var calls atomic.Int64
	r.OnChange(func() { calls.Add(1) })
	ctx := context.Background()
	p, err := r.CreateProject(ctx, "org-hooks", "Hooks")
	if err != nil {
		t.Fatal(err)
	}
	afterProject := calls.Load()
	if afterProject == 0 {
		t.Fatal("creating a project ran no hook")
	}
	now := time.Now()
	if _, err := r.PutSavedQuery(ctx, registry.SavedQuery{ProjectID: p.ID, Name: "daily",
		Query: []byte(`{"analysis_type":"count","event_collection":"c"}`), Created: now, Modified: now}); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != afterProject {
		t.Errorf("saving a query ran %d hooks, want none", n-afterProject)
	}
	if _, err := r.CreateAccessKey(ctx, p.ID, registry.AccessKey{Name: "k", IsActive: true, Permitted: []string{"writes"}}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == afterProject {
		t.Error("creating an access key ran no hook")
	}
}
