package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPipelineIDIsKeptInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := loadPipelineID(dir)
	if err != nil || !strings.HasPrefix(first, "sluice.pipeline.") {
		t.Fatalf("first start: %q %v", first, err)
	}
	again, err := loadPipelineID(dir)
	if err != nil || again != first {
		t.Fatalf("restart: %q %v, want %q", again, err, first)
	}
	if other, _ := loadPipelineID(t.TempDir()); other == first {
		t.Fatalf("two data dirs share the id %q", first)
	}
	if err := os.WriteFile(filepath.Join(dir, pipelineIDFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPipelineID(dir); err == nil || !strings.Contains(err.Error(), "not a pipeline transactional id") {
		t.Fatalf("malformed file: %v", err)
	}
}
