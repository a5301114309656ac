package storetest_test

import (
	"testing"

	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// TestModel runs the suite against the Model itself: its fixed cases,
// whose answers are written by hand, check the Model (the random part
// compares the Model with itself, so it only checks that it runs).
func TestModel(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.NewModel() })
}
