package gatewaytest

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/gateway"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// ProduceQuota runs the Inbound listener on brokers with a produce quota
// of 20,000 bytes/s per project: a batch past the project's burst is
// accepted (nothing sent is lost) and answered with the throttle time that
// repays the excess; the connection's next Produce is held until then, as
// a broker mutes a throttled client; another project is not slowed at all.
func ProduceQuota(t *testing.T, brokers []string) {
	const rate = 20_000
	e := StartLimits(t, brokers, limits.Default(), func(c *gateway.Config) { c.ProduceQuota = quota.New(rate, time.Second) })
	p, q := e.Project("P"), e.Project("Q")
	ensureTopic(t, e, p.ID, p.WriteKey, "orders")
	ensureTopic(t, e, q.ID, q.WriteKey, "orders")
	pc := e.LeaderConn(e.InAddr, p.ID, p.WriteKey, "orders", 0)
	qc := e.LeaderConn(e.InAddr, q.ID, q.WriteKey, "orders", 0)

	// 60,000 bytes: a second's burst (20,000) and two seconds of debt.
	code, throttle := produceThrottle(t, pc, produceReq(9, "orders", Batch(3*rate, 0)))
	if code != 0 || throttle < 1900*time.Millisecond || throttle > 2000*time.Millisecond {
		t.Fatalf("a batch over the quota: code %d, throttle %v; want it accepted with a throttle of about 2 s", code, throttle)
	}
	start := time.Now()
	if code, throttle := produceThrottle(t, qc, produceReq(9, "orders", JSONBatch([]byte(`{"q":1}`)))); code != 0 || throttle != 0 {
		t.Fatalf("another project's batch: code %d, throttle %v; want it accepted unthrottled", code, throttle)
	}
	code, _ = produceThrottle(t, pc, produceReq(9, "orders", JSONBatch([]byte(`{"p":2}`))))
	if held := time.Since(start); code != 0 || held < 1500*time.Millisecond {
		t.Fatalf("the throttled project's next batch: code %d after %v; want it held until its debt is repaid (~2 s)", code, held)
	}
	if n := len(e.BackendRecords(tenancy.RawTopic(p.ID, "", "orders"))); n != 2 {
		t.Fatalf("%d records of P stored, want both batches' (throttling must not lose what it accepted)", n)
	}
}

// produceThrottle sends req and returns its only partition's error code
// and the answer's throttle time.
func produceThrottle(t *testing.T, c interface {
	Do(kmsg.Request) (kmsg.Response, error)
}, req *kmsg.ProduceRequest) (int16, time.Duration) {
	t.Helper()
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	resp := r.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response %+v", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode, time.Duration(resp.ThrottleMillis) * time.Millisecond
}
