package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-io/sluice/internal/pipeline"
)

// pipelineIDFile keeps the pipeline's transactional id across restarts.
const pipelineIDFile = "pipeline-transactional-id"

// loadPipelineID returns this data dir's pipeline transactional id,
// generated on first start. Kept, it lets a restarted process abort the
// transaction its predecessor left open (say after SIGKILL) at once;
// distinct data dirs give the distinct ids that processes sharing one
// backend need.
func loadPipelineID(dataDir string) (string, error) {
	file := filepath.Join(dataDir, pipelineIDFile)
	b, err := os.ReadFile(file)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !strings.HasPrefix(id, pipeline.TransactionalIDPrefix) || len(id) == len(pipeline.TransactionalIDPrefix) {
			return "", fmt.Errorf("%s holds %q, not a pipeline transactional id (delete the file to get a new one)", file, id)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading the pipeline's transactional id: %w", err)
	}
	id := pipeline.NewTransactionalID()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the pipeline's transactional id: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return "", fmt.Errorf("writing the pipeline's transactional id: %w", err)
	}
	return id, nil
}
