package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/server"
)

// project runs `sluice project create`: a client of a running server's
// provisioning API, so it works against any sluice, local or not.
func project(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: sluice project create --name NAME [--server URL] [--data-dir DIR | --org-id ID --org-key KEY]")
		return exitUsage
	}
	fs := flag.NewFlagSet("sluice project create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the project's name (required)")
	srv := fs.String("server", envOr("SLUICE_SERVER", "http://localhost:8080"), "the sluice HTTP API")
	dataDir := fs.String("data-dir", envOr("SLUICE_DATA_DIR", "./data"), "where to read org.json when --org-id is not given")
	orgID := fs.String("org-id", envOr("SLUICE_ORG_ID", ""), "organization id")
	orgKey := fs.String("org-key", envOr("SLUICE_ORG_KEY", ""), "organization key")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if strings.TrimSpace(*name) == "" {
		fmt.Fprintln(stderr, "sluice project create: --name is required")
		return exitUsage
	}
	if *orgID == "" {
		org, err := server.ReadOrgFile(server.OrgFile(*dataDir))
		if err != nil {
			fmt.Fprintf(stderr, "sluice project create: no --org-id/--org-key and cannot read %s: %v\n", filepath.Join(*dataDir, "org.json"), err)
			return exitUsage
		}
		*orgID, *orgKey = org.ID, org.Key
	}
	body, _ := json.Marshal(map[string]string{"name": *name})
	req, err := http.NewRequest("POST", strings.TrimRight(*srv, "/")+"/3.0/organizations/"+*orgID+"/projects", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "sluice project create: --server: %v\n", err)
		return exitUsage
	}
	req.Header.Set("Authorization", *orgKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "sluice project create: %v\n", err)
		return exitError
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p struct {
		ID      string            `json:"id"`
		Name    string            `json:"name"`
		APIKeys map[string]string `json:"api_keys"`
		Message string            `json:"message"`
		Code    string            `json:"error_code"`
	}
	if err := json.Unmarshal(b, &p); err != nil || resp.StatusCode != http.StatusCreated {
		fmt.Fprintf(stderr, "sluice project create: server answered %s: %s %s\n", resp.Status, p.Code, p.Message)
		return exitError
	}
	fmt.Fprintf(stdout, "project    %s (%s)\nmaster key %s\nwrite key  %s\nread key   %s\n", p.ID, p.Name, p.APIKeys["master"], p.APIKeys["write"], p.APIKeys["read"])
	return 0
}

func envOr(k, def string) string {
	if v, ok := lookupEnv(k); ok {
		return v
	}
	return def
}
