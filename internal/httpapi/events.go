package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// The Stream API (docs/contract.md §6): single and batch event
// recording with the write key, the master key or an access key permitting
// writes.
//
// Every accepted event goes to its collection's raw topic, the same topic a
// Kafka producer writes to, and the pipeline stores or dead-letters it: one
// path. The HTTP answer waits for the backend's acks=all. On the way in each
// event gets the pipeline's own validation (package event), so a client
// learns at once, precisely, what is wrong:
//
//   - refused with nothing written: a bad key, an unknown project, a body
//     that is not JSON or not of the expected shape, an event that is not a
//     JSON object or is over 900,000 bytes, a bad collection name, a batch
//     over its limits;
//   - an event that is a JSON object but breaks Keen's event rules is
//     answered with its error AND written, so that it reaches the
//     collection's DLQ like an invalid Kafka-produced event
//     (docs/contract.md §8: the DLQ carries each invalid event of the collection).

// writeTimeout bounds how long an answer waits for the backend.
const writeTimeout = 30 * time.Second

// validationID is the keen.id given to the up-front validation (Process
// needs one; the pipeline derives the real one from the raw record).
const validationID = "000000000000000000000000"

// writer is the authenticated writer of one request.
type writer struct {
	pid      string
	keyID    string         // tenancy.KeyID of an access key with autofill, else ""
	autofill map[string]any // that key's autofill
	ip, ua   string
}

// eventResult is one event's fate.
type eventResult struct {
	verr    *event.Error // Keen's error for the event, nil if valid
	write   bool         // the event goes to the raw topic
	payload []byte       // after placeholder substitution
	err     error        // writing failed
}

// tooManyRequests is the error name of a request over its project's
// produce quota (Keen answers 429 to rate-limited requests).
const tooManyRequests = "TooManyRequestsError"

// overQuota answers 429 when the project is still over its produce quota,
// with Retry-After; otherwise it counts the body against the quota. The
// Kafka Inbound listener shares the quota.
func (a *API) overQuota(w http.ResponseWriter, pid string, bytes int) bool {
	now := time.Now()
	if wait := a.cfg.ProduceQuota.Throttled(pid, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, tooManyRequests,
			fmt.Sprintf("The project is over its produce quota; retry in %s.", wait.Round(time.Millisecond)))
		return true
	}
	a.cfg.ProduceQuota.Charge(pid, bytes, now)
	return false
}

func (a *API) recordOne(w http.ResponseWriter, r *http.Request) {
	wr, ok := a.authenticateWriter(w, r)
	if !ok {
		return
	}
	collection := r.PathValue("collection")
	if !checkCollection(w, collection) {
		return
	}
	body, ok := readBodyLimit(w, r, limits.MaxEventBytes, eventTooLarge)
	if ok && a.recordSingle(w, r, wr, collection, body) {
		writeJSON(w, http.StatusCreated, map[string]bool{"created": true})
	}
}

// eventTooLarge is the message of a single event over limits.MaxEventBytes.
var eventTooLarge = fmt.Sprintf("An event is at most %d bytes.", limits.MaxEventBytes)

// checkCollection refuses a bad collection name, answering the error itself.
func checkCollection(w http.ResponseWriter, collection string) bool {
	if err := tenancy.CheckCollectionName(collection); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidCollectionNameError", collectionMessage(err))
		return false
	}
	return true
}

// recordSingle records one event of collection, as a POST of it and the
// image beacon do. It answers every failure itself and returns true only
// when the event was written and valid, leaving the success answer to the
// caller.
func (a *API) recordSingle(w http.ResponseWriter, r *http.Request, wr writer, collection string, body []byte) bool {
	if a.overQuota(w, wr.pid, len(body)) {
		return false
	}
	res := a.check(wr, body)
	if !res.write {
		writeError(w, http.StatusBadRequest, res.verr.Name, res.verr.Message)
		return false
	}
	results := []*eventResult{&res}
	if !a.writeEvents(w, r, wr, map[string][]*eventResult{collection: results}) {
		return false
	}
	var limit *backend.CollectionLimitError
	switch {
	case errors.As(res.err, &limit):
		writeError(w, http.StatusForbidden, tooManyCollections, limit.Error())
	case res.err != nil:
		a.internalError(w, r, "writing the event", res.err)
	case res.verr != nil:
		writeError(w, http.StatusBadRequest, res.verr.Name, res.verr.Message)
	default:
		return true
	}
	return false
}

func (a *API) recordBatch(w http.ResponseWriter, r *http.Request) {
	wr, ok := a.authenticateWriter(w, r)
	if !ok {
		return
	}
	body, ok := readBodyLimit(w, r, limits.MaxHTTPBatchBytes, fmt.Sprintf("A batch is at most %d bytes.", limits.MaxHTTPBatchBytes))
	if !ok || a.overQuota(w, wr.pid, len(body)) {
		return
	}
	batch, ok := parseBatch(w, body)
	if !ok {
		return
	}
	results := make(map[string][]*eventResult, len(batch))
	for collection, events := range batch {
		rs := make([]*eventResult, len(events))
		for i, ev := range events {
			res := a.check(wr, ev)
			rs[i] = &res
		}
		results[collection] = rs
	}
	if !a.writeEvents(w, r, wr, results) {
		return
	}
	out := make(map[string][]batchItem, len(results))
	for collection, rs := range results {
		items := make([]batchItem, len(rs))
		for i, res := range rs {
			items[i] = itemOf(a, r, res)
		}
		out[collection] = items
	}
	writeJSON(w, http.StatusOK, out)
}

// parseBatch reads {"<collection>": [event, ...], ...}, refusing the whole
// batch (nothing written) when its shape, a collection name or its size is
// wrong.
func parseBatch(w http.ResponseWriter, body []byte) (map[string][]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		writeError(w, http.StatusBadRequest, "InvalidBatchError",
			`The body must be a JSON object of collections, each a list of events: {"<collection>": [{...}, ...]}.`)
		return nil, false
	}
	batch := make(map[string][]json.RawMessage, len(top))
	n := 0
	for collection, raw := range top {
		if err := tenancy.CheckCollectionName(collection); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidCollectionNameError", collectionMessage(err))
			return nil, false
		}
		var events []json.RawMessage
		if err := json.Unmarshal(raw, &events); err != nil || events == nil {
			writeError(w, http.StatusBadRequest, "InvalidBatchError",
				fmt.Sprintf("The value of collection %q must be a list of events.", collection))
			return nil, false
		}
		if n += len(events); n > limits.MaxHTTPBatchEvents {
			writeError(w, http.StatusBadRequest, "InvalidBatchError",
				fmt.Sprintf("A batch holds at most %d events; split it into several requests.", limits.MaxHTTPBatchEvents))
			return nil, false
		}
		batch[collection] = events
	}
	return batch, true
}

// check validates one event as the pipeline will, after substituting the
// placeholders.
func (a *API) check(wr writer, payload []byte) eventResult {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(payload) {
		// Not a JSON object: nothing an event could be made of. Process
		// says precisely why.
		_, err := a.cfg.Processor.Process(event.Input{Payload: payload, ID: validationID, CreatedAt: a.now()})
		var verr *event.Error
		if !errors.As(err, &verr) {
			verr = &event.Error{Name: event.ErrInvalidEvent, Message: "an event must be a JSON object"}
		}
		return eventResult{verr: verr}
	}
	if len(payload) > limits.MaxEventBytes {
		return eventResult{verr: &event.Error{Name: event.ErrInvalidEvent,
			Message: fmt.Sprintf("the event is %d bytes; Keen accepts events of at most %d bytes", len(payload), limits.MaxEventBytes)}}
	}
	payload = substitutePlaceholders(payload, wr.ip, wr.ua)
	now := a.now()
	_, err := a.cfg.Processor.Process(event.Input{Payload: payload, ID: validationID, RecordTime: now, CreatedAt: now, Autofill: wr.autofill})
	var verr *event.Error
	if err != nil && !errors.As(err, &verr) {
		verr = &event.Error{Name: event.ErrInvalidEvent, Message: err.Error()}
	}
	return eventResult{verr: verr, write: true, payload: payload}
}

// writeEvents writes every event marked for writing and records each one's
// outcome; it answers the request itself (and returns false) only when
// nothing can be written at all.
func (a *API) writeEvents(w http.ResponseWriter, r *http.Request, wr writer, results map[string][]*eventResult) bool {
	var evs []RawEvent
	var which []*eventResult
	for collection, rs := range results {
		topic := tenancy.RawTopic(wr.pid, wr.keyID, collection)
		for _, res := range rs {
			if res.write {
				evs = append(evs, RawEvent{Topic: topic, Value: res.payload})
				which = append(which, res)
			}
		}
	}
	if len(evs) == 0 {
		return true
	}
	if a.cfg.Events == nil {
		writeError(w, http.StatusServiceUnavailable, "InternalServerError", "Event recording is not available on this server.")
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	defer cancel()
	for i, err := range a.cfg.Events.Write(ctx, evs) {
		which[i].err = err
	}
	return true
}

type batchError struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type batchItem struct {
	Success bool        `json:"success"`
	Error   *batchError `json:"error,omitempty"`
}

// tooManyCollections is the error_code of an event of a new collection past
// the project's limit (limits.Config.MaxCollectionsPerProject).
const tooManyCollections = "TooManyCollectionsError"

func itemOf(a *API, r *http.Request, res *eventResult) batchItem {
	var limit *backend.CollectionLimitError
	switch {
	case errors.As(res.err, &limit):
		return batchItem{Error: &batchError{Name: tooManyCollections, Description: limit.Error()}}
	case res.err != nil:
		a.cfg.Logger.Error("http: writing an event", "path", r.URL.Path, "err", res.err)
		return batchItem{Error: &batchError{Name: "InternalServerError", Description: "sluice could not write the event; send it again."}}
	case res.verr != nil:
		return batchItem{Error: &batchError{Name: res.verr.Name, Description: res.verr.Message}}
	}
	return batchItem{Success: true}
}

// authenticateWriter accepts the master key, the write key and an active
// access key permitting writes.
func (a *API) authenticateWriter(w http.ResponseWriter, r *http.Request) (writer, bool) {
	p, cred, ok := a.authenticate(w, r)
	if !ok {
		return writer{}, false
	}
	if !cred.Permits(registry.PermWrites) {
		writeError(w, http.StatusUnauthorized, "InvalidApiKeyError",
			"This key may not record events: use the write key, the master key or an access key permitting writes.")
		return writer{}, false
	}
	wr := writer{pid: p.ID, ip: clientIP(r), ua: r.UserAgent()}
	if cred.Kind == registry.KindAccess && cred.AccessKey.Options.Writes != nil && len(cred.AccessKey.Options.Writes.Autofill) > 0 {
		// The access key's own raw topics, which tell the pipeline whose
		// autofill applies (as on the Inbound listener).
		wr.keyID = tenancy.KeyID(cred.AccessKey.Key)
		wr.autofill = cred.AccessKey.Options.Writes.Autofill
	}
	return wr, true
}

// clientIP is the address the request came from. X-Forwarded-For is not
// consulted: a client could set it to anything (it could as well write any
// IP into the event); a deployment behind a proxy sees the proxy's address.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// collectionMessage words a refused collection name for the client.
func collectionMessage(err error) string {
	var bad *tenancy.ErrInvalidTopic
	if errors.As(err, &bad) {
		return fmt.Sprintf("Collection name %q is not valid: %s. Collection names are 1 to 64 printable ASCII characters and may not end in %q.",
			bad.Name, bad.Reason, tenancy.DLQSuffix)
	}
	return err.Error()
}
