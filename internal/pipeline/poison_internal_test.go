package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestBackoffDoublesUpTo30s(t *testing.T) {
	for failures, want := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second,
	} {
		if got := backoff(failures); got != want {
			t.Errorf("backoff(%d) = %s, want %s", failures, got, want)
		}
	}
}

func TestClassifyProduce(t *testing.T) {
	for _, c := range []struct {
		err  error
		want produceFault
	}{
		{kerr.MessageTooLarge, recordFault},
		{fmt.Errorf("%w (uncompressed_bytes=2000000)", kerr.MessageTooLarge), recordFault},
		{kerr.RecordListTooLarge, recordFault},
		{kerr.InvalidRecord, recordFault},
		{kerr.CorruptMessage, recordFault},
		{kerr.InvalidTopicException, topicFault},
		{kerr.TopicAuthorizationFailed, topicFault},
		{kerr.PolicyViolation, topicFault},
		{kerr.NotLeaderForPartition, transientFault},
		{kerr.RequestTimedOut, transientFault},
		{kerr.InvalidProducerEpoch, transientFault},
		{kerr.NotCoordinator, transientFault},
		{kerr.RebalanceInProgress, transientFault},
		{errors.New("context deadline exceeded"), transientFault},
	} {
		if got := classifyProduce(c.err); got != c.want {
			t.Errorf("classifyProduce(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if r := faultReason(fmt.Errorf("x: %w", kerr.TopicAuthorizationFailed)); r != "topic_authorization_failed" {
		t.Errorf("reason %q", r)
	}
	if r := faultReason(errors.New("x")); r != "produce_error" {
		t.Errorf("reason %q", r)
	}
}

func TestStoreDown(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("inserting: %w", syscall.ENOSPC), true},
		{errors.New("IO Error: Could not write file \"x.wal\": No space left on device"), true},
		{errors.New("FATAL Error: database has been invalidated because of a previous fatal error"), true},
		{errors.New("Conversion Error: could not convert string to INT32"), false},
		{errors.New("injected: a value the store cannot take"), false},
	} {
		if got := storeDown(c.err); got != c.want {
			t.Errorf("storeDown(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// The poison memory keeps at most max verdicts, oldest out first, and
// forgets those of committed batches.
func TestPoisonMemoryIsBounded(t *testing.T) {
	pm := newPoisonMemory(3)
	at := func(o int64) pos { return pos{"t", 0, o} }
	for o := int64(0); o < 5; o++ {
		pm.note(at(o)).skipStream = "x"
	}
	if pm.len() != 3 || pm.get(at(0)) != nil || pm.get(at(1)) != nil || pm.get(at(4)) == nil || pm.evicted != 2 {
		t.Fatalf("after 5 notes: %d kept, evicted %d", pm.len(), pm.evicted)
	}
	if v := pm.note(at(4)); v.skipStream != "x" {
		t.Fatal("note of a known position lost its verdict")
	}
	pm.note(pos{"u", 1, 7}).alone = true
	pm.forget(map[string]map[int32]int64{"t": {0: 4}})
	if pm.len() != 2 || pm.get(at(4)) == nil || pm.get(pos{"u", 1, 7}) == nil {
		t.Fatalf("after forgetting below offset 4: %d kept", pm.len())
	}
	// Many notes and forgets leave no garbage behind.
	for o := int64(100); o < 10_000; o++ {
		pm.note(at(o))
		if o%10 == 0 {
			pm.forget(map[string]map[int32]int64{"t": {0: o}})
		}
	}
	if pm.len() > 3 || len(pm.order) > 2*3+64 {
		t.Fatalf("%d verdicts, order of %d", pm.len(), len(pm.order))
	}
}

// A partition that fails on every fetch is logged once per 30 s, with the
// count, and a failing batch once when it starts failing, then every 30 s.
func TestRepeatedFailuresAreLoggedRarely(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l fetchErrorLog
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 12_000; i++ { // 12,000 a second for 40 s
		l.warn(log, "raw", 3, errors.New("decompressing a batch"), now.Add(time.Duration(i)*40*time.Second/12_000))
	}
	if n := strings.Count(buf.String(), "reading a raw topic"); n != 2 {
		t.Fatalf("%d lines for one failing partition over 40 s, want 2:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "times=9000") {
		t.Fatalf("the second line does not count the errors in between:\n%s", buf.String())
	}

	buf.Reset()
	var h healthState
	for i := 0; i < 40; i++ {
		h.failed(log, errors.New("broker down"), now.Add(time.Duration(i)*time.Second))
	}
	if n := strings.Count(buf.String(), "level=ERROR"); n != 2 {
		t.Fatalf("%d lines for 40 failures over 40 s, want 2:\n%s", n, buf.String())
	}
	if got := h.h; !got.Retrying || got.Failures != 40 || got.LastError != "broker down" || !got.Since.Equal(now) {
		t.Fatalf("health %+v", got)
	}
	h.committed(log, now.Add(time.Minute))
	if got := h.h; got.Retrying || got.Failures != 0 || got.LastError != "" || !got.LastCommit.Equal(now.Add(time.Minute)) {
		t.Fatalf("health after a commit %+v", got)
	}
}
