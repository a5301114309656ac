package kafkaproto

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// pipelineHandler answers later than the test handler: Metadata for
// "slow" is answered only when release closes, "fail later" fails when its
// answer is wanted.
type pipelineHandler struct {
	*testHandler
	began   chan string
	release chan struct{}
}

func (h *pipelineHandler) Begin(ctx context.Context, c *Conn, req kmsg.Request, frame []byte) (Pending, error) {
	if m, ok := req.(*kmsg.MetadataRequest); ok && len(m.Topics) == 1 && m.Topics[0].Topic != nil {
		name := *m.Topics[0].Topic
		h.began <- name
		switch name {
		case "slow":
			return func() (kmsg.Response, error) { <-h.release; return metadataResponse(c, m), nil }, nil
		case "fail later":
			return func() (kmsg.Response, error) { return nil, errors.New("backend gone") }, nil
		case "keep frame":
			// The frame must stay as it was until the answer is
			// written, whatever is read meanwhile.
			want := bytes.Clone(frame)
			return func() (kmsg.Response, error) {
				<-h.release
				if !bytes.Equal(frame, want) {
					return nil, errors.New("the frame changed before its answer was written")
				}
				return metadataResponse(c, m), nil
			}, nil
		}
	}
	return h.testHandler.Begin(ctx, c, req, frame)
}

func startPipelined(t *testing.T) (*testServer, *pipelineHandler) {
	ph := &pipelineHandler{testHandler: newTestHandler(), began: make(chan string, 16), release: make(chan struct{})}
	ts := startServer(t, func(c *Config) { c.Handler = ph })
	return ts, ph
}

// Requests are read ahead while an earlier answer is pending,
// and every answer, the server's own included, leaves in request order.
func TestPipelinedAnswersInOrder(t *testing.T) {
	ts, ph := startPipelined(t)
	rc := ts.dialAuth(t)
	slow, fast := metadataReq(12, "slow"), metadataReq(12, "fast")
	api := kmsg.NewPtrApiVersionsRequest()
	api.Version = 3
	api.ClientSoftwareName, api.ClientSoftwareVersion = "t", "1"
	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks = 9, 0
	c1 := rc.send(slow)
	c2 := rc.send(fast)
	rc.send(produce) // acks=0: owes nothing
	c4 := rc.send(api)
	for _, want := range []string{"slow", "fast"} {
		select {
		case got := <-ph.began:
			if got != want {
				t.Fatalf("began %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q was not read while an earlier answer was pending", want)
		}
	}
	rc.expectSilence(200 * time.Millisecond) // nothing overtakes the slow answer
	close(ph.release)
	if r := rc.read(slow, c1).(*kmsg.MetadataResponse); *r.Topics[0].Topic != "slow" {
		t.Fatalf("first answer %+v", r)
	}
	if r := rc.read(fast, c2).(*kmsg.MetadataResponse); *r.Topics[0].Topic != "fast" {
		t.Fatalf("second answer %+v", r)
	}
	if r := rc.read(api, c4).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 || len(r.ApiKeys) == 0 {
		t.Fatalf("ApiVersions answer %+v", r)
	}
}

// A pending answer that fails closes the connection; the server goes on.
func TestPipelinedFailureCloses(t *testing.T) {
	ts, ph := startPipelined(t)
	rc := ts.dialAuth(t)
	rc.send(metadataReq(12, "fail later"))
	<-ph.began
	rc.expectClosed()
	close(ph.release)
	if r := ts.dialAuth(t).roundTrip(metadataReq(12, "ok")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("next connection: %+v", r)
	}
}

// Shutdown answers what a pipelined connection already owes, then closes.
func TestPipelinedShutdownDrains(t *testing.T) {
	ts, ph := startPipelined(t)
	rc := ts.dialAuth(t)
	slow := metadataReq(12, "slow")
	c1 := rc.send(slow)
	<-ph.began
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	close(ph.release)
	if r := rc.read(slow, c1).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("owed answer %+v", r)
	}
	rc.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// A request's frame is not reused while its answer is pending, though the
// connection reads (into pooled buffers) the requests after it.
func TestPipelinedFrameKept(t *testing.T) {
	ts, ph := startPipelined(t)
	rc := ts.dialAuth(t)
	kept := metadataReq(12, "keep frame")
	c1 := rc.send(kept)
	<-ph.began
	var later []int32
	for _, name := range []string{"xxxx frame", "yyyy frame", "zzzz frame"} {
		later = append(later, rc.send(metadataReq(12, name)))
		<-ph.began
	}
	close(ph.release)
	if r := rc.read(kept, c1).(*kmsg.MetadataResponse); *r.Topics[0].Topic != "keep frame" {
		t.Fatalf("first answer %+v", r)
	}
	for _, corr := range later {
		rc.read(metadataReq(12, "xxxx frame"), corr)
	}
}
