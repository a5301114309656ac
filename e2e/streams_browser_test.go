package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestStreamsPageInBrowser: the seed's step 1 in a real browser. Headless
// Chromium (Debian's package), driven by playwright-core
// (e2e/browser/streams.mjs), signs in to the Streams page of a sluice on
// its embedded backend, enables Kafka Outbound, sees an event posted over
// HTTP to "$my collection$ %" listed under the outbound topic
// "_my_collection___", and saves a screenshot as a test artifact
// ($SLUICE_ARTIFACTS, else e2e/artifacts/). Any page error fails it.
// scripts/install-clients.sh installs chromium and playwright-core.
func TestStreamsPageInBrowser(t *testing.T) {
	browserDir, chromium := browserDir(t), chromiumPath(t)
	shot := filepath.Join(artifactsDir(t), "streams-page.png")
	_ = os.Remove(shot)

	const orgID, orgKey = "0123456789abcdef01234567", "browser-org-key-0123456789"
	dir := t.TempDir()
	p := startSluice(t, dir, append([]string{"serve", "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "Browser")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "streams.mjs")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(),
		"SLUICE_URL="+p.HTTP, "PROJECT_ID="+proj.ID, "MASTER_KEY="+proj.APIKeys["master"],
		"WRITE_KEY="+proj.APIKeys["write"], "SCREENSHOT="+shot, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("browser script:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v\nsluice stderr:\n%s", err, p.stderr)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}

// browserDir is e2e/browser, where playwright-core is installed.
func browserDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in %s: run scripts/install-clients.sh (%v)", dir, err)
	}
	return dir
}

// chromiumPath is the Chromium the browser tests drive ($CHROMIUM, else
// Debian's).
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no Chromium at %s: run scripts/install-clients.sh or set CHROMIUM (%v)", chromium, err)
	}
	return chromium
}

// artifactsDir is where tests leave screenshots ($SLUICE_ARTIFACTS, else
// e2e/artifacts).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
