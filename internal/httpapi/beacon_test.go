package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/gif"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// get sends a GET (or another method without a body) that does not follow
// redirects, and returns the response with its body read.
func (f *fixture) get(method, path string, header map[string]string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func beaconPath(pid, collection, key, event string, extra ...string) string {
	q := "?api_key=" + key + "&data=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(event)))
	for _, e := range extra {
		q += "&" + e
	}
	return eventsPath(pid, collection) + q
}

// TestBeacon: the image beacon records the event exactly as a POST of it
// (placeholders, access keys' raw topics) and answers a 1×1 GIF, or a
// redirect; every SDK's encoding of data is read.
func TestBeacon(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	write := p.APIKeys["write"]
	var autofillKey registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", p.APIKeys["master"],
		`{"name":"t","permitted":["writes"],"options":{"writes":{"autofill":{"tenant":"t1"}}}}`, &autofillKey)
	ua := map[string]string{"User-Agent": "Mozilla/5.0 (beacon test)"}
	const event = `{"page":"/home","ip":"${keen.ip}","ua":"${keen.user_agent}","n":"é?>>"}`

	resp, body := f.get("GET", beaconPath(p.ID, "pageviews", write, event), ua)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("beacon: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	img, err := gif.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("beacon answer is not a 1×1 GIF: %v", err)
	}
	// The same event POSTed, for comparison.
	if st, answer := f.post(eventsPath(p.ID, "posted"), write, event, ua); st != 201 {
		t.Fatalf("POST: %d %s", st, answer)
	}

	std := base64.StdEncoding.EncodeToString([]byte(`{"sdk":"any"}`))
	encodings := map[string]string{
		"keen-gem (URL-safe base64)":            base64.URLEncoding.EncodeToString([]byte(`{"sdk":"ruby"}`)),
		"Python (standard base64, + unescaped)": base64.StdEncoding.EncodeToString([]byte(`{"sdk":"python?>>"}`)),
		"unpadded":                              strings.TrimRight(std, "="),
	}
	for name, data := range encodings {
		// Not escaped: as the SDKs build the URL.
		resp, body := f.get("GET", eventsPath(p.ID, "sdks")+"?api_key="+write+"&data="+data, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// keen-tracking.js: data escaped, cache busters, the key in the header works too.
	kt := eventsPath(p.ID, "sdks") + "?data=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(`{"sdk":"js"}`))) + "&modified=1733500000000&c=clv1"
	if resp, body := f.get("GET", kt, map[string]string{"Authorization": write}); resp.StatusCode != 200 {
		t.Errorf("keen-tracking.js: %d %s", resp.StatusCode, body)
	}
	// An access key with autofill writes to its own raw topics, as on POST.
	if resp, body := f.get("GET", beaconPath(p.ID, "sdks", autofillKey.Key, `{"sdk":"autofill"}`), nil); resp.StatusCode != 200 {
		t.Errorf("autofill key: %d %s", resp.StatusCode, body)
	}
	// redirect: recorded, then 302 to the URL.
	target := "https://example.com/landing?from=email&x=1"
	resp, body = f.get("GET", beaconPath(p.ID, "clicks", write, `{"link":"landing"}`, "redirect="+url.QueryEscape(target)), nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target {
		t.Fatalf("redirect: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	var got []string
	var beaconed, posted string
	for _, r := range f.rawRecords(p.ID) {
		got = append(got, r.raw.Collection+" "+r.raw.KeyID+" "+r.value)
		switch r.raw.Collection {
		case "pageviews":
			beaconed = r.value
		case "posted":
			posted = r.value
		}
	}
	sort.Strings(got)
	want := []string{
		`clicks  {"link":"landing"}`,
		"pageviews  " + posted,
		`posted  ` + posted,
		`sdks  {"sdk":"any"}`,
		`sdks  {"sdk":"js"}`,
		`sdks  {"sdk":"python?>>"}`,
		`sdks  {"sdk":"ruby"}`,
		"sdks " + tenancy.KeyID(autofillKey.Key) + ` {"sdk":"autofill"}`,
	}
	sort.Strings(want)
	if beaconed != posted || !strings.Contains(posted, `"ip":"127.0.0.1"`) || !strings.Contains(posted, `"ua":"Mozilla/5.0 (beacon test)"`) {
		t.Errorf("beacon wrote %s, POST wrote %s", beaconed, posted)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("raw records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBeaconRefusals: a beacon is refused as a POST of its event would be,
// with the POST's JSON error (an <img> sees an error); an invalid event is
// written for the DLQ like a POSTed one; nothing else is written.
func TestBeaconRefusals(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	write, read := p.APIKeys["write"], p.APIKeys["read"]
	b64 := func(s string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s))) }
	one := eventsPath(p.ID, "pageviews")
	cases := []struct {
		name, path string
		status     int
		code       string
	}{
		{"no key", one + "?data=" + b64(`{"a":1}`), 401, "InvalidApiKeyError"},
		{"read key", one + "?api_key=" + read + "&data=" + b64(`{"a":1}`), 401, "InvalidApiKeyError"},
		{"unknown project", eventsPath("ffffffffffffffffffffffff", "x") + "?api_key=" + write + "&data=" + b64(`{"a":1}`), 404, "ResourceNotFoundError"},
		{"empty data", one + "?api_key=" + write + "&data=", 400, "InvalidEventError"},
		{"data not base64", one + "?api_key=" + write + "&data=%7B%22a%22%3A1%7D", 400, "InvalidEventError"},
		{"data not JSON", one + "?api_key=" + write + "&data=" + b64(`a=1`), 400, "InvalidEventError"},
		{"data not an object", one + "?api_key=" + write + "&data=" + b64(`[1]`), 400, "InvalidEventError"},
		{"bad collection", eventsPath(p.ID, "orders-dlq") + "?api_key=" + write + "&data=" + b64(`{"a":1}`), 400, "InvalidCollectionNameError"},
		{"unknown parameter", one + "?api_key=" + write + "&data=" + b64(`{"a":1}`) + "&callback=x", 400, "InvalidRequestError"},
		{"relative redirect", one + "?api_key=" + write + "&data=" + b64(`{"a":1}`) + "&redirect=%2Fhome", 400, "InvalidRequestError"},
		{"javascript redirect", one + "?api_key=" + write + "&data=" + b64(`{"a":1}`) + "&redirect=" + url.QueryEscape("javascript:alert(1)"), 400, "InvalidRequestError"},
	}
	for _, tc := range cases {
		resp, body := f.get("GET", tc.path, nil)
		var e keenError
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.status || e.ErrorCode != tc.code || e.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
	}
	if recs := f.rawRecords(p.ID); len(recs) != 0 {
		t.Fatalf("refused beacons wrote %v", recs)
	}
	// HEAD does not record.
	if resp, _ := f.get("HEAD", one+"?api_key="+write+"&data="+b64(`{"a":1}`), nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
	// An invalid event is answered with its error and written, as on POST;
	// with redirect, the error is answered rather than the redirect.
	resp, body := f.get("GET", one+"?api_key="+write+"&data="+b64(`{"a.b":1}`)+"&redirect="+url.QueryEscape("https://example.com/"), nil)
	var e keenError
	if json.Unmarshal(body, &e); resp.StatusCode != 400 || e.ErrorCode != "InvalidPropertyNameError" {
		t.Fatalf("invalid event: %d %s", resp.StatusCode, body)
	}
	if recs := f.rawRecords(p.ID); len(recs) != 1 || recs[0].value != `{"a.b":1}` {
		t.Fatalf("invalid event: raw records %v, want it written for the DLQ", recs)
	}
}
