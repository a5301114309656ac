package gatewaytest

// The Inbound listener's behaviour suites, run on kfake by the gateway's
// tests and on Apache Kafka (1 and 3 brokers) by the end-to-end tests.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// InboundSuites are the suites by name.
var InboundSuites = map[string]func(*testing.T, *Env){
	"AutofillKeyWritesToItsOwnRawTopic": AutofillKeyWritesToItsOwnRawTopic,
	"Authentication":                    Authentication,
	"RevokedKeyClosesLiveConnection":    RevokedKeyClosesLiveConnection,
	"ProduceRefusals":                   ProduceRefusals,
	"OtherRolesAPIsRefused":             OtherRolesAPIsRefused,
	"MetadataShowsOnlyOwnCollections":   MetadataShowsOnlyOwnCollections,
	"ProduceLandsInProjectRawTopic":     ProduceLandsInProjectRawTopic,
	"CorruptBatchesRefused":             CorruptBatchesRefused,
	"CompressedProducesLand":            CompressedProducesLand,
}

// ProduceLandsInProjectRawTopic: two projects produce to the same
// collection with franz-go (idempotent by default); each lands in its own
// raw topic and nowhere else.
func ProduceLandsInProjectRawTopic(t *testing.T, e *Env) {
	staging, production := e.Project("Staging"), e.Project("Production")
	ProduceN(t, e.Producer(staging.ID, staging.WriteKey), "purchases", 100)
	ProduceN(t, e.Producer(production.ID, production.MasterKey), "purchases", 7)
	if got := len(e.BackendRecords(tenancy.RawTopic(staging.ID, "", "purchases"))); got != 100 {
		t.Errorf("staging raw topic has %d records, want 100", got)
	}
	if got := len(e.BackendRecords(tenancy.RawTopic(production.ID, "", "purchases"))); got != 7 {
		t.Errorf("production raw topic has %d records, want 7", got)
	}
	if e.TopicExists("purchases") {
		t.Error("a backend topic named after the client's topic exists")
	}
}

// ProduceN produces n small JSON records to topic and waits for every ack.
func ProduceN(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

func AutofillKeyWritesToItsOwnRawTopic(t *testing.T, e *Env) {
	p := e.Project("P")
	plainKey := e.AccessKey(p.ID, registry.AccessKey{Name: "plain", IsActive: true, Permitted: []string{registry.PermWrites}})
	auto := e.AccessKey(p.ID, registry.AccessKey{Name: "auto", IsActive: true, Permitted: []string{registry.PermWrites},
		Options: registry.Options{Writes: &registry.WritesOptions{Autofill: map[string]any{"tenant": "a"}}}})
	ProduceN(t, e.Producer(p.ID, plainKey.Key), "events", 3)
	ProduceN(t, e.Producer(p.ID, auto.Key), "events", 5)
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, "", "events"))); got != 3 {
		t.Errorf("plain raw topic: %d records, want 3", got)
	}
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, tenancy.KeyID(auto.Key), "events"))); got != 5 {
		t.Errorf("autofill raw topic: %d records, want 5", got)
	}
}

func Authentication(t *testing.T, e *Env) {
	p, q := e.Project("P"), e.Project("Q")
	writer := e.AccessKey(p.ID, registry.AccessKey{Name: "w", IsActive: true, Permitted: []string{registry.PermWrites}})
	reader := e.AccessKey(p.ID, registry.AccessKey{Name: "r", IsActive: true, Permitted: []string{registry.PermQueries}})
	revoked := e.AccessKey(p.ID, registry.AccessKey{Name: "x", IsActive: false, Permitted: []string{registry.PermWrites}})

	ok := []struct{ name, user, pass string }{
		{"master", p.ID, p.MasterKey}, {"write", p.ID, p.WriteKey}, {"access key permitting writes", p.ID, writer.Key},
	}
	for _, tc := range ok {
		if _, err := kraw.DialAuth(e.InAddr, e.TLS, tc.user, tc.pass); err != nil {
			t.Errorf("%s refused: %v", tc.name, err)
		}
	}
	bad := []struct{ name, user, pass, want string }{
		{"wrong key", p.ID, strings.Repeat("0", 64), "invalid project id or key"},
		{"unknown project", "ffffffffffffffffffffffff", p.MasterKey, "invalid project id or key"},
		{"malformed project id", "staging", p.MasterKey, "invalid project id or key"},
		{"other project's key", q.ID, p.MasterKey, "invalid project id or key"},
		{"revoked key", p.ID, revoked.Key, "invalid project id or key"},
		{"read key", p.ID, p.ReadKey, "may not produce"},
		{"access key without writes", p.ID, reader.Key, "may not produce"},
	}
	for _, tc := range bad {
		_, err := kraw.DialAuth(e.InAddr, e.TLS, tc.user, tc.pass)
		ae, isAuth := err.(*kraw.AuthError)
		if !isAuth || ae.Err != kerr.SaslAuthenticationFailed || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: err = %v, want SASL_AUTHENTICATION_FAILED saying %q", tc.name, err, tc.want)
		}
		if isAuth && (strings.Contains(ae.Message, q.ID) || strings.Contains(ae.Message, "sluice.")) {
			t.Errorf("%s: message leaks names: %q", tc.name, ae.Message)
		}
	}
}

func RevokedKeyClosesLiveConnection(t *testing.T, e *Env) {
	p := e.Project("P")
	k := e.AccessKey(p.ID, registry.AccessKey{Name: "w", IsActive: true, Permitted: []string{registry.PermWrites}})
	busy := e.Raw(e.InAddr, p.ID, k.Key)
	idle := e.Raw(e.InAddr, p.ID, k.Key)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	if _, err := busy.Do(meta); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Registry.UpdateAccessKey(context.Background(), p.ID, k.Key, func(k *registry.AccessKey) { k.IsActive = false }); err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Do(meta); err == nil {
		t.Error("a revoked key's connection still gets answers")
	}
	if !idle.Closed(5 * time.Second) {
		t.Error("an idle connection of a revoked key stays open")
	}
}

func str(s string) *string { return &s }

func produceReq(version int16, topic string, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, -1, 10000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: records}}}}
	return req
}

// produceCode sends req on c and returns the error code of its only partition.
func produceCode(t *testing.T, c interface {
	Do(kmsg.Request) (kmsg.Response, error)
}, req *kmsg.ProduceRequest) (int16, string) {
	t.Helper()
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	resp := r.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Topic != req.Topics[0].Topic {
		t.Fatalf("produce response %+v does not echo the topic", resp)
	}
	p := resp.Topics[0].Partitions[0]
	msg := ""
	if p.ErrorMessage != nil {
		msg = *p.ErrorMessage
	}
	return p.ErrorCode, msg
}

// ensureTopic creates a collection through Metadata, as a producer would.
func ensureTopic(t *testing.T, e *Env, user, pass, topic string) {
	t.Helper()
	c := e.Raw(e.InAddr, user, pass)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: str(topic)}}
	for i := 0; i < 50; i++ {
		r, err := c.Do(meta)
		if err != nil {
			t.Fatal(err)
		}
		if mt := r.(*kmsg.MetadataResponse).Topics; len(mt) == 1 && mt[0].ErrorCode == 0 && len(mt[0].Partitions) == 9 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("collection %s never became available", topic)
}

func ProduceRefusals(t *testing.T, e *Env) {
	p := e.Project("P")
	ensureTopic(t, e, p.ID, p.WriteKey, "orders")
	c := e.LeaderConn(e.InAddr, p.ID, p.WriteKey, "orders", 0)
	valid := JSONBatch([]byte(`{"ok":true}`))
	raw := tenancy.RawTopic(p.ID, "", "orders")

	cases := []struct {
		name string
		req  *kmsg.ProduceRequest
		code int16
		msg  string
	}{
		{"invalid characters", produceReq(9, "bad name", valid), kerr.InvalidTopicException.Code, "not allowed"},
		{"dlq suffix", produceReq(9, "orders-dlq", valid), kerr.InvalidTopicException.Code, "dead letter"},
		{"too long", produceReq(9, strings.Repeat("x", 65), valid), kerr.InvalidTopicException.Code, "longer than 64"},
		{"batch one byte too large", produceReq(9, "orders", Batch(limits.MaxMessageBytes+1, 0)), kerr.MessageTooLarge.Code, "message.max.bytes"},
		{"transactional batch", produceReq(9, "orders", Batch(200, 0x10)), kerr.TransactionalIDAuthorizationFailed.Code, "transactions"},
		{"corrupt batch", produceReq(9, "orders", []byte("not a record batch at all, nowhere near it, definitely not")), kerr.CorruptMessage.Code, "corrupt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := produceCode(t, c, tc.req)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %v %q, want %v mentioning %q", kerr.ErrorForCode(code), msg, kerr.ErrorForCode(tc.code), tc.msg)
			}
			if strings.Contains(msg, "sluice.") {
				t.Fatalf("message leaks a backend name: %q", msg)
			}
		})
	}
	if n := len(e.BackendRecords(raw)); n != 0 {
		t.Fatalf("refused batches wrote %d records", n)
	}
	for _, bad := range []string{"bad name", "orders-dlq", strings.Repeat("x", 65)} {
		if e.TopicExists(tenancy.RawTopic(p.ID, "", bad)) {
			t.Errorf("a backend topic was created for %q", bad)
		}
	}

	t.Run("batch of exactly message.max.bytes", func(t *testing.T) {
		if code, msg := produceCode(t, c, produceReq(9, "orders", Batch(limits.MaxMessageBytes, 0))); code != 0 {
			t.Fatalf("refused: %v %s", kerr.ErrorForCode(code), msg)
		}
		if n := len(e.BackendRecords(raw)); n != 1 {
			t.Fatalf("%d records written, want 1", n)
		}
	})

	t.Run("transactional request", func(t *testing.T) {
		req := produceReq(9, "orders", valid)
		req.TransactionID = str("tx")
		if code, _ := produceCode(t, c, req); code != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("got %v", kerr.ErrorForCode(code))
		}
	})

	t.Run("acks=0 gets no answer, the next request does", func(t *testing.T) {
		req := produceReq(9, "orders", valid)
		req.Acks = 0
		if err := c.Send(req); err != nil {
			t.Fatal(err)
		}
		if err := c.Quiet(300 * time.Millisecond); err != nil {
			t.Fatalf("acks=0: %v", err)
		}
		if code, _ := produceCode(t, c, produceReq(9, "orders", valid)); code != 0 {
			t.Fatalf("next produce: %v", kerr.ErrorForCode(code))
		}
	})

	t.Run("produce v2 closes", func(t *testing.T) {
		c2 := e.LeaderConn(e.InAddr, p.ID, p.WriteKey, "orders", 0)
		if err := c2.Send(produceReq(2, "orders", valid)); err != nil {
			t.Fatal(err)
		}
		if !c2.Closed(5 * time.Second) {
			t.Fatal("connection left open")
		}
	})
}

// TestOtherRolesAPIsRefused: what a producer-only listener does not serve is
// answered like a broker whose ACLs deny, and the connection stays usable.
func OtherRolesAPIsRefused(t *testing.T, e *Env) {
	p := e.Project("P")
	c := e.Raw(e.InAddr, p.ID, p.MasterKey)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 11
	fetch.Topics = []kmsg.FetchRequestTopic{{Topic: "orders", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0}}}}
	fcTxn := kmsg.NewPtrFindCoordinatorRequest()
	fcTxn.Version, fcTxn.CoordinatorType, fcTxn.CoordinatorKey = 3, 1, "tx"
	fcGroup := kmsg.NewPtrFindCoordinatorRequest()
	fcGroup.Version, fcGroup.CoordinatorKey = 2, "g"
	ipTxn := kmsg.NewPtrInitProducerIDRequest()
	ipTxn.Version, ipTxn.TransactionalID = 4, str("tx")
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 5
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "orders", NumPartitions: 1, ReplicationFactor: 1}}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version, del.TopicNames = 4, []string{"orders"}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType = 5, "g", "consumer"
	offFetch := kmsg.NewPtrOffsetFetchRequest()
	offFetch.Version, offFetch.Group = 7, "g"
	list := kmsg.NewPtrListOffsetsRequest()
	list.Version = 5
	list.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "orders", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1}}}}
	endTxn := kmsg.NewPtrEndTxnRequest()
	endTxn.Version, endTxn.TransactionalID = 3, "tx"
	acls := kmsg.NewPtrDescribeACLsRequest()
	acls.Version = 2

	checkRefusals(t, c, []refusalCase{
		{"Fetch", fetch, kerr.TopicAuthorizationFailed.Code},
		{"ListOffsets", list, kerr.TopicAuthorizationFailed.Code},
		{"FindCoordinator transaction", fcTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"FindCoordinator group", fcGroup, kerr.GroupAuthorizationFailed.Code},
		{"JoinGroup", join, kerr.GroupAuthorizationFailed.Code},
		{"OffsetFetch", offFetch, kerr.GroupAuthorizationFailed.Code},
		{"InitProducerId transactional", ipTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"EndTxn", endTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"CreateTopics", create, kerr.TopicAuthorizationFailed.Code},
		{"DeleteTopics", del, kerr.TopicAuthorizationFailed.Code},
		{"DescribeAcls", acls, kerr.ClusterAuthorizationFailed.Code},
	})
	// Non-transactional InitProducerId is served: idempotent producers need it.
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	r, err := c.Do(ip)
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.(*kmsg.InitProducerIDResponse); resp.ErrorCode != 0 || resp.ProducerID < 0 {
		t.Fatalf("InitProducerId = %+v", resp)
	}
	if e.TopicExists(tenancy.RawTopic(p.ID, "", "orders")) {
		t.Error("a refused request created a topic")
	}
}

func MetadataShowsOnlyOwnCollections(t *testing.T, e *Env) {
	p, q := e.Project("P"), e.Project("Q")
	ensureTopic(t, e, p.ID, p.WriteKey, "purchases")
	ensureTopic(t, e, p.ID, p.WriteKey, "signups")
	ensureTopic(t, e, q.ID, q.WriteKey, "purchases")
	ensureTopic(t, e, q.ID, q.WriteKey, "secret-q-only")

	for _, version := range []int16{0, 1, 4, 9, 12} {
		c := e.Raw(e.InAddr, p.ID, p.MasterKey)
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = version
		if version == 0 {
			meta.Topics = []kmsg.MetadataRequestTopic{}
		}
		r, err := c.Do(meta)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		resp := r.(*kmsg.MetadataResponse)
		var names []string
		for _, tp := range resp.Topics {
			names = append(names, *tp.Topic)
		}
		if strings.Join(names, ",") != "purchases,signups" && strings.Join(names, ",") != "signups,purchases" {
			t.Errorf("v%d: all-topics metadata lists %v, want only purchases and signups", version, names)
		}
		for _, b := range resp.Brokers {
			if b.Host != "localhost" {
				t.Errorf("v%d: broker host %q leaks", version, b.Host)
			}
		}
		if resp.ClusterID != nil && strings.Contains(*resp.ClusterID, "embedded") {
			t.Errorf("v%d: backend cluster id %q leaks", version, *resp.ClusterID)
		}
	}

	// Naming the other project's collection only ever creates one's own.
	c := e.Raw(e.InAddr, p.ID, p.MasterKey)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: str("secret-q-only")}, {Topic: str("bad name")}, {TopicID: [16]byte{1, 2, 3}}}
	r, err := c.Do(meta)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, tp := range r.(*kmsg.MetadataResponse).Topics {
		name := "<id>"
		if tp.Topic != nil {
			name = *tp.Topic
		}
		codes[name] = tp.ErrorCode
	}
	if codes["bad name"] != kerr.InvalidTopicException.Code || codes["<id>"] != kerr.UnknownTopicID.Code {
		t.Errorf("codes = %v", codes)
	}
	if !e.TopicExists(tenancy.RawTopic(q.ID, "", "secret-q-only")) {
		t.Fatal("q's topic vanished")
	}
	if e.TopicExists(tenancy.RawTopic(p.ID, "", "secret-q-only")) != (codes["secret-q-only"] == 0) {
		t.Fatal("p's own secret-q-only collection: answer and backend disagree")
	}
}

// refusalCase is a request and the one error code every error field of
// its answer must carry.
type refusalCase struct {
	name string
	req  kmsg.Request
	code int16
}

// checkRefusals sends each request on c and checks its answer's codes.
func checkRefusals(t *testing.T, c *kraw.Conn, cases []refusalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Do(tc.req)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			codes := ErrorCodes(resp)
			if len(codes) == 0 {
				t.Fatal("answer has no error code")
			}
			for _, code := range codes {
				if code != tc.code {
					t.Fatalf("error codes %v, want all %v", codes, kerr.ErrorForCode(tc.code))
				}
			}
		})
	}
}
