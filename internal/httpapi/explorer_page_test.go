package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestExplorerPageServed(t *testing.T) {
	f := newFixture(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const pid = "0123456789abcdef01234567"
	resp, body := get("/projects/" + pid + "/explorer")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`content="` + pid + `"`, `<label for="master-key">`, `src="/web/explorer.js"`,
		`src="/web/vendor/chart.umd.min.js"`, `<label for="collection">`, `<label for="group-by">`, `href="/projects/` + pid + `/streams"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(body, bad) {
			t.Errorf("page refers to %s", bad)
		}
	}
	// The vendored Chart.js is served as it is in the repository.
	vendored, err := os.ReadFile("web/vendor/chart.umd.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get("/web/vendor/chart.umd.min.js"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || body != string(vendored) {
		t.Errorf("chart.umd.min.js: %d %s, %d bytes (want %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(vendored))
	}
	for path, ctype := range map[string]string{"/web/explorer.js": "text/javascript", "/web/explorer.css": "text/css", "/web/vendor/chart.js.LICENSE.md": "text/"} {
		if resp, body := get(path); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/projects/not-a-project/explorer", "/projects/0123456789ABCDEF01234567/explorer", "/web/pages/explorer.html", "/web/vendor/", "/web/vendor/missing.js"} {
		if resp, _ := get(path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestVendoredChartJS: the embedded Chart.js is the bundle
// scripts/vendor-chart.sh wrote (its SHA-256 is in VERSION.chart.js), with
// its license beside it.
func TestVendoredChartJS(t *testing.T) {
	bundle, err := os.ReadFile("web/vendor/chart.umd.min.js")
	if err != nil {
		t.Fatal(err)
	}
	version, err := os.ReadFile("web/vendor/VERSION.chart.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bundle)
	if want := "chart.umd.min.js sha256 " + hex.EncodeToString(sum[:]) + "\n"; !strings.Contains(string(version), want) {
		t.Errorf("web/vendor/chart.umd.min.js is not the bundle VERSION.chart.js names (it has sha256 %x): run scripts/vendor-chart.sh\n%s", sum, version)
	}
	license, err := os.ReadFile("web/vendor/chart.js.LICENSE.md")
	if err != nil || !strings.Contains(string(license), "MIT License") {
		t.Errorf("chart.js.LICENSE.md: %v %.80q", err, license)
	}
}
