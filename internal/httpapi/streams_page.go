package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// The Streams page (docs/contract.md §6): /projects/{PID}/streams, plain
// HTML, CSS and JavaScript embedded in the binary, no build step and nothing
// loaded from elsewhere. The page itself holds no project data: it signs in
// with the project id and master key and reads everything through the API
// (streams/kafka, streams/kafka/outbound, streams/collections).

//go:embed web
var webFiles embed.FS

var streamsPage = template.Must(template.ParseFS(webFiles, "web/pages/streams.html"))

// contentSecurityPolicy allows this origin only: no inline script, no CDN.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

func (a *API) webRoutes() {
	assets, _ := fs.Sub(webFiles, "web") // the directory is embedded: cannot fail
	files := http.StripPrefix("/web/", http.FileServerFS(assets))
	a.mux.Handle("GET /web/{file}", securityHeaders(files))
	a.mux.Handle("GET /projects/{pid}/streams", securityHeaders(http.HandlerFunc(a.streamsPage)))
}

func (a *API) streamsPage(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	if tenancy.CheckProjectID(pid) != nil {
		writeError(w, http.StatusNotFound, "ResourceNotFoundError", "A project id is 24 lowercase hexadecimal characters.")
		return
	}
	// Any well-formed id gets the page: whether the project exists is only
	// told to someone holding its master key.
	var buf bytes.Buffer
	if err := streamsPage.Execute(&buf, map[string]string{"ProjectID": pid, "CAFile": a.cfg.CAFile}); err != nil {
		a.internalError(w, r, "rendering the Streams page", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
