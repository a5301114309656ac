package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sluiceProc is a sluice process the pipeline benchmark starts and stops
// itself (it restarts sluice with the pipeline on after the preload).
type sluiceProc struct {
	cmd      *exec.Cmd
	pid      string
	http     string // HTTP API base URL
	inbound  string // Kafka Inbound listener host:port
	outbound string // Kafka Outbound listener host:port
	done     chan error
}

// startSluice runs `sluice serve` on a data dir with every listener on a
// kernel-chosen loopback port and waits for "sluice is ready". Its output
// goes to logPrefix.out / .err; extra flags are added to sluice's.
func startSluice(ctx context.Context, bin, dataDir, brokers string, pipeline bool, nice []string, logPrefix string, extra ...string) (*sluiceProc, error) {
	args := []string{bin, "serve", "--data-dir", dataDir, "--kafka-brokers", brokers,
		"--http-addr", "127.0.0.1:0", "--inbound-addr", "127.0.0.1:0", "--outbound-addr", "127.0.0.1:0",
		"--advertised-host", "127.0.0.1", "--log-level", "warn", "--pipeline=" + strconv.FormatBool(pipeline)}
	args = append(args, extra...)
	args = append(nice, args...)
	cmd := exec.Command(args[0], args[1:]...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") { // only these flags configure it
			env = append(env, kv)
		}
	}
	cmd.Env = env
	errf, err := os.Create(logPrefix + ".err")
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting sluice: %w", err)
	}
	p := &sluiceProc{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		outf, _ := os.Create(logPrefix + ".out")
		defer outf.Close()
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(outf, line)
			if rest, ok := strings.CutPrefix(line, "HTTP API:"); ok && p.http == "" {
				p.http = strings.TrimRight(strings.TrimSpace(rest), "/")
			}
			if rest, ok := strings.CutPrefix(line, "Kafka Inbound:"); ok && p.inbound == "" {
				p.inbound = strings.Fields(rest)[0]
			}
			if rest, ok := strings.CutPrefix(line, "Kafka Outbound:"); ok && p.outbound == "" {
				p.outbound = strings.Fields(rest)[0]
			}
			if line == "sluice is ready" && !closed {
				closed = true
				close(ready)
			}
		}
		p.done <- cmd.Wait()
		errf.Close()
	}()
	select {
	case <-ready:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("sluice exited during start-up (%v); see %s.err", err, logPrefix)
	case <-time.After(90 * time.Second):
		p.stop()
		return nil, fmt.Errorf("sluice not ready after 90 s; see %s.err", logPrefix)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop sends SIGTERM and waits (SIGKILL after 20 s).
func (p *sluiceProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("sluice did not exit within 20 s of SIGTERM; killed")
	}
}

// project is a sluice project and its keys.
type project struct {
	ID     string
	Write  string
	Read   string
	Master string
}

// createProject creates a project over HTTP with the organization
// credentials sluice generated in its data dir.
func createProject(ctx context.Context, httpURL, dataDir, name string) (project, error) {
	var org struct {
		ID  string `json:"org_id"`
		Key string `json:"org_key"`
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "org.json"))
	if err != nil {
		return project{}, err
	}
	if err := json.Unmarshal(raw, &org); err != nil {
		return project{}, fmt.Errorf("org.json: %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", httpURL+"/3.0/organizations/"+org.ID+"/projects", strings.NewReader(`{"name":"`+name+`"}`))
	req.Header.Set("Authorization", org.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return project{}, fmt.Errorf("creating the project: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return project{}, fmt.Errorf("creating the project: HTTP %d: %s", resp.StatusCode, body)
	}
	var proj struct {
		ID      string            `json:"id"`
		APIKeys map[string]string `json:"api_keys"`
	}
	if err := json.Unmarshal(body, &proj); err != nil || proj.ID == "" || proj.APIKeys["write"] == "" || proj.APIKeys["read"] == "" {
		return project{}, fmt.Errorf("creating the project: unexpected answer %s", body)
	}
	return project{proj.ID, proj.APIKeys["write"], proj.APIKeys["read"], proj.APIKeys["master"]}, nil
}

// queryAPI runs one Keen query (POST, JSON parameters) and returns the
// "result" field and the round trip.
func queryAPI(ctx context.Context, httpURL, pid, key, analysis string, params map[string]any) (json.RawMessage, time.Duration, error) {
	body, _ := json.Marshal(params)
	req, _ := http.NewRequestWithContext(ctx, "POST", httpURL+"/3.0/projects/"+pid+"/queries/"+analysis, strings.NewReader(string(body)))
	req.Header.Set("Authorization", key)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	rtt := time.Since(t0)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%s: HTTP %d: %s", analysis, resp.StatusCode, b)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", analysis, err)
	}
	return out.Result, rtt, nil
}

func count(ctx context.Context, httpURL string, p project, params map[string]any) (int64, time.Duration, error) {
	raw, rtt, err := queryAPI(ctx, httpURL, p.ID, p.Read, "count", params)
	if err != nil {
		return 0, 0, err
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, rtt, err
}
