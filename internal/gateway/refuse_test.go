package gateway

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Test data conventions: every name, ID and partition that a refusal must
// echo is marked, so a generic walk can find it in the request and look for
// it in the response:
//   - strings starting with "echo-" (topics, groups, keys, ids, users, ...);
//   - [16]byte IDs whose first byte is 0xEC;
//   - partitions numbered 100 and above (checked per topic).
//
// Names the response has no place for (e.g. the group of a Heartbeat) are
// deliberately unmarked.

const (
	refuseTestCode = 29 // TOPIC_AUTHORIZATION_FAILED
	refuseTestMsg  = "denied"
)

var (
	refuseT1, refuseT2   = "echo-t1", "echo-t2"
	refuseID1, refuseID2 = [16]byte{0xEC, 1}, [16]byte{0xEC, 2}
	refuseUnmarkedID     = [16]byte{0x01, 0x02}
)

// refuseTopics is what most builders name: two topics, three partitions.
var refuseTopics = []struct {
	name       string
	id         [16]byte
	partitions []int32
}{
	{refuseT1, refuseID1, []int32{101, 102}},
	{refuseT2, refuseID2, []int32{103}},
}

type refuseCase struct {
	build func(v int16) kmsg.Request
	// notOK reports versions where Refuse must answer ok=false.
	notOK func(v int16) bool
	// exempt lists error-field paths Refuse deliberately leaves at 0.
	exempt []string
	// check runs explicit assertions on the decoded response.
	check func(t *testing.T, v int16, resp kmsg.Response)
}

var refuseCases = map[int16]refuseCase{
	0:  {build: buildProduce, check: checkProduce},
	1:  {build: buildFetch, check: checkFetch},
	2:  {build: buildListOffsets, check: checkListOffsets},
	3:  {build: buildMetadata, check: checkMetadata, exempt: []string{"ErrorCode"}},
	8:  {build: buildOffsetCommit, check: checkOffsetCommit},
	9:  {build: buildOffsetFetch, check: checkOffsetFetch},
	10: {build: buildFindCoordinator, check: checkFindCoordinator},
	11: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.ProtocolType = "g", "echo-member", "consumer"
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		r := resp.(*kmsg.JoinGroupResponse)
		if r.Generation != -1 || r.MemberID != "echo-member" {
			t.Errorf("generation %d member %q, want -1 echo-member", r.Generation, r.MemberID)
		}
	}},
	12: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID = "g", "m"
		return r
	}},
	13: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Group, r.MemberID = "g", "m"
		r.Members = []kmsg.LeaveGroupRequestMember{
			{MemberID: "echo-m1", InstanceID: kmsg.StringPtr("echo-i1")},
			{MemberID: "echo-m2"},
		}
		return r
	}},
	14: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group, r.MemberID = "g", "m"
		return r
	}},
	15: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = []string{"echo-g1", "echo-g2"}
		return r
	}},
	16: {build: func(int16) kmsg.Request { return kmsg.NewPtrListGroupsRequest() }},
	19: {build: buildCreateTopics, check: checkCreateTopics},
	20: {build: func(v int16) kmsg.Request {
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TopicNames = []string{refuseT1, refuseT2}
		r.Topics = []kmsg.DeleteTopicsRequestTopic{
			{Topic: kmsg.StringPtr(refuseT1)},
			{TopicID: refuseID2},
		}
		return r
	}},
	21: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDeleteRecordsRequest()
		for _, tp := range refuseTopics {
			rt := kmsg.DeleteRecordsRequestTopic{Topic: tp.name}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.DeleteRecordsRequestTopicPartition{Partition: p, Offset: 5})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
	22: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionalID = kmsg.StringPtr("txn")
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		r := resp.(*kmsg.InitProducerIDResponse)
		if r.ProducerID != -1 || r.ProducerEpoch != -1 || r.ThrottleMillis != 0 {
			t.Errorf("producer %d/%d throttle %d, want -1/-1 and 0", r.ProducerID, r.ProducerEpoch, r.ThrottleMillis)
		}
	}},
	23: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		for _, tp := range refuseTopics {
			rt := kmsg.OffsetForLeaderEpochRequestTopic{Topic: tp.name}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetForLeaderEpochRequestTopicPartition{Partition: p, LeaderEpoch: 3})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
	24: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.TransactionalID = "txn"
		for _, tp := range refuseTopics {
			r.Topics = append(r.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: tp.name, Partitions: tp.partitions})
		}
		for _, id := range []string{"echo-x1", "echo-x2"} {
			x := kmsg.AddPartitionsToTxnRequestTransaction{TransactionalID: id}
			for _, tp := range refuseTopics {
				x.Topics = append(x.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: tp.name, Partitions: tp.partitions})
			}
			r.Transactions = append(r.Transactions, x)
		}
		return r
	}},
	25: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.TransactionalID, r.Group = "txn", "g"
		return r
	}},
	26: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrEndTxnRequest()
		r.TransactionalID = "txn"
		return r
	}},
	28: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.TransactionalID, r.Group = "txn", "g"
		for _, tp := range refuseTopics {
			rt := kmsg.TxnOffsetCommitRequestTopic{Topic: tp.name, TopicID: tp.id}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.TxnOffsetCommitRequestTopicPartition{Partition: p, Offset: 9})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
	29: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeACLsRequest()
		r.ResourceType = kmsg.ACLResourceTypeTopic
		r.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		return r
	}},
	30: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrCreateACLsRequest()
		for _, name := range []string{"a", "b"} {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, name, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host = "User:x", "*"
			c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			r.Creations = append(r.Creations, c)
		}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		if n := len(resp.(*kmsg.CreateACLsResponse).Results); n != 2 {
			t.Errorf("%d results, want one per creation (2)", n)
		}
	}},
	31: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDeleteACLsRequest()
		for range 2 {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			r.Filters = append(r.Filters, f)
		}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		if n := len(resp.(*kmsg.DeleteACLsResponse).Results); n != 2 {
			t.Errorf("%d results, want one per filter (2)", n)
		}
	}},
	32: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeConfigsRequest()
		r.Resources = []kmsg.DescribeConfigsRequestResource{
			{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: refuseT1},
			{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "echo-1"},
		}
		return r
	}},
	33: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAlterConfigsRequest()
		r.Resources = []kmsg.AlterConfigsRequestResource{
			{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: refuseT1},
			{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: refuseT2},
		}
		return r
	}},
	35: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeLogDirsRequest()
		r.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		return r
	}, notOK: func(v int16) bool { return v < 3 }},
	37: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: refuseT1, Count: 4}, {Topic: refuseT2, Count: 6}}
		return r
	}},
	42: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Groups = []string{"echo-g1", "echo-g2"}
		return r
	}},
	43: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrElectLeadersRequest()
		for _, tp := range refuseTopics {
			r.Topics = append(r.Topics, kmsg.ElectLeadersRequestTopic{Topic: tp.name, Partitions: tp.partitions})
		}
		return r
	}},
	44: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
			{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: refuseT1},
			{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: refuseT2},
		}
		return r
	}},
	45: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		for _, tp := range refuseTopics {
			rt := kmsg.AlterPartitionAssignmentsRequestTopic{Topic: tp.name}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.AlterPartitionAssignmentsRequestTopicPartition{Partition: p, Replicas: []int32{1, 2}})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
	46: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrListPartitionReassignmentsRequest()
		r.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		return r
	}},
	47: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = "g"
		for _, tp := range refuseTopics {
			rt := kmsg.OffsetDeleteRequestTopic{Topic: tp.name}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
	48: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeClientQuotasRequest()
		r.Components = []kmsg.DescribeClientQuotasRequestComponent{{EntityType: "user", MatchType: kmsg.QuotasMatchTypeAny}}
		return r
	}},
	49: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAlterClientQuotasRequest()
		for _, user := range []string{"echo-u1", "echo-u2"} {
			r.Entries = append(r.Entries, kmsg.AlterClientQuotasRequestEntry{
				Entity: []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "user", Name: kmsg.StringPtr(user)}},
				Ops:    []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Value: 1024}},
			})
		}
		return r
	}},
	50: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
		r.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{{Name: "echo-u1"}, {Name: "echo-u2"}}
		return r
	}},
	51: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		r.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "echo-u1", Mechanism: 1}}
		r.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
			{Name: "echo-u2", Mechanism: 1, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
			{Name: "echo-u1", Mechanism: 2, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
		}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		if n := len(resp.(*kmsg.AlterUserSCRAMCredentialsResponse).Results); n != 2 {
			t.Errorf("%d results, want one per distinct user (2)", n)
		}
	}},
	34: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrAlterReplicaLogDirsRequest()
		for i, tp := range refuseTopics {
			r.Dirs = append(r.Dirs, kmsg.AlterReplicaLogDirsRequestDir{Dir: fmt.Sprintf("/data/%d", i),
				Topics: []kmsg.AlterReplicaLogDirsRequestDirTopic{{Topic: tp.name, Partitions: tp.partitions}}})
		}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		n := 0
		for _, tp := range resp.(*kmsg.AlterReplicaLogDirsResponse).Topics {
			n += len(tp.Partitions)
		}
		want := 0
		for _, tp := range refuseTopics {
			want += len(tp.partitions)
		}
		if n != want {
			t.Errorf("%d partitions answered, want every one asked for (%d)", n, want)
		}
	}},
	57: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrUpdateFeaturesRequest()
		r.FeatureUpdates = []kmsg.UpdateFeaturesRequestFeatureUpdate{{Feature: "f1", MaxVersionLevel: 2}, {Feature: "f2", MaxVersionLevel: 1}}
		return r
	}, check: func(t *testing.T, v int16, resp kmsg.Response) {
		if n := len(resp.(*kmsg.UpdateFeaturesResponse).Results); v <= 1 && n != 2 {
			t.Errorf("v%d: %d results, want one per feature (2)", v, n)
		}
	}},
	60: {build: func(int16) kmsg.Request { return kmsg.NewPtrDescribeClusterRequest() }},
	61: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeProducersRequest()
		for _, tp := range refuseTopics {
			r.Topics = append(r.Topics, kmsg.DescribeProducersRequestTopic{Topic: tp.name, Partitions: tp.partitions})
		}
		return r
	}},
	65: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeTransactionsRequest()
		r.TransactionalIDs = []string{"echo-x1", "echo-x2"}
		return r
	}},
	66: {build: func(int16) kmsg.Request { return kmsg.NewPtrListTransactionsRequest() }},
	68: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group, r.MemberID = "g", "m"
		r.SubscribedTopicNames = []string{"t"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: refuseUnmarkedID, Partitions: []int32{0}}}
		return r
	}},
	69: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrConsumerGroupDescribeRequest()
		r.Groups = []string{"echo-g1", "echo-g2"}
		return r
	}},
	71: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
		r.ClientInstanceID = [16]byte{0xEC, 0x71}
		return r
	}},
	72: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrPushTelemetryRequest()
		r.ClientInstanceID = refuseUnmarkedID
		return r
	}},
	75: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrDescribeTopicPartitionsRequest()
		r.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: refuseT1}, {Topic: refuseT2}}
		return r
	}},
	76: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrShareGroupHeartbeatRequest()
		r.GroupID, r.MemberID = "g", "m"
		return r
	}},
	77: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrShareGroupDescribeRequest()
		r.GroupIDs = []string{"echo-g1", "echo-g2"}
		return r
	}},
	78: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrShareFetchRequest()
		r.GroupID, r.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("m")
		for _, tp := range refuseTopics {
			rt := kmsg.ShareFetchRequestTopic{TopicID: tp.id}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.ShareFetchRequestTopicPartition{Partition: p})
			}
			r.Topics = append(r.Topics, rt)
		}
		r.ForgottenTopicsData = []kmsg.ShareFetchRequestForgottenTopicsData{{TopicID: refuseUnmarkedID, Partitions: []int32{0}}}
		return r
	}},
	79: {build: func(int16) kmsg.Request {
		r := kmsg.NewPtrShareAcknowledgeRequest()
		r.GroupID, r.MemberID = kmsg.StringPtr("g"), kmsg.StringPtr("m")
		for _, tp := range refuseTopics {
			rt := kmsg.ShareAcknowledgeRequestTopic{TopicID: tp.id}
			for _, p := range tp.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.ShareAcknowledgeRequestTopicPartition{
					Partition:              p,
					AcknowledgementBatches: []kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{{FirstOffset: 1, LastOffset: 2, AcknowledgeTypes: []int8{1}}},
				})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}},
}

// TestRefuseCoversBrief pins the list of keys Refuse must answer.
func TestRefuseCoversBrief(t *testing.T) {
	want := []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 28,
		29, 30, 31, 32, 33, 34, 35, 37, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 57, 60, 61, 65, 66, 68, 69,
		71, 72, 75, 76, 77, 78, 79}
	for _, k := range want {
		if _, ok := refuseCases[k]; !ok {
			t.Errorf("no test case for key %d (%s)", k, kmsg.NameForKey(k))
		}
	}
	if len(want) != len(refuseCases) {
		t.Errorf("%d test cases, want %d", len(refuseCases), len(want))
	}
}

// TestRefuseAllVersions runs every covered key at every version kmsg knows
// (which includes the low, middle and max ones).
func TestRefuseAllVersions(t *testing.T) {
	keys := make([]int16, 0, len(refuseCases))
	for k := range refuseCases {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })

	for _, key := range keys {
		c := refuseCases[key]
		maxV := kmsg.RequestForKey(key).MaxVersion()
		for v := int16(0); v <= maxV; v++ {
			t.Run(fmt.Sprintf("%s/v%d", kmsg.NameForKey(key), v), func(t *testing.T) {
				req := refuseRoundTripRequest(t, c.build(v), v)
				resp, ok := Refuse(req, refuseTestCode, refuseTestMsg)
				if c.notOK != nil && c.notOK(v) {
					if ok || resp != nil {
						t.Fatalf("Refuse = %v, %v; want nil, false", resp, ok)
					}
					return
				}
				if !ok {
					t.Fatal("Refuse: ok = false")
				}
				if resp.Key() != key || resp.GetVersion() != v {
					t.Fatalf("response key %d v%d, want key %d v%d", resp.Key(), resp.GetVersion(), key, v)
				}
				if tr, isThrottle := resp.(kmsg.ThrottleResponse); isThrottle {
					if thr, has := tr.Throttle(); has && thr != 0 {
						t.Errorf("throttle %d, want 0", thr)
					}
				}

				got := refuseRoundTripResponse(t, req, resp)
				refuseCheckErrorFields(t, req, got, c.exempt)
				refuseCheckEchoes(t, req, got)
				if c.check != nil {
					c.check(t, v, got)
				}
			})
		}
	}
}

func TestRefuseNotOK(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  kmsg.Request
	}{
		{"nil", nil},
		{"ApiVersions", kmsg.NewPtrApiVersionsRequest()},
		{"ApiVersions/max", func() kmsg.Request {
			r := kmsg.NewPtrApiVersionsRequest()
			r.Version = r.MaxVersion()
			return r
		}()},
		{"SaslHandshake", kmsg.NewPtrSASLHandshakeRequest()},
		{"SaslHandshake/v1", &kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "PLAIN"}},
		{"SaslAuthenticate", kmsg.NewPtrSASLAuthenticateRequest()},
		{"LeaderAndIsr", kmsg.NewPtrLeaderAndISRRequest()},
		{"CreateDelegationToken", kmsg.NewPtrCreateDelegationTokenRequest()},
		{"Produce/acks=0", &kmsg.ProduceRequest{Version: 7, Acks: 0, Topics: []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0}}}}}},
		{"ElectLeaders/v0/all", &kmsg.ElectLeadersRequest{Version: 0}},
		{"Fetch/version>max", &kmsg.FetchRequest{Version: kmsg.NewPtrFetchRequest().MaxVersion() + 1}},
		{"Fetch/version<0", &kmsg.FetchRequest{Version: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, ok := Refuse(tc.req, refuseTestCode, refuseTestMsg); ok || resp != nil {
				t.Fatalf("Refuse = %v, %v; want nil, false", resp, ok)
			}
		})
	}
}

// TestEveryAPIKeyHasAnAnswer: for each role, every API kmsg defines is
// served (the role's table has a handler), refused with an error response
// at every version (refusals), or deliberately closed (closes) — never by
// default; and an API advertised without a handler is refused, not closed.
func TestEveryAPIKeyHasAnAnswer(t *testing.T) {
	for _, role := range []Role{Inbound, Outbound} {
		for key := int16(0); key < 200; key++ {
			req := kmsg.RequestForKey(key)
			if req == nil {
				continue
			}
			name := fmt.Sprintf("%s %s", role, kmsg.NameForKey(key))
			e, inTable := roles[role][kmsg.Key(key)]
			if inTable && e.versions.Max > req.MaxVersion() {
				t.Errorf("%s: advertised up to v%d, kmsg knows v%d", name, e.versions.Max, req.MaxVersion())
			}
			if e.serve != nil {
				continue
			}
			code, _, refused := refusalCode(role, req)
			closed := closes[kmsg.Key(key)]
			switch {
			case refused && closed:
				t.Errorf("%s: both refused and closed", name)
			case !refused && !closed:
				t.Errorf("%s: neither served, refused nor closed: add it to roles, refusals or closes", name)
			case closed && inTable:
				t.Errorf("%s: advertised, but closes the connection when sent", name)
			case refused:
				// The shapes Refuse closes on purpose are tested with
				// their cases; here, requests that have an answer.
				switch r := req.(type) {
				case *kmsg.ProduceRequest:
					r.Acks = -1 // acks=0 reads no answer
				case *kmsg.ElectLeadersRequest:
					r.Topics = []kmsg.ElectLeadersRequestTopic{} // v0 with all partitions has no error field
				}
				from := int16(0)
				if key == int16(kmsg.DescribeLogDirs) {
					from = 3 // v0–2 have no error field
				}
				for v := from; v <= req.MaxVersion(); v++ {
					req.SetVersion(v)
					resp, ok := Refuse(req, code, "refused")
					if !ok {
						t.Errorf("%s v%d: refused, but Refuse has no answer for it (the connection would be closed)", name, v)
						break
					}
					refuseRoundTripResponse(t, req, resp)
				}
			}
		}
	}
}

// TestRefuseUncoveredKeys: every key kmsg knows that is not covered closes.
func TestRefuseUncoveredKeys(t *testing.T) {
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		if _, covered := refuseCases[key]; covered {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if _, ok := Refuse(req, refuseTestCode, refuseTestMsg); ok {
				t.Errorf("%s v%d: ok = true for an uncovered key", kmsg.NameForKey(key), v)
			}
		}
	}
}

func TestRefuseMetadataNullTopics(t *testing.T) {
	for _, v := range []int16{1, 9, kmsg.NewPtrMetadataRequest().MaxVersion()} {
		req := &kmsg.MetadataRequest{Version: v, Topics: nil}
		resp, ok := Refuse(req, refuseTestCode, refuseTestMsg)
		if !ok {
			t.Fatalf("v%d: ok = false", v)
		}
		got := refuseRoundTripResponse(t, req, resp).(*kmsg.MetadataResponse)
		if len(got.Topics) != 0 || got.ErrorCode != 0 || len(got.Brokers) != 0 {
			t.Errorf("v%d: %d topics, error %d, %d brokers; want an empty answer", v, len(got.Topics), got.ErrorCode, len(got.Brokers))
		}
	}
}

func TestRefuseOffsetFetchNullTopics(t *testing.T) {
	for _, v := range []int16{2, 7} {
		req := &kmsg.OffsetFetchRequest{Version: v, Group: "g", Topics: nil}
		resp, ok := Refuse(req, kerr.GroupAuthorizationFailed.Code, "")
		if !ok {
			t.Fatalf("v%d: ok = false", v)
		}
		got := refuseRoundTripResponse(t, req, resp).(*kmsg.OffsetFetchResponse)
		if got.ErrorCode != kerr.GroupAuthorizationFailed.Code || len(got.Topics) != 0 {
			t.Errorf("v%d: top-level %d, %d topics; want 30 and none", v, got.ErrorCode, len(got.Topics))
		}
	}
}

func TestRefuseEmptyMessageIsNull(t *testing.T) {
	req := &kmsg.CreateTopicsRequest{Version: 7, Topics: []kmsg.CreateTopicsRequestTopic{{Topic: "t"}}}
	resp, ok := Refuse(req, kerr.PolicyViolation.Code, "")
	if !ok {
		t.Fatal("ok = false")
	}
	got := refuseRoundTripResponse(t, req, resp).(*kmsg.CreateTopicsResponse)
	if tp := got.Topics[0]; tp.ErrorCode != kerr.PolicyViolation.Code || tp.ErrorMessage != nil {
		t.Errorf("got %d %v, want 44 and a null message", tp.ErrorCode, tp.ErrorMessage)
	}
}

// ---- explicit echo checks for the main APIs ----

func buildProduce(int16) kmsg.Request {
	r := kmsg.NewPtrProduceRequest()
	r.Acks = -1
	for _, tp := range refuseTopics {
		rt := kmsg.ProduceRequestTopic{Topic: tp.name, TopicID: tp.id}
		for _, p := range tp.partitions {
			rt.Partitions = append(rt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p, Records: []byte{1, 2, 3}})
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func checkProduce(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.ProduceResponse)
	var got []string
	for _, tp := range r.Topics {
		for _, p := range tp.Partitions {
			got = append(got, fmt.Sprintf("%s/%d", refuseTopicKey(tp.Topic, tp.TopicID), p.Partition))
			if p.BaseOffset != -1 || (v >= 2 && p.LogAppendTime != -1) || (v >= 5 && p.LogStartOffset != -1) {
				t.Errorf("partition %d offsets %d/%d/%d, want -1", p.Partition, p.BaseOffset, p.LogAppendTime, p.LogStartOffset)
			}
			if v >= 8 && (p.ErrorMessage == nil || *p.ErrorMessage != refuseTestMsg) {
				t.Errorf("partition %d: message %v", p.Partition, p.ErrorMessage)
			}
		}
	}
	refuseWantPairs(t, v, 13, got)
}

func buildFetch(int16) kmsg.Request {
	r := kmsg.NewPtrFetchRequest()
	for _, tp := range refuseTopics {
		rt := kmsg.FetchRequestTopic{Topic: tp.name, TopicID: tp.id}
		for _, p := range tp.partitions {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 10, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	r.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{Topic: "forgotten", TopicID: refuseUnmarkedID, Partitions: []int32{0}}}
	return r
}

func checkFetch(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.FetchResponse)
	if v >= 7 && r.ErrorCode != refuseTestCode {
		t.Errorf("top-level error %d, want %d", r.ErrorCode, refuseTestCode)
	}
	var got []string
	for _, tp := range r.Topics {
		for _, p := range tp.Partitions {
			got = append(got, fmt.Sprintf("%s/%d", refuseTopicKey(tp.Topic, tp.TopicID), p.Partition))
			if p.HighWatermark != -1 || (v >= 4 && p.LastStableOffset != -1) || (v >= 5 && p.LogStartOffset != -1) {
				t.Errorf("partition %d offsets %d/%d/%d, want -1", p.Partition, p.HighWatermark, p.LastStableOffset, p.LogStartOffset)
			}
			if len(p.RecordBatches) != 0 {
				t.Errorf("partition %d carries records", p.Partition)
			}
		}
	}
	refuseWantPairs(t, v, 13, got)
}

func buildListOffsets(int16) kmsg.Request {
	r := kmsg.NewPtrListOffsetsRequest()
	for _, tp := range refuseTopics {
		rt := kmsg.ListOffsetsRequestTopic{Topic: tp.name}
		for _, p := range tp.partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func checkListOffsets(t *testing.T, v int16, resp kmsg.Response) {
	for _, tp := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range tp.Partitions {
			if v >= 1 && (p.Offset != -1 || p.Timestamp != -1) {
				t.Errorf("%s/%d: offset %d timestamp %d, want -1", tp.Topic, p.Partition, p.Offset, p.Timestamp)
			}
		}
	}
}

func buildMetadata(v int16) kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(refuseT1)}, {Topic: kmsg.StringPtr(refuseT2)}}
	if v >= 10 {
		r.Topics = append(r.Topics, kmsg.MetadataRequestTopic{TopicID: [16]byte{0xEC, 3}})
	}
	return r
}

func checkMetadata(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.MetadataResponse)
	if r.ErrorCode != 0 {
		t.Errorf("top-level error %d, want 0 (ACL denials are per topic)", r.ErrorCode)
	}
	var got []string
	for _, tp := range r.Topics {
		name := ""
		if tp.Topic != nil {
			name = *tp.Topic
		}
		got = append(got, refuseTopicKey(name, tp.TopicID))
		if len(tp.Partitions) != 0 {
			t.Errorf("topic %s lists partitions", name)
		}
	}
	want := []string{refuseT1, refuseT2}
	if v >= 10 {
		want = append(want, refuseTopicKey("", [16]byte{0xEC, 3}))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("topics %v, want %v", got, want)
	}
}

func buildOffsetCommit(int16) kmsg.Request {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Group, r.MemberID = "g", "m"
	for _, tp := range refuseTopics {
		rt := kmsg.OffsetCommitRequestTopic{Topic: tp.name, TopicID: tp.id}
		for _, p := range tp.partitions {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, 42
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func checkOffsetCommit(t *testing.T, v int16, resp kmsg.Response) {
	var got []string
	for _, tp := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, p := range tp.Partitions {
			got = append(got, fmt.Sprintf("%s/%d", refuseTopicKey(tp.Topic, tp.TopicID), p.Partition))
		}
	}
	refuseWantPairs(t, v, 10, got)
}

func buildOffsetFetch(int16) kmsg.Request {
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Group = "g" // v0-v7: not echoed (the response has no group name)
	for _, tp := range refuseTopics {
		r.Topics = append(r.Topics, kmsg.OffsetFetchRequestTopic{Topic: tp.name, Partitions: tp.partitions})
	}
	for _, g := range []string{"echo-g1", "echo-g2"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		for _, tp := range refuseTopics {
			rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: tp.name, TopicID: tp.id, Partitions: tp.partitions})
		}
		r.Groups = append(r.Groups, rg)
	}
	return r
}

func checkOffsetFetch(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.OffsetFetchResponse)
	if v < 8 {
		if v >= 2 && r.ErrorCode != refuseTestCode {
			t.Errorf("top-level error %d, want %d", r.ErrorCode, refuseTestCode)
		}
		var got []string
		for _, tp := range r.Topics {
			for _, p := range tp.Partitions {
				got = append(got, fmt.Sprintf("%s/%d", tp.Topic, p.Partition))
				if p.Offset != -1 {
					t.Errorf("%s/%d offset %d, want -1", tp.Topic, p.Partition, p.Offset)
				}
			}
		}
		refuseWantPairs(t, v, 100, got)
		return
	}
	if len(r.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(r.Groups))
	}
	for i, g := range r.Groups {
		if want := fmt.Sprintf("echo-g%d", i+1); g.Group != want || g.ErrorCode != refuseTestCode {
			t.Errorf("group %d: %q/%d, want %q/%d", i, g.Group, g.ErrorCode, want, refuseTestCode)
		}
		var got []string
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				got = append(got, fmt.Sprintf("%s/%d", refuseTopicKey(tp.Topic, tp.TopicID), p.Partition))
				if p.Offset != -1 {
					t.Errorf("offset %d, want -1", p.Offset)
				}
			}
		}
		refuseWantPairs(t, v, 10, got)
	}
}

func buildFindCoordinator(int16) kmsg.Request {
	r := kmsg.NewPtrFindCoordinatorRequest()
	r.CoordinatorKey = "g"
	r.CoordinatorKeys = []string{"echo-k1", "echo-k2"}
	return r
}

func checkFindCoordinator(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.FindCoordinatorResponse)
	if v < 4 {
		if r.ErrorCode != refuseTestCode || r.NodeID != -1 || r.Host != "" || r.Port != -1 {
			t.Errorf("got %d %d %q %d, want %d -1 \"\" -1", r.ErrorCode, r.NodeID, r.Host, r.Port, refuseTestCode)
		}
		if v >= 1 && (r.ErrorMessage == nil || *r.ErrorMessage != refuseTestMsg) {
			t.Errorf("message %v, want %q", r.ErrorMessage, refuseTestMsg)
		}
		return
	}
	if len(r.Coordinators) != 2 {
		t.Fatalf("%d coordinators, want 2", len(r.Coordinators))
	}
	for i, c := range r.Coordinators {
		if want := fmt.Sprintf("echo-k%d", i+1); c.Key != want || c.NodeID != -1 || c.Port != -1 || c.ErrorCode != refuseTestCode {
			t.Errorf("coordinator %d: %+v", i, c)
		}
	}
}

func buildCreateTopics(int16) kmsg.Request {
	r := kmsg.NewPtrCreateTopicsRequest()
	for _, tp := range refuseTopics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tp.name, 3, 1
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func checkCreateTopics(t *testing.T, v int16, resp kmsg.Response) {
	r := resp.(*kmsg.CreateTopicsResponse)
	var got []string
	for _, tp := range r.Topics {
		got = append(got, tp.Topic)
		if v >= 1 && (tp.ErrorMessage == nil || *tp.ErrorMessage != refuseTestMsg) {
			t.Errorf("%s: message %v", tp.Topic, tp.ErrorMessage)
		}
		if v >= 5 && (tp.NumPartitions != -1 || tp.ReplicationFactor != -1) {
			t.Errorf("%s: partitions %d replication %d, want -1", tp.Topic, tp.NumPartitions, tp.ReplicationFactor)
		}
	}
	if want := []string{refuseT1, refuseT2}; !reflect.DeepEqual(got, want) {
		t.Errorf("topics %v, want %v", got, want)
	}
}

// refuseWantPairs checks the topic/partition pairs of the test topics, named
// by topic ID from idVersion on and by name before.
func refuseWantPairs(t *testing.T, v, idVersion int16, got []string) {
	t.Helper()
	var want []string
	for _, tp := range refuseTopics {
		for _, p := range tp.partitions {
			if v >= idVersion {
				want = append(want, fmt.Sprintf("%s/%d", refuseTopicKey("", tp.id), p))
			} else {
				want = append(want, fmt.Sprintf("%s/%d", tp.name, p))
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("topic/partitions %v, want %v", got, want)
	}
}

func refuseTopicKey(name string, id [16]byte) string {
	if name != "" {
		return name
	}
	if id != ([16]byte{}) {
		return fmt.Sprintf("id:%x", id)
	}
	return ""
}

// ---- round trips ----

// refuseRoundTripRequest encodes req at version v and decodes it into a
// fresh request, so Refuse sees exactly what a broker would at v.
func refuseRoundTripRequest(t *testing.T, req kmsg.Request, v int16) kmsg.Request {
	t.Helper()
	req.SetVersion(v)
	fresh := kmsg.RequestForKey(req.Key())
	fresh.SetVersion(v)
	if err := fresh.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("request does not round-trip at v%d: %v", v, err)
	}
	return fresh
}

// refuseRoundTripResponse encodes resp and decodes it into a fresh
// req.ResponseKind() at the same version; the re-encoding must be identical.
func refuseRoundTripResponse(t *testing.T, req kmsg.Request, resp kmsg.Response) kmsg.Response {
	t.Helper()
	return refuseDecode(t, req, resp.AppendTo(nil))
}

func refuseDecode(t *testing.T, req kmsg.Request, b []byte) kmsg.Response {
	t.Helper()
	got := req.ResponseKind()
	got.SetVersion(req.GetVersion())
	if err := got.ReadFrom(b); err != nil {
		t.Fatalf("response does not decode at v%d: %v", req.GetVersion(), err)
	}
	if again := got.AppendTo(nil); !bytes.Equal(again, b) {
		t.Fatalf("response re-encodes differently at v%d", req.GetVersion())
	}
	return got
}

// ---- error fields ----

// refuseCheckErrorFields asserts that every error field present at the
// response's version carries the code (and every ErrorMessage the message).
//
// "Present at the version" is decided by kmsg itself: a copy of the decoded
// response with every *ErrorCode field set to the code and every
// *ErrorMessage field set to the message is encoded and decoded again; the
// fields that survive are exactly those the version has. Refuse's answer
// must equal that saturated copy.
func refuseCheckErrorFields(t *testing.T, req kmsg.Request, got kmsg.Response, exempt []string) {
	t.Helper()
	saturated := refuseDecode(t, req, got.AppendTo(nil))
	refuseSaturate(reflect.ValueOf(saturated).Elem(), "", exempt)
	want := refuseDecode(t, req, saturated.AppendTo(nil))

	gotFields, wantFields := refuseErrorFields(got), refuseErrorFields(want)
	if !reflect.DeepEqual(gotFields, wantFields) {
		t.Errorf("error fields differ from a fully refused response:\n got  %v\n want %v", gotFields, wantFields)
	}
	codes := 0
	for path, val := range gotFields {
		if strings.HasSuffix(path, "ErrorCode") && val == fmt.Sprint(refuseTestCode) {
			codes++
		}
	}
	if codes == 0 {
		t.Errorf("no error field carries the code: %v", gotFields)
	}
}

func refuseIsErrorCode(f reflect.StructField) bool {
	return strings.HasSuffix(f.Name, "ErrorCode") && f.Type.Kind() == reflect.Int16
}

func refuseIsErrorMessage(f reflect.StructField) bool {
	return strings.HasSuffix(f.Name, "ErrorMessage") && f.Type == reflect.TypeOf((*string)(nil))
}

// refuseSaturate sets every error field under v (except exempt paths).
func refuseSaturate(v reflect.Value, path string, exempt []string) {
	refuseWalk(v, path, func(f reflect.StructField, fv reflect.Value, p string) {
		for _, e := range exempt {
			if p == e {
				return
			}
		}
		switch {
		case refuseIsErrorCode(f):
			fv.SetInt(refuseTestCode)
		case refuseIsErrorMessage(f):
			fv.Set(reflect.ValueOf(kmsg.StringPtr(refuseTestMsg)))
		}
	})
}

// refuseErrorFields maps the path of every error field to its value.
func refuseErrorFields(resp kmsg.Response) map[string]string {
	out := make(map[string]string)
	refuseWalk(reflect.ValueOf(resp).Elem(), "", func(f reflect.StructField, fv reflect.Value, p string) {
		switch {
		case refuseIsErrorCode(f):
			out[p] = fmt.Sprint(fv.Int())
		case refuseIsErrorMessage(f):
			if fv.IsNil() {
				out[p] = "<null>"
			} else {
				out[p] = fmt.Sprintf("%q", fv.Elem().String())
			}
		}
	})
	return out
}

// refuseWalk calls fn for every exported field of every struct reachable
// from v through structs, pointers and slices.
func refuseWalk(v reflect.Value, path string, fn func(reflect.StructField, reflect.Value, string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			refuseWalk(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			refuseWalk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			fn(f, v.Field(i), p)
			refuseWalk(v.Field(i), p, fn)
		}
	}
}

// ---- echoes ----

// refuseCheckEchoes asserts that every marked name, ID and topic/partition
// pair in the request appears in the response.
func refuseCheckEchoes(t *testing.T, req kmsg.Request, resp kmsg.Response) {
	t.Helper()
	want, got := refuseMarks(req), refuseMarks(resp)
	for m := range want {
		if !got[m] {
			t.Errorf("request names %s; the response does not echo it (response marks: %v)", m, refuseSorted(got))
		}
	}
}

// refuseMarks collects marked strings, IDs, and partitions (keyed by the
// nearest enclosing topic name or ID).
func refuseMarks(msg any) map[string]bool {
	out := make(map[string]bool)
	var walk func(v reflect.Value, topic string)
	walk = func(v reflect.Value, topic string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), topic)
			}
		case reflect.String:
			if s := v.String(); strings.HasPrefix(s, "echo-") {
				out["name "+s] = true
			}
		case reflect.Array:
			if id, ok := v.Interface().([16]byte); ok && id[0] == 0xEC {
				out["id "+refuseTopicKey("", id)] = true
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), topic)
			}
		case reflect.Struct:
			if name, id := v.FieldByName("Topic"), v.FieldByName("TopicID"); name.IsValid() || id.IsValid() {
				var n string
				var i [16]byte
				if name.IsValid() {
					if name.Kind() == reflect.Pointer && !name.IsNil() {
						n = name.Elem().String()
					} else if name.Kind() == reflect.String {
						n = name.String()
					}
				}
				if id.IsValid() {
					i, _ = id.Interface().([16]byte)
				}
				topic = refuseTopicKey(n, i)
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				fv := v.Field(i)
				switch {
				case f.Name == "Partition" && fv.Kind() == reflect.Int32:
					refuseMarkPartition(out, topic, int32(fv.Int()))
				case f.Name == "Partitions" && fv.Type() == reflect.TypeOf([]int32(nil)):
					for _, p := range fv.Interface().([]int32) {
						refuseMarkPartition(out, topic, p)
					}
				default:
					walk(fv, topic)
				}
			}
		}
	}
	walk(reflect.ValueOf(msg), "")
	return out
}

func refuseMarkPartition(out map[string]bool, topic string, p int32) {
	if p >= 100 {
		out[fmt.Sprintf("partition %s/%d", topic, p)] = true
	}
}

func refuseSorted(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
