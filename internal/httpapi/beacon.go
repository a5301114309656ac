package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The image beacon (docs/http-api.md "The image beacon"): Keen's
// deprecated way to record an event from an <img> tag or an e-mail,
//
//	GET /3.0/projects/{PID}/events/{collection}?api_key=<key>&data=<base64 JSON>[&redirect=<URL>]
//
// The event is recorded exactly like a POST of it (same keys, validation,
// placeholders, add-ons and autofill). Success answers a 1×1 transparent
// GIF, or a 302 to redirect; a failure answers the POST's JSON error and
// status, which an <img> reports through onerror (keen-tracking.js relies
// on that).

// beaconParams are the beacon's URL parameters: keen-tracking.js adds
// "modified" and "c" to defeat caches; they carry nothing.
var beaconParams = []string{"api_key", "data", "redirect", "modified", "c"}

// pixelGIF is a 1×1 transparent GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x01D\x00;")

func (a *API) beacon(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "InvalidRequestError", "The image beacon records events on GET only.")
		return
	}
	wr, ok := a.authenticateWriter(w, r)
	if !ok || !onlyParams(w, r, beaconParams...) {
		return
	}
	collection := r.PathValue("collection")
	if !checkCollection(w, collection) {
		return
	}
	q := r.URL.Query()
	redirect := q.Get("redirect")
	if q.Has("redirect") && !isWebURL(redirect) {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", `"redirect" must be an absolute http or https URL.`)
		return
	}
	body, err := decodeBeaconData(q.Get("data"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidEventError", `"data" must be the event's JSON in base64: `+err.Error()+".")
		return
	}
	if !a.recordSingle(w, r, wr, collection, body) {
		return
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/gif")
	// Every load of the image is an event: no cache may answer for us.
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pixelGIF)
}

// decodeBeaconData decodes the data parameter as the SDKs write it:
// standard base64 (Python's, keen-tracking.js's) or URL-safe base64
// (keen-gem's), padded or not. A "+" that was not percent-encoded reaches
// us as a space (query-string rules), so spaces are read as "+".
func decodeBeaconData(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("it is empty")
	}
	s = strings.NewReplacer(" ", "+", "-", "+", "_", "/").Replace(strings.TrimRight(s, "="))
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("it is not base64 (%v)", err)
	}
	return b, nil
}

// isWebURL reports whether s is an absolute http or https URL.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
