package httpapi

import (
	"net/http"
	"strings"
)

// CORS, as Keen serves its API to browsers (keen-tracking.js and
// keen-analysis.js call it with fetch in "cors" mode): every answer of the
// Keen API (/3.0 and below), errors included, carries
// Access-Control-Allow-Origin: *, and a preflight OPTIONS is answered 204
// without authentication (browsers send no credentials with it). Keys
// travel in the Authorization header or the api_key parameter, never in
// cookies, so allowing every origin gives a page nothing it could not do
// with the key it already holds.
const (
	// corsMethods are the methods of the API's endpoints.
	corsMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
	// corsHeaders are the request headers Keen's SDKs send (Authorization,
	// Content-Type and Keen-Sdk; jQuery-era clients add X-Requested-With).
	corsHeaders = "Accept, Authorization, Content-Type, Keen-Sdk, X-Requested-With"
	// corsMaxAge lets a browser reuse a preflight for a day (browsers cap
	// it lower themselves).
	corsMaxAge = "86400"
	// corsExposed are the answer headers a page may read beyond the
	// CORS-safelisted ones: a 429's Retry-After.
	corsExposed = "Retry-After"
)

// isKeenAPI reports whether path is under Keen's API root /3.0. The other
// paths (health, metrics, the Streams page) are sluice's own and are not
// for other origins.
func isKeenAPI(path string) bool {
	return path == "/3.0" || strings.HasPrefix(path, "/3.0/")
}

// cors wraps next with the CORS headers of the Keen API.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isKeenAPI(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", corsExposed)
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
