package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/registry"
)

// Org is the organization whose key provisions projects.
type Org struct {
	ID  string `json:"org_id"`
	Key string `json:"org_key"`
}

// OrgFile is where generated organization credentials are kept.
func OrgFile(dataDir string) string { return filepath.Join(dataDir, "org.json") }

// loadOrg returns the configured credentials, or the ones generated into
// <data-dir>/org.json on first start. generated reports the latter.
func loadOrg(cfg config.Serve) (org Org, generated bool, err error) {
	if cfg.OrgID != "" {
		return Org{ID: cfg.OrgID, Key: cfg.OrgKey}, false, nil
	}
	file := OrgFile(cfg.DataDir)
	org, err = ReadOrgFile(file)
	if err == nil {
		return org, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return org, false, err
	}
	org = Org{ID: registry.NewProjectID(), Key: registry.NewKey()}
	b, _ := json.MarshalIndent(org, "", "  ")
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		return org, false, fmt.Errorf("writing %s: %w", file, err)
	}
	return org, true, nil
}

// ReadOrgFile reads credentials written by loadOrg (the CLI uses it too).
func ReadOrgFile(file string) (Org, error) {
	var org Org
	b, err := os.ReadFile(file)
	if err != nil {
		return org, err
	}
	if err := json.Unmarshal(b, &org); err != nil || org.ID == "" || org.Key == "" {
		return org, fmt.Errorf("%s is not a valid organization file (want {\"org_id\": ..., \"org_key\": ...})", file)
	}
	return org, nil
}
