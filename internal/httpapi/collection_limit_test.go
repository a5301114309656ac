package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestCollectionLimitOverHTTP: with 2 collections per project, a third is
// refused with 403 TooManyCollectionsError (alone, or per event in a batch,
// the rest of the batch written) and no raw topic; existing collections and
// other projects go on.
func TestCollectionLimitOverHTTP(t *testing.T) {
	f := newFixture(t)
	k, err := httpapi.NewKafka(f.b, limits.Config{MaxCollectionsPerProject: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	api := httpapi.New(httpapi.Config{Registry: f.reg, OrgID: orgID, OrgKey: orgKey, Events: k, Offsets: k,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	api.SetReady()
	srv := httptest.NewServer(api)
	defer srv.Close()
	limited := &fixture{t: t, srv: srv, reg: f.reg, b: f.b}
	p, other := f.createProject("Collector"), f.createProject("Neighbour")

	for _, c := range []string{"one", "two words"} {
		if st, body := limited.post("/3.0/projects/"+p.ID+"/events/"+strings.ReplaceAll(c, " ", "%20"), p.APIKeys["write"], `{"a":1}`, nil); st != 201 {
			t.Fatalf("collection %q: %d %s", c, st, body)
		}
	}
	st, body := limited.post("/3.0/projects/"+p.ID+"/events/three", p.APIKeys["write"], `{"a":1}`, nil)
	var ke keenError
	if err := json.Unmarshal([]byte(body), &ke); err != nil || st != 403 || ke.ErrorCode != "TooManyCollectionsError" ||
		!strings.Contains(ke.Message, "has 2 collections, its limit (2)") {
		t.Fatalf("third collection: %d %s", st, body)
	}
	st, body = limited.post("/3.0/projects/"+p.ID+"/events", p.APIKeys["write"], `{"one":[{"a":2}],"three":[{"a":3}]}`, nil)
	if st != 200 || !strings.Contains(body, `"one":[{"success":true}]`) || !strings.Contains(body, `"three":[{"success":false,"error":{"name":"TooManyCollectionsError"`) {
		t.Fatalf("batch: %d %s", st, body)
	}
	if n := len(f.rawRecords(p.ID)); n != 3 {
		t.Fatalf("%d raw records, want 3", n)
	}
	third := tenancy.RawTopic(p.ID, "", "three")
	topics, err := f.b.Admin().ListTopics(t.Context(), third)
	if err != nil {
		t.Fatal(err)
	}
	if td, ok := topics[third]; ok && td.Err == nil {
		t.Fatal("a raw topic was created past the limit")
	}
	if st, body := limited.post("/3.0/projects/"+other.ID+"/events/three", other.APIKeys["write"], `{"a":1}`, nil); st != 201 {
		t.Fatalf("another project: %d %s", st, body)
	}
}
