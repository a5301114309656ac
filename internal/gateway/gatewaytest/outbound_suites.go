package gatewaytest

// The Outbound listener's behaviour suites, run on kfake by the gateway's
// tests and on Apache Kafka by the end-to-end tests. Outbound topics are
// created and filled here with the backend's own client, as the pipeline
// does, so the listener is tested on its own.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// OutboundSuites are the suites by name.
var OutboundSuites = map[string]func(*testing.T, *Env){
	"ConsumeOnlyOwnTopics":       ConsumeOnlyOwnTopics,
	"GroupsAreIsolated":          GroupsAreIsolated,
	"GroupOfThreeSharesTopic":    GroupOfThreeSharesTopic,
	"OnlyCommittedRecords":       OnlyCommittedRecords,
	"TopicIDsAreAuthorized":      TopicIDsAreAuthorized,
	"FetchSessionsDisabled":      FetchSessionsDisabled,
	"OutboundRefusals":           OutboundRefusals,
	"TopicCreatedWhileConsuming": TopicCreatedWhileConsuming,
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"who":%q,"i":%d}`, prefix, i)
	}
	return out
}

func recordValues(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	slices.Sort(out)
	return out
}

// ConsumeOnlyOwnTopics: two projects both have `purchases`; each consumer
// (a group, and a regex subscription to everything) gets its own records
// only, under the client name.
func ConsumeOnlyOwnTopics(t *testing.T, e *Env) {
	p, q := e.Project("P"), e.Project("Q")
	e.Publish(e.OutboundTopic(p.ID, "purchases"), values("p", 30)...)
	e.Publish(e.OutboundTopic(p.ID, "purchases-dlq"), values("p-dlq", 3)...)
	e.Publish(e.OutboundTopic(q.ID, "purchases"), values("q", 20)...)
	e.Publish(e.OutboundTopic(q.ID, "secret"), values("q-secret", 5)...)

	cl := e.Consumer(p.ID, p.ReadKey, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("purchases"))
	got := Consume(t, cl, 30, 30*time.Second)
	if want := values("p", 30); !slices.Equal(recordValues(got), sortedCopy(want)) {
		t.Fatalf("p's group read %v", recordValues(got))
	}
	for _, r := range got {
		if r.Topic != "purchases" {
			t.Fatalf("record topic %q", r.Topic)
		}
	}
	if extra := ConsumeQuiet(cl, time.Second); len(extra) > 0 {
		t.Fatalf("%d more records", len(extra))
	}

	all := e.Consumer(p.ID, p.MasterKey, kgo.ConsumeRegex(), kgo.ConsumeTopics(".*"))
	got = Consume(t, all, 33, 30*time.Second)
	got = append(got, ConsumeQuiet(all, time.Second)...)
	topics := map[string]int{}
	for _, r := range got {
		topics[r.Topic]++
	}
	if len(got) != 33 || topics["purchases"] != 30 || topics["purchases-dlq"] != 3 {
		t.Fatalf("regex .* read %v", topics)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// GroupsAreIsolated: both projects use group "g"; each sees its own
// members, committed offsets and group list only.
func GroupsAreIsolated(t *testing.T, e *Env) {
	p, q := e.Project("P"), e.Project("Q")
	e.Publish(e.OutboundTopic(p.ID, "purchases"), values("p", 9)...)
	e.Publish(e.OutboundTopic(q.ID, "purchases"), values("q", 18)...)
	for _, x := range []struct {
		pid, key string
		n        int
	}{{p.ID, p.ReadKey, 9}, {q.ID, q.ReadKey, 18}} {
		cl := e.Consumer(x.pid, x.key, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("purchases"), kgo.DisableAutoCommit())
		Consume(t, cl, x.n, 30*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := e.OutboundAdmin(p.ID, p.MasterKey)
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := groups.Groups(); !slices.Equal(names, []string{"g"}) {
		t.Fatalf("p lists groups %v", names)
	}
	offsets, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Topic != "purchases" {
			t.Errorf("p's committed offsets name topic %q", o.Topic)
		}
		total += o.At
	})
	if total != 9 {
		t.Fatalf("p's committed offsets sum to %d, want 9 (q committed 18 in its own g)", total)
	}
	described, err := adm.DescribeGroups(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range described {
		if name != "g" || d.Err != nil {
			t.Fatalf("describe: %q %v", name, d.Err)
		}
	}

	// Raw: OffsetFetch v7 and v8 with null topics ("all") stay in p's
	// namespace; DescribeGroups of a backend name finds nothing.
	c := e.CoordinatorConn(p.ID, p.MasterKey, "g")
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, "g"
	r, err := c.Do(of)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range r.(*kmsg.OffsetFetchResponse).Topics {
		if tp.Topic != "purchases" {
			t.Errorf("OffsetFetch v7 shows topic %q", tp.Topic)
		}
	}
	of8 := kmsg.NewPtrOffsetFetchRequest()
	of8.Version = 8
	of8.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: tenancy.BackendGroup(q.ID, "g")}}
	r, err = c.Do(of8)
	if err != nil {
		t.Fatal(err)
	}
	for _, grp := range r.(*kmsg.OffsetFetchResponse).Groups {
		n := 0
		for _, tp := range grp.Topics {
			n += len(tp.Partitions)
		}
		switch grp.Group {
		case "g":
			if n != 9 {
				t.Errorf("OffsetFetch v8 g: %d partitions", n)
			}
		case tenancy.BackendGroup(q.ID, "g"):
			if n != 0 {
				t.Errorf("naming q's backend group reached it: %+v", grp)
			}
		default:
			t.Errorf("OffsetFetch v8 answered group %q", grp.Group)
		}
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 5, []string{tenancy.BackendGroup(q.ID, "g")}
	r, err = c.Do(dg)
	if err != nil {
		t.Fatal(err)
	}
	for _, grp := range r.(*kmsg.DescribeGroupsResponse).Groups {
		if len(grp.Members) > 0 || grp.ErrorCode == 0 && grp.State != "Dead" {
			t.Errorf("describing q's backend group name: %+v", grp)
		}
	}
}

// GroupOfThreeSharesTopic: three consumers of one group share the nine
// partitions, every record is read once, and committed offsets survive a
// consumer's restart.
func GroupOfThreeSharesTopic(t *testing.T, e *Env) {
	p := e.Project("P")
	topic := e.OutboundTopic(p.ID, "orders")
	var mu sync.Mutex
	owned := map[int]int{} // consumer → partitions assigned
	var cls []*kgo.Client
	for i := range 3 {
		track := func(delta int) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				owned[i] += delta * len(m["orders"])
			}
		}
		cls = append(cls, e.Consumer(p.ID, p.ReadKey, kgo.ConsumerGroup("trio"), kgo.ConsumeTopics("orders"),
			kgo.DisableAutoCommit(), kgo.Balancers(kgo.RoundRobinBalancer()),
			kgo.OnPartitionsAssigned(track(1)), kgo.OnPartitionsRevoked(track(-1)), kgo.OnPartitionsLost(track(-1))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The group settles with three partitions each before anything is
	// published, so every member has records to read.
	for {
		for _, cl := range cls {
			pctx, c := context.WithTimeout(ctx, 100*time.Millisecond)
			cl.PollFetches(pctx)
			c()
		}
		mu.Lock()
		settled := owned[0] == 3 && owned[1] == 3 && owned[2] == 3
		mu.Unlock()
		if settled {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the group never settled: partitions per member %v", owned)
		}
	}
	e.Publish(topic, values("first", 90)...)
	seen := map[string]int{}
	parts := map[int]map[int32]bool{}
	for len(seen) < 90 && ctx.Err() == nil {
		for i, cl := range cls {
			pctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
			fs := cl.PollFetches(pctx)
			c()
			for _, r := range fs.Records() {
				seen[string(r.Value)]++
				if parts[i] == nil {
					parts[i] = map[int32]bool{}
				}
				parts[i][r.Partition] = true
			}
		}
	}
	if len(seen) != 90 {
		t.Fatalf("the group read %d distinct records, want 90", len(seen))
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("%s read %d times", v, n)
		}
	}
	if len(parts) != 3 {
		t.Fatalf("records went to %d consumers, want all 3: %v", len(parts), parts)
	}
	for _, cl := range cls {
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	e.Publish(topic, values("second", 9)...)
	again := e.Consumer(p.ID, p.ReadKey, kgo.ConsumerGroup("trio"), kgo.ConsumeTopics("orders"))
	got := Consume(t, again, 9, 60*time.Second)
	got = append(got, ConsumeQuiet(again, time.Second)...)
	if !slices.Equal(recordValues(got), sortedCopy(values("second", 9))) {
		t.Fatalf("after restart the group read %v, want only the 9 new records", recordValues(got))
	}
}

// OnlyCommittedRecords: whatever isolation the client asks for, it reads
// committed transactions only — not aborted ones, not open ones — and sees
// them once committed.
func OnlyCommittedRecords(t *testing.T, e *Env) {
	p := e.Project("P")
	topic := e.OutboundTopic(p.ID, "txn")
	e.Transaction(topic, values("committed", 9), true)
	e.Transaction(topic, values("aborted", 9), false)
	e.Publish(topic, values("plain", 9)...)
	end := e.OpenTransaction(topic, values("open", 9))

	// kgo's default is read_uncommitted.
	cl := e.Consumer(p.ID, p.ReadKey, kgo.ConsumeTopics("txn"))
	got := Consume(t, cl, 18, 30*time.Second)
	got = append(got, ConsumeQuiet(cl, 2*time.Second)...)
	want := sortedCopy(append(values("committed", 9), values("plain", 9)...))
	if !slices.Equal(recordValues(got), want) {
		t.Fatalf("read %v, want %v", recordValues(got), want)
	}
	end(true)
	got = Consume(t, cl, 9, 30*time.Second)
	if !slices.Equal(recordValues(got), sortedCopy(values("open", 9))) {
		t.Fatalf("after the commit read %v", recordValues(got))
	}
	// Nothing else turns up: the emptied batches moved the position on.
	if extra := ConsumeQuiet(cl, time.Second); len(extra) > 0 {
		t.Fatalf("%d more records", len(extra))
	}
}

// TopicIDsAreAuthorized: a Fetch naming another project's topic by id is
// answered as for an unknown topic; Metadata only ever shows own ids.
func TopicIDsAreAuthorized(t *testing.T, e *Env) {
	p, q := e.Project("P"), e.Project("Q")
	e.Publish(e.OutboundTopic(p.ID, "purchases"), values("p", 9)...)
	e.Publish(e.OutboundTopic(q.ID, "purchases"), values("q", 9)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids, err := e.Backend.TopicIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idOf := map[string][16]byte{}
	for id, name := range ids {
		idOf[name] = id
	}
	own, foreign := idOf[tenancy.BackendOutboundTopic(p.ID, "purchases")], idOf[tenancy.BackendOutboundTopic(q.ID, "purchases")]

	c := e.Raw(e.OutAddr, p.ID, p.ReadKey)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	r, err := c.Do(meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range r.(*kmsg.MetadataResponse).Topics {
		if tp.TopicID == foreign || *tp.Topic != "purchases" || tp.TopicID != own {
			t.Fatalf("metadata shows %v %x", *tp.Topic, tp.TopicID)
		}
	}
	for _, tc := range []struct {
		name string
		id   [16]byte
		code int16
	}{{"own", own, 0}, {"other project's", foreign, kerr.UnknownTopicID.Code}, {"made up", [16]byte{9, 9, 9}, kerr.UnknownTopicID.Code}} {
		leader := e.LeaderConn(e.OutAddr, p.ID, p.ReadKey, "purchases", 0)
		f := kmsg.NewPtrFetchRequest()
		f.Version, f.MaxBytes, f.MaxWaitMillis = 13, 1<<20, 10
		f.Topics = []kmsg.FetchRequestTopic{{TopicID: tc.id, Partitions: []kmsg.FetchRequestTopicPartition{fetchPartition0()}}}
		r, err := leader.Do(f)
		if err != nil {
			t.Fatalf("%s id: %v", tc.name, err)
		}
		resp := r.(*kmsg.FetchResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("%s id: answer %+v", tc.name, resp)
		}
		part := resp.Topics[0].Partitions[0]
		if part.ErrorCode != tc.code {
			t.Errorf("%s id: error %v, want %v", tc.name, kerr.ErrorForCode(part.ErrorCode), kerr.ErrorForCode(tc.code))
		}
		if tc.code != 0 && len(part.RecordBatches) > 0 {
			t.Errorf("%s id: records returned", tc.name)
		}
		if strings.Contains(fmt.Sprint(resp), q.ID) {
			t.Errorf("%s id: answer mentions the other project", tc.name)
		}
	}
}

// FetchSessionsDisabled: a request to open a session gets a full answer
// without one; an incremental fetch of an unknown session is refused so
// the client falls back to full fetches.
func FetchSessionsDisabled(t *testing.T, e *Env) {
	p := e.Project("P")
	e.Publish(e.OutboundTopic(p.ID, "s"), values("p", 9)...)
	c := e.LeaderConn(e.OutAddr, p.ID, p.ReadKey, "s", 0)
	f := kmsg.NewPtrFetchRequest()
	f.Version, f.MaxBytes, f.MaxWaitMillis, f.SessionEpoch = 12, 1<<20, 10, 0
	f.Topics = []kmsg.FetchRequestTopic{{Topic: "s", Partitions: []kmsg.FetchRequestTopicPartition{fetchPartition0()}}}
	r, err := c.Do(f)
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.(*kmsg.FetchResponse); resp.SessionID != 0 || resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Topic != "s" {
		t.Fatalf("session-opening fetch: %+v", resp)
	}
	f.SessionID, f.SessionEpoch = 12345, 1
	r, err = c.Do(f)
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.(*kmsg.FetchResponse); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("incremental fetch of an unknown session: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// OutboundRefusals: producing, transactions, admin APIs and malformed group
// ids are refused with Kafka's codes, and nothing reaches the backend.
func OutboundRefusals(t *testing.T, e *Env) {
	p := e.Project("P")
	e.OutboundTopic(p.ID, "orders")
	c := e.Raw(e.OutAddr, p.ID, p.MasterKey)

	produce := produceReq(9, "orders", JSONBatch([]byte(`{"a":1}`)))
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	ipTxn := kmsg.NewPtrInitProducerIDRequest()
	ipTxn.Version, ipTxn.TransactionalID = 4, str("tx")
	fcTxn := kmsg.NewPtrFindCoordinatorRequest()
	fcTxn.Version, fcTxn.CoordinatorType, fcTxn.CoordinatorKey = 3, 1, "tx"
	endTxn := kmsg.NewPtrEndTxnRequest()
	endTxn.Version, endTxn.TransactionalID = 3, "tx"
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 5
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "new", NumPartitions: 1, ReplicationFactor: 1}}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version, del.TopicNames = 4, []string{"orders"}
	delGroups := kmsg.NewPtrDeleteGroupsRequest()
	delGroups.Version, delGroups.Groups = 2, []string{"g"}
	acls := kmsg.NewPtrDescribeACLsRequest()
	acls.Version = 2
	cgh := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	cgh.Group = "g"
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 5, "consumer", 10000, 10000
	badFetch := kmsg.NewPtrFetchRequest()
	badFetch.Version, badFetch.MaxBytes = 12, 1<<20
	badFetch.Topics = []kmsg.FetchRequestTopic{{Topic: "bad name", Partitions: []kmsg.FetchRequestTopicPartition{fetchPartition0()}}}
	badList := kmsg.NewPtrListOffsetsRequest()
	badList.Version = 5
	badList.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: tenancy.BackendOutboundTopic(p.ID, "orders") + "/x",
		Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1}}}}
	fcShare := kmsg.NewPtrFindCoordinatorRequest()
	fcShare.Version, fcShare.CoordinatorType, fcShare.CoordinatorKeys = 6, 2, []string{"g:orders:0"}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group = 8, "g"
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "bad name", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}

	checkRefusals(t, c, []refusalCase{
		{"Produce", produce, kerr.TopicAuthorizationFailed.Code},
		{"InitProducerId", ip, kerr.TransactionalIDAuthorizationFailed.Code},
		{"InitProducerId transactional", ipTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"FindCoordinator transaction v3", fcTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"EndTxn", endTxn, kerr.TransactionalIDAuthorizationFailed.Code},
		{"CreateTopics", create, kerr.TopicAuthorizationFailed.Code},
		{"DeleteTopics", del, kerr.TopicAuthorizationFailed.Code},
		{"DeleteGroups", delGroups, kerr.GroupAuthorizationFailed.Code},
		{"DescribeAcls", acls, kerr.ClusterAuthorizationFailed.Code},
		{"ConsumerGroupHeartbeat", cgh, kerr.GroupAuthorizationFailed.Code},
		{"JoinGroup with an empty group id", join, kerr.InvalidGroupID.Code},
		{"OffsetCommit of an invalid topic name", commit, kerr.InvalidTopicException.Code},
		{"ListOffsets of an invalid topic name", badList, kerr.InvalidTopicException.Code},
	})
	fc4 := kmsg.NewPtrFindCoordinatorRequest()
	fc4.Version, fc4.CoordinatorType, fc4.CoordinatorKeys = 4, 1, []string{"tx", "ty"}
	r, err := c.Do(fc4)
	if err != nil {
		t.Fatal(err)
	}
	for _, co := range r.(*kmsg.FindCoordinatorResponse).Coordinators {
		if co.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code || co.NodeID != -1 {
			t.Errorf("FindCoordinator v4 transaction key %q: %+v", co.Key, co)
		}
	}
	// Errors these answers carry per partition and per key only.
	r, err = c.Do(badFetch)
	if err != nil {
		t.Fatal(err)
	}
	if fr := r.(*kmsg.FetchResponse); len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("Fetch of an invalid topic name: %+v", fr)
	}
	r, err = c.Do(fcShare)
	if err != nil {
		t.Fatal(err)
	}
	if co := r.(*kmsg.FindCoordinatorResponse).Coordinators; len(co) != 1 || co[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("FindCoordinator with a share group key: %+v", co)
	}
	if e.TopicExists(tenancy.BackendOutboundTopic(p.ID, "new")) {
		t.Error("a refused CreateTopics created a topic")
	}
	if !e.TopicExists(tenancy.BackendOutboundTopic(p.ID, "orders")) {
		t.Error("a refused DeleteTopics deleted a topic")
	}
	if recs := e.BackendRecords(tenancy.BackendOutboundTopic(p.ID, "orders")); len(recs) > 0 {
		t.Errorf("a refused Produce wrote %d records", len(recs))
	}
}

// TopicCreatedWhileConsuming: a consumer of a topic that does not exist
// yet keeps retrying, as with Kafka, and reads once it exists.
func TopicCreatedWhileConsuming(t *testing.T, e *Env) {
	p := e.Project("P")
	cl := e.Consumer(p.ID, p.ReadKey, kgo.ConsumerGroup("early"), kgo.ConsumeTopics("later"))
	if got := ConsumeQuiet(cl, 2*time.Second); len(got) > 0 {
		t.Fatalf("read %d records of a topic that does not exist", len(got))
	}
	e.Publish(e.OutboundTopic(p.ID, "later"), values("p", 9)...)
	got := Consume(t, cl, 9, 60*time.Second)
	if !slices.Equal(recordValues(got), sortedCopy(values("p", 9))) {
		t.Fatalf("read %v", recordValues(got))
	}
}

// fetchPartition0 asks for partition 0 from offset 0 with kmsg's defaults
// (a zero HighWatermark would be sent as a tag Kafka refuses before v18).
func fetchPartition0() kmsg.FetchRequestTopicPartition {
	p := kmsg.NewFetchRequestTopicPartition()
	p.PartitionMaxBytes = 1 << 20
	return p
}
