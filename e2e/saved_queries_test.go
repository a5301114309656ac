package e2e

import (
	"encoding/json"
	"io"
	"net/http"
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

// threeProcesses starts three sluice processes of one organization on one
// Apache Kafka cluster, and a project named name through the first.
func threeProcesses(t *testing.T, name string) ([]*proc, httpProject) {
	c := kafkaCluster(t, 1, false)
	const orgID, orgKey = "0123456789abcdef01234567", "shared-org-key-0123456789"
	common := []string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}
	var procs []*proc
	for i := 0; i < 3; i++ {
		procs = append(procs, startSluice(t, t.TempDir(), append(slices.Clone(common), localArgs(t)...)...))
	}
	return procs, createProject(t, procs[0].HTTP, orgID, orgKey, name)
}

// TestCachedQueryThreeProcesses: three sluice processes on one Apache Kafka
// cluster. A cached query saved through one is run by the schedule within
// seconds (by whichever process leads), and every process answers the
// same cached result and run date. (That one process runs it once per
// period is TestSavedQueriesRealKafka's.)
func TestCachedQueryThreeProcesses(t *testing.T) {
	procs, p := threeProcesses(t, "cached")
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

// TestDatasetThreeProcesses: three sluice processes on one Apache Kafka
// cluster. A dataset created through one is computed by the schedule's
// leader within seconds, and every process answers the same document
// ("OK", the same last_scheduled_date) and the same results, from what the
// leader kept in the registry topic.
func TestDatasetThreeProcesses(t *testing.T) {
	procs, p := threeProcesses(t, "datasets")
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	path := "/3.0/projects/" + p.ID + "/datasets/by-tenant"
	if st, body := httpDo(t, "PUT", procs[0].HTTP+path, master, `{"display_name":"By tenant","index_by":"tenant",
		"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	type document struct {
		Status            string `json:"status"`
		LastScheduledDate string `json:"last_scheduled_date"`
	}
	var ran string
	deadline := time.Now().Add(30 * time.Second)
	for i, pr := range procs {
		for {
			st, body := httpDo(t, "GET", pr.HTTP+path, read, "")
			var d document
			if st == 404 && time.Now().Before(deadline) {
				// Created through the first process: another's registry
				// view follows within a second.
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if st != 200 || json.Unmarshal([]byte(body), &d) != nil {
				t.Fatalf("process %d: %d %s", i, st, body)
			}
			if d.Status == "OK" {
				if ran == "" {
					ran = d.LastScheduledDate
				}
				if d.LastScheduledDate != ran {
					t.Fatalf("process %d answers a computation of %s, process 0 one of %s", i, d.LastScheduledDate, ran)
				}
				break
			}
			if d.Status != "Created" || time.Now().After(deadline) {
				t.Fatalf("process %d: the dataset was not computed within 30 s: %s", i, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Answered from what was kept: with its age (a result computed when
	// asked has none).
	var results []string
	for i, pr := range procs {
		req, err := http.NewRequest("GET", pr.HTTP+path+"/results?index_by=a&timeframe=this_3_days", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", read)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"timeframe"`) || resp.Header.Get("Age") == "" {
			t.Fatalf("process %d results: %d (Age %q) %s", i, resp.StatusCode, resp.Header.Get("Age"), body)
		}
		results = append(results, string(body))
	}
	if results[0] != results[1] || results[1] != results[2] {
		t.Fatalf("the processes answer different results: %q", results)
	}
	t.Logf("computed at %s, served alike by all three processes: %s", ran, results[0])
}
