package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestExplorerPageInBrowser: the Explorer page in a real browser. Headless
// Chromium (Debian's package), driven by playwright-core
// (e2e/browser/explorer.mjs), signs in to the Explorer page of a sluice on
// its embedded backend, records events over HTTP, builds a daily count
// grouped by platform and checks the series Chart.js holds against the
// events recorded; then bars for a group_by, a number for a filtered count, a
// table for an extraction, and the page's curl command run with curl. When
// the server serves Keen's saved queries (GET …/queries/saved answers a
// list) it saves the query, reloads and runs the saved query; otherwise it
// checks that saving shows the server's error, and the log says that the
// saved-query steps did not run. Screenshots are kept as test artifacts
// ($SLUICE_ARTIFACTS, else e2e/artifacts/). Any page error fails it.
// scripts/install-clients.sh installs chromium and playwright-core.
func TestExplorerPageInBrowser(t *testing.T) {
	browserDir, chromium, artifacts := browserDir(t), chromiumPath(t), artifactsDir(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the test runs the page's curl command: %v", err)
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "explorer-*.png"))
	for _, s := range shots {
		_ = os.Remove(s)
	}

	const orgID, orgKey = "0123456789abcdef01234567", "browser-org-key-0123456789"
	dir := t.TempDir()
	p := startSluice(t, dir, append([]string{"serve", "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "Explorer")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "explorer.mjs")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(),
		"SLUICE_URL="+p.HTTP, "PROJECT_ID="+proj.ID, "MASTER_KEY="+proj.APIKeys["master"],
		"WRITE_KEY="+proj.APIKeys["write"], "READ_KEY="+proj.APIKeys["read"], "ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("browser script:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v\nsluice stderr:\n%s", err, p.stderr)
	}
	want := []string{"explorer-daily-by-platform.png", "explorer-by-platform.png", "explorer-extraction.png"}
	if code, _ := httpDo(t, "GET", p.HTTP+"/3.0/projects/"+proj.ID+"/queries/saved", proj.APIKeys["master"], ""); code == 200 {
		want = append(want, "explorer-saved-query.png")
	} else {
		t.Logf("saved queries are not served (GET …/queries/saved answered %d): saving, reloading and running a saved query were not tested", code)
	}
	for _, name := range want {
		shot := filepath.Join(artifacts, name)
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			t.Fatalf("no screenshot at %s: %v", shot, err)
		}
		t.Logf("screenshot: %s", shot)
	}
}
