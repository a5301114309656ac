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
