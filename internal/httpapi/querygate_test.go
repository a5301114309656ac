package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// heldStore is storetest's model whose queries of collection "held" wait
// until release is closed, so that a test can keep queries running.
type heldStore struct {
	*storetest.Model
	started chan struct{}
	release chan struct{}
}

func (s *heldStore) Run(ctx context.Context, q store.Query) (store.Result, error) {
	if q.Collection == "held" {
		s.started <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return store.Result{}, ctx.Err()
		}
	}
	return s.Model.Run(ctx, q)
}

// TestConcurrentQueriesPerProject: a project running
// MaxConcurrentQueriesPerProject queries is answered 429 for one more,
// another project is served meanwhile, and the first is served again once
// its queries end.
func TestConcurrentQueriesPerProject(t *testing.T) {
	held := &heldStore{Model: storetest.NewModel(), started: make(chan struct{}, 16), release: make(chan struct{})}
	f := newFixture(t, func(c *httpapi.Config) { c.Store = held })
	p, q := f.createProject("busy"), f.createProject("other")
	count := func(pid, key, collection string) (int, string) {
		var e struct {
			ErrorCode string `json:"error_code"`
		}
		st := f.do("POST", "/3.0/projects/"+pid+"/queries/count", key, `{"event_collection":"`+collection+`"}`, &e)
		return st, e.ErrorCode
	}
	var wg sync.WaitGroup
	for range limits.MaxConcurrentQueriesPerProject {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, code := count(p.ID, p.APIKeys["read"], "held"); st != 200 {
				t.Errorf("a held query: %d %s", st, code)
			}
		}()
	}
	for range limits.MaxConcurrentQueriesPerProject {
		select {
		case <-held.started:
		case <-time.After(30 * time.Second):
			t.Fatal("the held queries did not start")
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/3.0/projects/"+p.ID+"/queries/count", strings.NewReader(`{"event_collection":"c"}`))
	req.Header.Set("Authorization", p.APIKeys["read"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("one query too many: %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st, code := count(q.ID, q.APIKeys["read"], "c"); st != 200 {
		t.Errorf("another project while the first is full: %d %s", st, code)
	}
	close(held.release)
	wg.Wait()
	if st, code := count(p.ID, p.APIKeys["read"], "c"); st != 200 {
		t.Errorf("after its queries ended: %d %s", st, code)
	}
}

// TestExtractionBytesInFlight: extractions of several projects share the
// process's budget of answers in flight. With room for two, two held
// extractions (of two projects) leave a third project's extraction refused
// with 503 ExtractionCapacityError and Retry-After, while its other
// queries go on; once they end, the budget is whole again.
func TestExtractionBytesInFlight(t *testing.T) {
	held := &heldStore{Model: storetest.NewModel(), started: make(chan struct{}, 16), release: make(chan struct{})}
	f := newFixture(t, func(c *httpapi.Config) {
		c.Store, c.MaxExtractionBytes, c.MaxExtractionBytesInFlight = held, 1<<20, 2<<20
	})
	a, b, c := f.createProject("a"), f.createProject("b"), f.createProject("c")
	query := func(pid, key, analysis, collection string) (int, string, string) {
		var e struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		}
		st := f.do("POST", "/3.0/projects/"+pid+"/queries/"+analysis, key, `{"event_collection":"`+collection+`","timeframe":"this_1_years"}`, &e)
		return st, e.ErrorCode, e.Message
	}
	var wg sync.WaitGroup
	for _, p := range []string{a.ID, b.ID} {
		key := map[string]string{a.ID: a.APIKeys["read"], b.ID: b.APIKeys["read"]}[p]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, code, _ := query(p, key, "extraction", "held"); st != 200 {
				t.Errorf("a held extraction: %d %s", st, code)
			}
		}()
	}
	for range 2 {
		select {
		case <-held.started:
		case <-time.After(30 * time.Second):
			t.Fatal("the held extractions did not start")
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/3.0/projects/"+c.ID+"/queries/extraction", strings.NewReader(`{"event_collection":"x","timeframe":"this_1_years"}`))
	req.Header.Set("Authorization", c.APIKeys["read"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("a third extraction: %d, Retry-After %q; want 503 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st, code, msg := query(c.ID, c.APIKeys["read"], "extraction", "x"); st != 503 || code != httpapi.ErrExtractionCapacity || !strings.Contains(msg, "--max-extraction-bytes-in-flight") {
		t.Errorf("a third extraction: %d %s %q", st, code, msg)
	}
	if st, code, _ := query(c.ID, c.APIKeys["read"], "count", "x"); st != 200 {
		t.Errorf("a count meanwhile: %d %s", st, code)
	}
	close(held.release)
	wg.Wait()
	for range 3 { // the budget was given back by every extraction
		if st, code, _ := query(c.ID, c.APIKeys["read"], "extraction", "x"); st != 200 {
			t.Errorf("an extraction after the others ended: %d %s", st, code)
		}
	}
}
