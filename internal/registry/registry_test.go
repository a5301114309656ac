package registry_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/sluice-io/sluice/internal/embedded"
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
