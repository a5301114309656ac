package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/saved/savedtest"
)

// TestSavedQueriesRealKafka runs the saved-query registry suite and the
// cached-query schedule's exactly-once suite (three processes, a leave, a
// crash) on Apache Kafka.
func TestSavedQueriesRealKafka(t *testing.T) {
	brokers := kafkaCluster(t, 1, false).Bootstrap
	t.Run("registry", func(t *testing.T) { registrytest.SavedQueries(t, brokers) })
	t.Run("schedule exactly once", func(t *testing.T) { savedtest.ExactlyOnce(t, brokers) })
}

// TestCachedQueryThreeProcesses: three sluice processes on one Apache Kafka
// cluster. A cached query saved through one is run by the schedule within
// seconds (by whichever process leads), and every process answers the
// same cached result and run date. (That one process runs it once per
// period is TestSavedQueriesRealKafka's.)
func TestCachedQueryThreeProcesses(t *testing.T) {
	c := kafkaCluster(t, 1, false)
	const orgID, orgKey = "0123456789abcdef01234567", "shared-org-key-0123456789"
	common := []string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}
	var procs []*proc
	for i := 0; i < 3; i++ {
		procs = append(procs, startSluice(t, t.TempDir(), append(slices.Clone(common), localArgs(t)...)...))
	}
	p := createProject(t, procs[0].HTTP, orgID, orgKey, "cached")
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	path := "/3.0/projects/" + p.ID + "/queries/saved/daily"
	if st, body := httpDo(t, "PUT", procs[0].HTTP+path, master, `{"query":{"analysis_type":"count","event_collection":"none"},"refresh_rate":14400}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	type answer struct {
		Result         json.RawMessage `json:"result"`
		RunInformation struct {
			LastRunDate *string `json:"last_run_date"`
			NextRunDate string  `json:"next_run_date"`
		} `json:"run_information"`
	}
	var runDate string
	deadline := time.Now().Add(30 * time.Second)
	for i, pr := range procs {
		for {
			st, body := httpDo(t, "GET", pr.HTTP+path+"/result", read, "")
			var a answer
			if st != 200 || json.Unmarshal([]byte(body), &a) != nil {
				t.Fatalf("process %d: %d %s", i, st, body)
			}
			if a.RunInformation.LastRunDate != nil {
				if runDate == "" {
					runDate = *a.RunInformation.LastRunDate
				}
				if *a.RunInformation.LastRunDate != runDate || string(a.Result) != "0" {
					t.Fatalf("process %d answers a run of %s (result %s), process 0 one of %s", i, *a.RunInformation.LastRunDate, a.Result, runDate)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d: the cached query was not run within 30 s: %s", i, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("run at %s, seen by all three processes", runDate)
}
