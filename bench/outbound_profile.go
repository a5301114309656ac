package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// outboundHotspotRules sum a CPU profile of sluice serving consumers on its
// Outbound listener by what the code is doing (see hotspots.go). The
// pipeline's own work is grouped apart: it runs in the same process.
var outboundHotspotRules = []rule{
	{what: "TLS: encrypting the responses (AES-GCM)", all: []string{"crypto/tls.(*halfConn).encrypt"}},
	{what: "TLS: writing the responses to the client's socket (write syscalls)", all: []string{"crypto/tls.(*Conn).write", "internal/poll.(*FD).Write"}},
	{what: "TLS: decrypting the client's requests", all: []string{"crypto/tls.(*halfConn).decrypt"}},
	{what: "reading the broker's fetch response from the socket (read syscalls)", all: []string{"gateway.(*upstream).receive", "internal/poll.(*FD).Read"}},
	{what: "allocating (and zeroing) a buffer for every broker response", all: []string{"gateway.(*upstream).receive"}, any: []string{"runtime.makeslice", "runtime.mallocgc"}},
	{what: "emptying transaction markers and aborted batches (committedEdits)", any: []string{"gateway.committedEdits", "gateway.committedView"}},
	{what: "splicing the broker's fetch response (names and topic ids patched; record batches referenced, not copied)", any: []string{"kafkaproto.(*Splicer).Fetch"}},
	{what: "reading the broker's response (other)", all: []string{"gateway.(*upstream).receive"}},
	{what: "encoding the response: growing its buffer (appendResponse starts from nil: reallocations, copies, zeroing)", all: []string{"kafkaproto.appendResponse", "runtime.growslice"}},
	{what: "encoding the response for the client (copies every record batch)", any: []string{"kafkaproto.appendResponse"}},
	{what: "writing the response to the client (other)", any: []string{"kafkaproto.(*Conn).answer", "kafkaproto.(*Conn).writeRaw"}},
	{what: "reading and decoding the client's requests", any: []string{"kafkaproto.(*Conn).readFrame", "kafkaproto.decodeBody"}},
	{what: "writing the request to the broker", all: []string{"gateway.(*upstream).send"}},
	{what: "gateway bookkeeping (names, topic ids, metrics, registry lookups)", any: []string{"gateway.(*Gateway).Begin"}},
	{what: "the event pipeline (idle here: polling the raw topics)", any: []string{"internal/pipeline.", "franz-go/pkg/kgo."}},
	{what: "garbage collector", any: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{what: "Go scheduler and network poller", any: []string{"runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.morestack"}},
}

// profileConsume takes a CPU profile of sluice while a consumer reads t
// through the Outbound listener, again and again, outside the measured
// pairs.
func (o *obench) profileConsume(ctx context.Context, t target, want int64) error {
	file := filepath.Join(o.cfg.workDir, "sluice-outbound-cpu.pprof")
	secs := max(int(o.cfg.profile.Seconds()), 1)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.debugFetch(pctx, "/debug/pprof/profile", secs, file) }()
	logf("outbound: profiling sluice (CPU, %d s) while a consumer reads %s through the Outbound listener", secs, t.Topic)
	var runs []obConsume
	for {
		r, err := o.consumeRun(ctx, t, want, "transactional", -1)
		if err != nil {
			return err
		}
		runs = append(runs, r)
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			o.rep.ProfileRuns = runs
			hs, _, err := hotspotsBy(file, outboundHotspotRules)
			if err != nil {
				return err
			}
			o.rep.Hotspots = hs
			o.rep.ProfileTop = pprofTop(ctx, o.cfg.bin, file)
			logf("outbound: CPU profile in %s", file)
			return nil
		default:
		}
	}
}

// pprofTop is `go tool pprof -top` of a profile, or why it failed.
func pprofTop(ctx context.Context, bin, file string) string {
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", bin, file)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, errb.String())
	}
	return trimProfile(out.String())
}

// debugFetch saves one of sluice's --debug-addr profiles (pprof CPU
// profile, execution trace) taken over secs seconds.
func (o *obench) debugFetch(ctx context.Context, path string, secs int, file string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+o.debugAddr+path+"?seconds="+strconv.Itoa(secs), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, data)
	}
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	return err
}
