package httpapi

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// The Explorer page: /projects/{PID}/explorer, where a person builds a Keen
// query (collection and properties from schema inspection), runs it, sees
// it as a chart, a table or a number, saves it and copies it as a curl
// command. Like the Streams page it is embedded HTML, CSS and JavaScript that
// holds no project data and signs in with the project id and master key; its
// one dependency, Chart.js, is vendored under web/vendor/ by
// scripts/vendor-chart.sh rather than loaded from a CDN.

var explorerPage = template.Must(template.ParseFS(webFiles, "web/pages/explorer.html"))

func (a *API) explorerRoutes() {
	assets, _ := fs.Sub(webFiles, "web") // the directory is embedded: cannot fail
	files := http.StripPrefix("/web/", http.FileServerFS(assets))
	a.mux.Handle("GET /web/vendor/{file}", securityHeaders(files))
	a.mux.Handle("GET /projects/{pid}/explorer", securityHeaders(http.HandlerFunc(a.explorerPage)))
}

func (a *API) explorerPage(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	if tenancy.CheckProjectID(pid) != nil {
		writeError(w, http.StatusNotFound, "ResourceNotFoundError", "A project id is 24 lowercase hexadecimal characters.")
		return
	}
	// Any well-formed id gets the page, as with the Streams page.
	var buf bytes.Buffer
	if err := explorerPage.Execute(&buf, map[string]string{"ProjectID": pid}); err != nil {
		a.internalError(w, r, "rendering the Explorer page", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
