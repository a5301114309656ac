package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStreamsPageServed(t *testing.T) {
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
	resp, body := get("/projects/" + pid + "/streams")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`content="` + pid + `"`, `content="/etc/sluice/ca.pem"`, `<label for="master-key">`, `src="/web/streams.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	// Nothing is loaded from another origin.
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(body, bad) {
			t.Errorf("page refers to %s", bad)
		}
	}
	for path, ctype := range map[string]string{"/web/streams.js": "text/javascript", "/web/streams.css": "text/css", "/web/favicon.svg": "image/svg+xml"} {
		if resp, body := get(path); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/projects/not-a-project/streams", "/projects/0123456789ABCDEF01234567/streams", "/web/streams.html", "/web/pages/streams.html", "/web/"} {
		if resp, _ := get(path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}
