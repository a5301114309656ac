// Package httpapi serves sluice's Keen-compatible HTTP API (docs/contract.md §6):
// provisioning, projects, access keys and stream settings, with Keen's
// authentication and error shapes.
package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/health"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// MaxBodyBytes caps request bodies of the management endpoints.
const MaxBodyBytes = 1 << 20

// Registry is what the API needs from the registry.
type Registry interface {
	Read(fn func(v *registry.View))
	Project(pid string) (registry.Project, bool)
	Match(pid, secret string) registry.Credential
	CreateProject(ctx context.Context, orgID, name string) (registry.Project, error)
	CreateAccessKey(ctx context.Context, pid string, k registry.AccessKey) (registry.AccessKey, error)
	UpdateAccessKey(ctx context.Context, pid, key string, change func(*registry.AccessKey)) (registry.AccessKey, error)
	DeleteAccessKey(ctx context.Context, pid, key string) error
	Streams(pid string) (registry.Streams, bool)
	SetStreams(ctx context.Context, pid string, s registry.Streams) error
	PutSavedQuery(ctx context.Context, sq registry.SavedQuery) (registry.SavedQuery, error)
	DeleteSavedQuery(ctx context.Context, pid, name string) error
	PutDataset(ctx context.Context, d registry.Dataset) error
	DeleteDataset(ctx context.Context, pid, name string) error
}

// Config is what the API serves with.
type Config struct {
	Registry Registry
	OrgID    string
	OrgKey   string
	// InboundBootstrap and OutboundBootstrap are the addresses clients are
	// told to use (advertised host and listener port).
	InboundBootstrap  string
	OutboundBootstrap string
	Metrics           *prometheus.Registry
	Logger            *slog.Logger
	// Store answers queries (nil: queries answer 503).
	Store store.Store
	// MaxExtractionBytes bounds an extraction's events (0:
	// limits.Default's); see limits.Config.
	MaxExtractionBytes int64
	// MaxExtractionBytesInFlight bounds the bytes of extraction answers
	// held at once, all projects together (0: limits.Default's).
	MaxExtractionBytesInFlight int64
	// Now is the clock of relative timeframes (time.Now when nil).
	Now func() time.Time
	// Processor validates events recorded over HTTP, as the pipeline will.
	Processor *event.Processor
	// Events writes recorded events to raw topics (nil: recording answers
	// 503).
	Events EventWriter
	// Offsets feeds the Streams page's rates (nil: no rates).
	Offsets OffsetReader
	// CAFile is the path of the CA clients trust, shown in the Streams
	// page's snippets ("" when the operator gave a certificate).
	CAFile string
	// ProduceQuota, when not nil, bounds each project's recorded bytes
	// per second (shared with the Kafka Inbound listener).
	ProduceQuota *quota.Limiter
	// Health reports the process's components for /healthz (nil: only
	// "ready or not").
	Health func() health.Report
}

// API is the HTTP handler.
type API struct {
	cfg     Config
	rates   *rateSampler
	mux     *http.ServeMux
	handler http.Handler // mux behind the middleware
	ready   atomic.Bool
	queries *queryGate
	// extractions is the budget of extraction answers in flight.
	extractions *extractionBudget
}

// New builds the API. /healthz answers 503 until SetReady, and then
// whenever a component of Health is not OK.
func New(cfg Config) *API {
	if cfg.Processor == nil {
		cfg.Processor, _ = event.NewProcessor(nil) // cannot fail without a GeoIP database
	}
	if cfg.MaxExtractionBytes == 0 {
		cfg.MaxExtractionBytes = limits.Default().MaxExtractionBytes
	}
	if cfg.MaxExtractionBytesInFlight == 0 {
		cfg.MaxExtractionBytesInFlight = limits.Default().MaxExtractionBytesInFlight
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), rates: newRateSampler(), queries: newQueryGate(limits.MaxConcurrentQueriesPerProject),
		extractions: &extractionBudget{max: cfg.MaxExtractionBytesInFlight}}
	a.routes()
	a.handler = cors(a.mux)
	return a
}

// SetReady makes /healthz answer 200.
func (a *API) SetReady() { a.ready.Store(true) }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

func (a *API) routes() {
	m := a.mux
	m.HandleFunc("GET /healthz", a.healthz)
	m.HandleFunc("GET /livez", a.livez)
	if a.cfg.Metrics != nil {
		m.Handle("GET /metrics", promhttp.HandlerFor(a.cfg.Metrics, promhttp.HandlerOpts{}))
	}
	m.HandleFunc("POST /3.0/organizations/{org}/projects", a.org(a.createProject))
	m.HandleFunc("GET /3.0/organizations/{org}/projects", a.org(a.listProjects))

	m.HandleFunc("GET /3.0/projects/{pid}", a.master(a.getProject))
	m.HandleFunc("POST /3.0/projects/{pid}/keys", a.master(a.createKey))
	m.HandleFunc("GET /3.0/projects/{pid}/keys", a.master(a.listKeys))
	m.HandleFunc("GET /3.0/projects/{pid}/keys/{key}", a.master(a.getKey))
	m.HandleFunc("POST /3.0/projects/{pid}/keys/{key}", a.master(a.replaceKey))
	m.HandleFunc("POST /3.0/projects/{pid}/keys/{key}/revoke", a.master(a.setKeyActive(false)))
	m.HandleFunc("POST /3.0/projects/{pid}/keys/{key}/unrevoke", a.master(a.setKeyActive(true)))
	m.HandleFunc("DELETE /3.0/projects/{pid}/keys/{key}", a.master(a.deleteKey))
	m.HandleFunc("GET /3.0/projects/{pid}/streams/kafka", a.master(a.getStreams))
	m.HandleFunc("PUT /3.0/projects/{pid}/streams/kafka/outbound", a.master(a.putOutbound))
	m.HandleFunc("GET /3.0/projects/{pid}/streams/collections", a.master(a.listCollections))
	m.HandleFunc("POST /3.0/projects/{pid}/events/{collection}", a.recordOne)
	m.HandleFunc("POST /3.0/projects/{pid}/events", a.recordBatch)
	// GET of a collection is its schema, or the image beacon when it
	// carries data= (as Keen serves both on one URL).
	m.HandleFunc("GET /3.0/projects/{pid}/events", a.schemaReader(a.listSchemas))
	m.HandleFunc("GET /3.0/projects/{pid}/events/{collection}", a.collectionOrBeacon)
	m.HandleFunc("GET /3.0/projects/{pid}/events/{collection}/properties", a.schemaReader(a.listProperties))
	m.HandleFunc("GET /3.0/projects/{pid}/events/{collection}/properties/{property}", a.schemaReader(a.getProperty))
	m.HandleFunc("DELETE /3.0/projects/{pid}/events/{collection}", a.master(a.deleteCollection))
	m.HandleFunc("DELETE /3.0/projects/{pid}/events/{collection}/properties/{property}", a.master(a.deleteProperty))
	m.HandleFunc("GET /3.0/projects/{pid}/queries/{analysis}", a.query)
	m.HandleFunc("POST /3.0/projects/{pid}/queries/{analysis}", a.query)
	a.savedRoutes()
	a.datasetRoutes()

	a.webRoutes()
	a.explorerRoutes()

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "ResourceNotFoundError", "There is no resource at "+r.URL.Path+" for "+r.Method+".")
	})
}

// healthz tells a load balancer whether to send work here: 200 when every
// component is OK, 503 with the report otherwise.
func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	if !a.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, health.Report{State: health.Starting})
		return
	}
	r := health.Report{State: health.OK}
	if a.cfg.Health != nil {
		r = a.cfg.Health()
	}
	code := http.StatusOK
	if r.State != health.OK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, r)
}

// livez answers 200 while the process serves HTTP at all: a liveness
// probe that restarted sluice whenever the backend is away would not help
// it recover.
func (a *API) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// apiKey returns the key from the Authorization header or api_key parameter.
func apiKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("Authorization")); k != "" {
		return k
	}
	return r.URL.Query().Get("api_key")
}

// org guards the organization's provisioning endpoints.
func (a *API) org(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("org") != a.cfg.OrgID {
			writeError(w, http.StatusNotFound, "ResourceNotFoundError", "Organization not found.")
			return
		}
		key := apiKey(r)
		if subtle.ConstantTimeCompare([]byte(key), []byte(a.cfg.OrgKey)) != 1 {
			writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "The organization key is missing or wrong. Pass it in the Authorization header or the api_key parameter.")
			return
		}
		next(w, r)
	}
}

// projectHandler is a handler for a project the caller has authenticated to.
type projectHandler func(w http.ResponseWriter, r *http.Request, p registry.Project)

// master guards master-key endpoints: unknown project 404, no or wrong key
// 401 InvalidApiKeyError, another valid key 401 AdminOnlyEndpointError.
func (a *API) master(next projectHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, cred, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if cred.Kind != registry.KindMaster {
			writeError(w, http.StatusUnauthorized, "AdminOnlyEndpointError", "This endpoint requires the project's Master Key.")
			return
		}
		next(w, r, p)
	}
}

func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (registry.Project, registry.Credential, bool) {
	pid := r.PathValue("pid")
	key := apiKey(r)
	cred := a.cfg.Registry.Match(pid, key)
	p, known := a.cfg.Registry.Project(pid)
	switch {
	case !known:
		writeError(w, http.StatusNotFound, "ResourceNotFoundError", "Project not found.")
		return p, cred, false
	case key == "":
		writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "An API key is required: pass it in the Authorization header or the api_key parameter.")
		return p, cred, false
	case cred.Kind == registry.KindNone:
		writeError(w, http.StatusUnauthorized, "InvalidApiKeyError", "The API key is not valid for this project.")
		return p, cred, false
	}
	return p, cred, true
}

type projectDoc struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	APIKeys map[string]string `json:"api_keys"`
}

func docOf(p registry.Project) projectDoc {
	return projectDoc{ID: p.ID, Name: p.Name, APIKeys: map[string]string{"master": p.MasterKey, "write": p.WriteKey, "read": p.ReadKey}}
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name *string `json:"name"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" || len(*body.Name) > 256 {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", `"name" is required: 1 to 256 characters.`)
		return
	}
	p, err := a.cfg.Registry.CreateProject(r.Context(), a.cfg.OrgID, *body.Name)
	if err != nil {
		a.internalError(w, r, "creating a project", err)
		return
	}
	writeJSON(w, http.StatusCreated, docOf(p))
}

func (a *API) listProjects(w http.ResponseWriter, r *http.Request) {
	out := []projectDoc{}
	a.cfg.Registry.Read(func(v *registry.View) {
		for _, p := range v.Projects(a.cfg.OrgID) {
			out = append(out, docOf(p))
		}
	})
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getProject(w http.ResponseWriter, _ *http.Request, p registry.Project) {
	writeJSON(w, http.StatusOK, docOf(p))
}

func (a *API) internalError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	a.cfg.Logger.Error("http: "+doing, "path", r.URL.Path, "err", err)
	status := http.StatusInternalServerError
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, "InternalServerError", "sluice could not complete the request ("+doing+"); try again.")
}

// decodeBody reads a JSON body of at most MaxBodyBytes into v, answering
// the error itself when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "InvalidRequestError", "The request body is not a valid JSON object of the expected shape.")
		return false
	}
	return true
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return readBodyLimit(w, r, MaxBodyBytes, "The request body is larger than 1 MiB.")
}

// readBodyLimit reads a body of at most limit bytes, answering 413 with
// tooBigMsg when it is larger.
func readBodyLimit(w http.ResponseWriter, r *http.Request, limit int64, tooBigMsg string) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeError", tooBigMsg)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "InvalidRequestError", "The request body could not be read.")
		return nil, false
	}
	return b, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "error_code": code})
}
