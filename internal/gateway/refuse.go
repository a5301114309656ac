package gateway

// Refusals.
//
// The gateway refuses the APIs that belong to another role (Fetch on a
// produce-only listener, group or transaction APIs where they are not
// offered, cluster administration, ...) the way a Kafka broker whose ACLs
// deny would: with a well-formed response, at the request's exact version,
// whose error fields carry an authorization code. The caller picks the code
// (docs/protocol.md §8): typically TOPIC_AUTHORIZATION_FAILED (29) for
// topic data APIs, GROUP_AUTHORIZATION_FAILED (30) for group APIs,
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) for transactional APIs,
// CLUSTER_AUTHORIZATION_FAILED (31) for cluster administration, or
// UNSUPPORTED_VERSION (35) for keys outside a listener's allowlist. Refuse
// only fills it in.
//
// Every response echoes what the request named (topics, topic IDs,
// partitions, groups, coordinator keys, transactional IDs, resources, users,
// members) so clients can match results to what they asked, sets every error
// field that exists at that version (top-level, per topic, per partition, per
// group, per key, per transaction, per resource) to the code, sets
// ErrorMessage fields to the message, puts -1 into offsets, epochs, producer
// IDs and node IDs, and leaves ThrottleMillis at 0.
//
// Covered API keys:
//
//	data:         Produce 0, Fetch 1, ListOffsets 2, Metadata 3,
//	              OffsetForLeaderEpoch 23, DescribeProducers 61,
//	              DescribeTopicPartitions 75
//	groups:       OffsetCommit 8, OffsetFetch 9, FindCoordinator 10,
//	              JoinGroup 11, Heartbeat 12, LeaveGroup 13, SyncGroup 14,
//	              DescribeGroups 15, ListGroups 16, DeleteGroups 42,
//	              OffsetDelete 47, ConsumerGroupHeartbeat 68,
//	              ConsumerGroupDescribe 69
//	share groups: ShareGroupHeartbeat 76, ShareGroupDescribe 77,
//	              ShareFetch 78, ShareAcknowledge 79
//	transactions: InitProducerId 22, AddPartitionsToTxn 24,
//	              AddOffsetsToTxn 25, EndTxn 26, TxnOffsetCommit 28,
//	              DescribeTransactions 65, ListTransactions 66
//	admin:        CreateTopics 19, DeleteTopics 20, DeleteRecords 21,
//	              DescribeAcls 29, CreateAcls 30, DeleteAcls 31,
//	              DescribeConfigs 32, AlterConfigs 33, DescribeLogDirs 35,
//	              CreatePartitions 37, ElectLeaders 43,
//	              IncrementalAlterConfigs 44, AlterPartitionAssignments 45,
//	              ListPartitionReassignments 46, DescribeClientQuotas 48,
//	              AlterClientQuotas 49, DescribeUserScramCredentials 50,
//	              AlterUserScramCredentials 51, AlterReplicaLogDirs 34,
//	              UpdateFeatures 57, DescribeCluster 60
//	telemetry:    GetTelemetrySubscriptions 71, PushTelemetry 72
//
// Everything else (ApiVersions, SASL, broker/controller-internal APIs,
// delegation tokens, ...) returns ok=false, and so do three cases where the
// protocol leaves no way to answer with an error, so a broker would close or
// stay silent too:
//
//   - Produce with Acks 0: the client expects no response at all (Kafka
//     closes the connection when an acks=0 produce fails);
//   - DescribeLogDirs v0-v2: the response has no error field;
//   - ElectLeaders v0 with null Topics ("all partitions"): v0 has only
//     per-partition errors and no partition was named.
//
// Two deliberate details: the Metadata v13+ top-level ErrorCode is left 0
// (brokers use it only for REBOOTSTRAP_REQUIRED; ACL denials are per topic),
// and the Fetch/ShareFetch top-level ErrorCode is set along with the
// per-partition ones, as Kafka's own AbstractRequest.getErrorResponse does.

import "github.com/twmb/franz-go/pkg/kmsg"

// Refuse builds the response to req (same version) with every error field
// set to code, and ErrorMessage fields (where the version has them) set to
// msg (null when msg is empty). ok is false when the API has no
// per-request error structure we fill (the caller then closes the
// connection).
func Refuse(req kmsg.Request, code int16, msg string) (resp kmsg.Response, ok bool) {
	if req == nil {
		return nil, false
	}
	version := req.GetVersion()
	if version < 0 || version > req.MaxVersion() {
		return nil, false
	}
	resp = req.ResponseKind()
	resp.SetVersion(version)
	rf := refusal{code: code, msg: msg}

	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		ok = rf.produce(r, resp.(*kmsg.ProduceResponse))
	case *kmsg.FetchRequest:
		ok = rf.fetch(r, resp.(*kmsg.FetchResponse))
	case *kmsg.ListOffsetsRequest:
		ok = rf.listOffsets(r, resp.(*kmsg.ListOffsetsResponse))
	case *kmsg.MetadataRequest:
		ok = rf.metadata(r, resp.(*kmsg.MetadataResponse))
	case *kmsg.OffsetCommitRequest:
		ok = rf.offsetCommit(r, resp.(*kmsg.OffsetCommitResponse))
	case *kmsg.OffsetFetchRequest:
		ok = rf.offsetFetch(r, resp.(*kmsg.OffsetFetchResponse))
	case *kmsg.FindCoordinatorRequest:
		ok = rf.findCoordinator(r, resp.(*kmsg.FindCoordinatorResponse))
	case *kmsg.JoinGroupRequest:
		ok = rf.joinGroup(r, resp.(*kmsg.JoinGroupResponse))
	case *kmsg.HeartbeatRequest:
		ok = rf.heartbeat(resp.(*kmsg.HeartbeatResponse))
	case *kmsg.LeaveGroupRequest:
		ok = rf.leaveGroup(r, resp.(*kmsg.LeaveGroupResponse))
	case *kmsg.SyncGroupRequest:
		ok = rf.syncGroup(resp.(*kmsg.SyncGroupResponse))
	case *kmsg.DescribeGroupsRequest:
		ok = rf.describeGroups(r, resp.(*kmsg.DescribeGroupsResponse))
	case *kmsg.ListGroupsRequest:
		ok = rf.listGroups(resp.(*kmsg.ListGroupsResponse))
	case *kmsg.CreateTopicsRequest:
		ok = rf.createTopics(r, resp.(*kmsg.CreateTopicsResponse))
	case *kmsg.DeleteTopicsRequest:
		ok = rf.deleteTopics(r, resp.(*kmsg.DeleteTopicsResponse))
	case *kmsg.DeleteRecordsRequest:
		ok = rf.deleteRecords(r, resp.(*kmsg.DeleteRecordsResponse))
	case *kmsg.InitProducerIDRequest:
		ok = rf.initProducerID(resp.(*kmsg.InitProducerIDResponse))
	case *kmsg.OffsetForLeaderEpochRequest:
		ok = rf.offsetForLeaderEpoch(r, resp.(*kmsg.OffsetForLeaderEpochResponse))
	case *kmsg.AddPartitionsToTxnRequest:
		ok = rf.addPartitionsToTxn(r, resp.(*kmsg.AddPartitionsToTxnResponse))
	case *kmsg.AddOffsetsToTxnRequest:
		ok = rf.addOffsetsToTxn(resp.(*kmsg.AddOffsetsToTxnResponse))
	case *kmsg.EndTxnRequest:
		ok = rf.endTxn(resp.(*kmsg.EndTxnResponse))
	case *kmsg.TxnOffsetCommitRequest:
		ok = rf.txnOffsetCommit(r, resp.(*kmsg.TxnOffsetCommitResponse))
	case *kmsg.DescribeACLsRequest:
		ok = rf.describeACLs(resp.(*kmsg.DescribeACLsResponse))
	case *kmsg.CreateACLsRequest:
		ok = rf.createACLs(r, resp.(*kmsg.CreateACLsResponse))
	case *kmsg.DeleteACLsRequest:
		ok = rf.deleteACLs(r, resp.(*kmsg.DeleteACLsResponse))
	case *kmsg.DescribeConfigsRequest:
		ok = rf.describeConfigs(r, resp.(*kmsg.DescribeConfigsResponse))
	case *kmsg.AlterConfigsRequest:
		ok = rf.alterConfigs(r, resp.(*kmsg.AlterConfigsResponse))
	case *kmsg.DescribeLogDirsRequest:
		ok = rf.describeLogDirs(resp.(*kmsg.DescribeLogDirsResponse))
	case *kmsg.CreatePartitionsRequest:
		ok = rf.createPartitions(r, resp.(*kmsg.CreatePartitionsResponse))
	case *kmsg.DeleteGroupsRequest:
		ok = rf.deleteGroups(r, resp.(*kmsg.DeleteGroupsResponse))
	case *kmsg.ElectLeadersRequest:
		ok = rf.electLeaders(r, resp.(*kmsg.ElectLeadersResponse))
	case *kmsg.IncrementalAlterConfigsRequest:
		ok = rf.incrementalAlterConfigs(r, resp.(*kmsg.IncrementalAlterConfigsResponse))
	case *kmsg.AlterPartitionAssignmentsRequest:
		ok = rf.alterPartitionAssignments(r, resp.(*kmsg.AlterPartitionAssignmentsResponse))
	case *kmsg.ListPartitionReassignmentsRequest:
		ok = rf.listPartitionReassignments(resp.(*kmsg.ListPartitionReassignmentsResponse))
	case *kmsg.OffsetDeleteRequest:
		ok = rf.offsetDelete(r, resp.(*kmsg.OffsetDeleteResponse))
	case *kmsg.DescribeClientQuotasRequest:
		ok = rf.describeClientQuotas(resp.(*kmsg.DescribeClientQuotasResponse))
	case *kmsg.AlterClientQuotasRequest:
		ok = rf.alterClientQuotas(r, resp.(*kmsg.AlterClientQuotasResponse))
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		ok = rf.describeUserSCRAMCredentials(r, resp.(*kmsg.DescribeUserSCRAMCredentialsResponse))
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		ok = rf.alterUserSCRAMCredentials(r, resp.(*kmsg.AlterUserSCRAMCredentialsResponse))
	case *kmsg.DescribeClusterRequest:
		ok = rf.describeCluster(r, resp.(*kmsg.DescribeClusterResponse))
	case *kmsg.AlterReplicaLogDirsRequest:
		ok = rf.alterReplicaLogDirs(r, resp.(*kmsg.AlterReplicaLogDirsResponse))
	case *kmsg.UpdateFeaturesRequest:
		ok = rf.updateFeatures(r, resp.(*kmsg.UpdateFeaturesResponse))
	case *kmsg.DescribeProducersRequest:
		ok = rf.describeProducers(r, resp.(*kmsg.DescribeProducersResponse))
	case *kmsg.DescribeTransactionsRequest:
		ok = rf.describeTransactions(r, resp.(*kmsg.DescribeTransactionsResponse))
	case *kmsg.ListTransactionsRequest:
		ok = rf.listTransactions(resp.(*kmsg.ListTransactionsResponse))
	case *kmsg.ConsumerGroupHeartbeatRequest:
		ok = rf.consumerGroupHeartbeat(resp.(*kmsg.ConsumerGroupHeartbeatResponse))
	case *kmsg.ConsumerGroupDescribeRequest:
		ok = rf.consumerGroupDescribe(r, resp.(*kmsg.ConsumerGroupDescribeResponse))
	case *kmsg.GetTelemetrySubscriptionsRequest:
		ok = rf.getTelemetrySubscriptions(r, resp.(*kmsg.GetTelemetrySubscriptionsResponse))
	case *kmsg.PushTelemetryRequest:
		ok = rf.pushTelemetry(resp.(*kmsg.PushTelemetryResponse))
	case *kmsg.DescribeTopicPartitionsRequest:
		ok = rf.describeTopicPartitions(r, resp.(*kmsg.DescribeTopicPartitionsResponse))
	case *kmsg.ShareGroupHeartbeatRequest:
		ok = rf.shareGroupHeartbeat(resp.(*kmsg.ShareGroupHeartbeatResponse))
	case *kmsg.ShareGroupDescribeRequest:
		ok = rf.shareGroupDescribe(r, resp.(*kmsg.ShareGroupDescribeResponse))
	case *kmsg.ShareFetchRequest:
		ok = rf.shareFetch(r, resp.(*kmsg.ShareFetchResponse))
	case *kmsg.ShareAcknowledgeRequest:
		ok = rf.shareAcknowledge(r, resp.(*kmsg.ShareAcknowledgeResponse))
	}
	if !ok {
		return nil, false
	}
	return resp, true
}

// refusal is what Refuse writes into every error field.
type refusal struct {
	code int16
	msg  string
}

// message returns a fresh pointer for an ErrorMessage field, or nil (null)
// when there is no message.
func (rf refusal) message() *string {
	if rf.msg == "" {
		return nil
	}
	m := rf.msg
	return &m
}

// ---- data APIs ----

func (rf refusal) produce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) bool {
	if req.Acks == 0 {
		return false // acks=0: the client reads no response; a broker closes
	}
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message() // v8+
			p.BaseOffset = -1
			p.LogAppendTime = -1  // v2+
			p.LogStartOffset = -1 // v5+
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) fetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) bool {
	resp.ErrorCode = rf.code // v7+
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID // TopicID v13+
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.HighWatermark = -1
			p.LastStableOffset = -1 // v4+
			p.LogStartOffset = -1   // v5+
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) listOffsets(req *kmsg.ListOffsetsRequest, resp *kmsg.ListOffsetsResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.Offset = -1    // v1+
			p.Timestamp = -1 // v1+
			p.LeaderEpoch = -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// metadata answers per requested topic; null Topics ("all topics") gets an
// empty topic list. The v13+ top-level ErrorCode stays 0 (see file comment).
func (rf refusal) metadata(req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) bool {
	resp.ControllerID = -1
	resp.Topics = []kmsg.MetadataResponseTopic{}
	for _, rt := range req.Topics {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID // TopicID v10+
		t.ErrorCode = rf.code
		t.Partitions = []kmsg.MetadataResponseTopicPartition{}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) offsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest, resp *kmsg.OffsetForLeaderEpochResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetForLeaderEpochResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.LeaderEpoch = -1
			p.EndOffset = -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) describeProducers(req *kmsg.DescribeProducersRequest, resp *kmsg.DescribeProducersResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeProducersResponseTopic()
		t.Topic = rt.Topic
		for _, partition := range rt.Partitions {
			p := kmsg.NewDescribeProducersResponseTopicPartition()
			p.Partition = partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message()
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) describeTopicPartitions(req *kmsg.DescribeTopicPartitionsRequest, resp *kmsg.DescribeTopicPartitionsResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeTopicPartitionsResponseTopic()
		t.Topic = kmsg.StringPtr(rt.Topic)
		t.ErrorCode = rf.code
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// ---- group APIs ----

func (rf refusal) offsetCommit(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetCommitResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID // TopicID v10+
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetCommitResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// offsetFetch handles both shapes: v0-v7 (one group, top-level ErrorCode
// from v2) and v8+ (batched Groups, each with its own ErrorCode).
func (rf refusal) offsetFetch(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) bool {
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			g.ErrorCode = rf.code
			for _, rt := range rg.Topics {
				t := kmsg.NewOffsetFetchResponseGroupTopic()
				t.Topic, t.TopicID = rt.Topic, rt.TopicID // TopicID v10+
				for _, partition := range rt.Partitions {
					p := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					p.Partition = partition
					p.Offset = -1
					p.LeaderEpoch = -1
					p.ErrorCode = rf.code
					t.Partitions = append(t.Partitions, p)
				}
				g.Topics = append(g.Topics, t)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return true
	}
	resp.ErrorCode = rf.code // v2-v7; the only carrier when Topics is null
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetFetchResponseTopic()
		t.Topic = rt.Topic
		for _, partition := range rt.Partitions {
			p := kmsg.NewOffsetFetchResponseTopicPartition()
			p.Partition = partition
			p.Offset = -1
			p.LeaderEpoch = -1
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// findCoordinator handles both shapes: v0-v3 (one key, top-level fields) and
// v4+ (one Coordinators entry per requested key).
func (rf refusal) findCoordinator(req *kmsg.FindCoordinatorRequest, resp *kmsg.FindCoordinatorResponse) bool {
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.NodeID, c.Host, c.Port = -1, "", -1
			c.ErrorCode = rf.code
			c.ErrorMessage = rf.message()
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return true
	}
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message() // v1+
	resp.NodeID, resp.Host, resp.Port = -1, "", -1
	return true
}

func (rf refusal) joinGroup(req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) bool {
	resp.ErrorCode = rf.code
	resp.Generation = -1
	resp.MemberID = req.MemberID // "" on a first join
	return true
}

func (rf refusal) heartbeat(resp *kmsg.HeartbeatResponse) bool {
	resp.ErrorCode = rf.code
	return true
}

func (rf refusal) leaveGroup(req *kmsg.LeaveGroupRequest, resp *kmsg.LeaveGroupResponse) bool {
	resp.ErrorCode = rf.code
	for _, rm := range req.Members { // v3+
		m := kmsg.NewLeaveGroupResponseMember()
		m.MemberID, m.InstanceID = rm.MemberID, rm.InstanceID
		m.ErrorCode = rf.code
		resp.Members = append(resp.Members, m)
	}
	return true
}

func (rf refusal) syncGroup(resp *kmsg.SyncGroupResponse) bool {
	resp.ErrorCode = rf.code
	return true
}

func (rf refusal) describeGroups(req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) bool {
	for _, group := range req.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = group
		g.ErrorCode = rf.code
		g.ErrorMessage = rf.message() // v6+
		resp.Groups = append(resp.Groups, g)
	}
	return true
}

func (rf refusal) listGroups(resp *kmsg.ListGroupsResponse) bool {
	resp.ErrorCode = rf.code
	resp.Groups = []kmsg.ListGroupsResponseGroup{}
	return true
}

func (rf refusal) deleteGroups(req *kmsg.DeleteGroupsRequest, resp *kmsg.DeleteGroupsResponse) bool {
	for _, group := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = group
		g.ErrorCode = rf.code
		g.ErrorMessage = rf.message()
		resp.Groups = append(resp.Groups, g)
	}
	return true
}

func (rf refusal) offsetDelete(req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) bool {
	resp.ErrorCode = rf.code
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetDeleteResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetDeleteResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) consumerGroupHeartbeat(resp *kmsg.ConsumerGroupHeartbeatResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	return true
}

func (rf refusal) consumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest, resp *kmsg.ConsumerGroupDescribeResponse) bool {
	for _, group := range req.Groups {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = group
		g.ErrorCode = rf.code
		g.ErrorMessage = rf.message()
		resp.Groups = append(resp.Groups, g)
	}
	return true
}

// ---- share-group APIs ----

func (rf refusal) shareGroupHeartbeat(resp *kmsg.ShareGroupHeartbeatResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	return true
}

func (rf refusal) shareGroupDescribe(req *kmsg.ShareGroupDescribeRequest, resp *kmsg.ShareGroupDescribeResponse) bool {
	for _, group := range req.GroupIDs {
		g := kmsg.NewShareGroupDescribeResponseGroup()
		g.GroupID = group
		g.ErrorCode = rf.code
		g.ErrorMessage = rf.message()
		resp.Groups = append(resp.Groups, g)
	}
	return true
}

func (rf refusal) shareFetch(req *kmsg.ShareFetchRequest, resp *kmsg.ShareFetchResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	for _, rt := range req.Topics {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewShareFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message()
			p.AcknowledgeErrorCode = rf.code
			p.AcknowledgeErrorMessage = rf.message()
			p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = -1, -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) shareAcknowledge(req *kmsg.ShareAcknowledgeRequest, resp *kmsg.ShareAcknowledgeResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	for _, rt := range req.Topics {
		t := kmsg.NewShareAcknowledgeResponseTopic()
		t.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewShareAcknowledgeResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message()
			p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = -1, -1
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// ---- transactional APIs ----

func (rf refusal) initProducerID(resp *kmsg.InitProducerIDResponse) bool {
	resp.ErrorCode = rf.code
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	return true
}

// addPartitionsToTxn handles both shapes: v0-v3 (one transaction, per
// partition) and v4+ (top-level plus per transaction, per partition).
func (rf refusal) addPartitionsToTxn(req *kmsg.AddPartitionsToTxnRequest, resp *kmsg.AddPartitionsToTxnResponse) bool {
	if req.Version >= 4 {
		resp.ErrorCode = rf.code
		for _, rx := range req.Transactions {
			x := kmsg.NewAddPartitionsToTxnResponseTransaction()
			x.TransactionalID = rx.TransactionalID
			for _, rt := range rx.Topics {
				t := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				t.Topic = rt.Topic
				for _, partition := range rt.Partitions {
					p := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					p.Partition = partition
					p.ErrorCode = rf.code
					t.Partitions = append(t.Partitions, p)
				}
				x.Topics = append(x.Topics, t)
			}
			resp.Transactions = append(resp.Transactions, x)
		}
		return true
	}
	for _, rt := range req.Topics {
		t := kmsg.NewAddPartitionsToTxnResponseTopic()
		t.Topic = rt.Topic
		for _, partition := range rt.Partitions {
			p := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			p.Partition = partition
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) addOffsetsToTxn(resp *kmsg.AddOffsetsToTxnResponse) bool {
	resp.ErrorCode = rf.code
	return true
}

func (rf refusal) endTxn(resp *kmsg.EndTxnResponse) bool {
	resp.ErrorCode = rf.code
	resp.ProducerID = -1    // v5+
	resp.ProducerEpoch = -1 // v5+
	return true
}

func (rf refusal) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, resp *kmsg.TxnOffsetCommitResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewTxnOffsetCommitResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID // TopicID v6+
		for _, rp := range rt.Partitions {
			p := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) describeTransactions(req *kmsg.DescribeTransactionsRequest, resp *kmsg.DescribeTransactionsResponse) bool {
	for _, id := range req.TransactionalIDs {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID = id
		s.ErrorCode = rf.code
		s.ProducerID = -1
		s.ProducerEpoch = -1
		s.StartTimestamp = -1
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return true
}

func (rf refusal) listTransactions(resp *kmsg.ListTransactionsResponse) bool {
	resp.ErrorCode = rf.code
	resp.TransactionStates = []kmsg.ListTransactionsResponseTransactionState{}
	return true
}

// ---- admin APIs ----

func (rf refusal) createTopics(req *kmsg.CreateTopicsRequest, resp *kmsg.CreateTopicsResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		t.ErrorCode = rf.code
		t.ErrorMessage = rf.message() // v1+
		t.ConfigErrorCode = rf.code   // tagged, v5+
		t.NumPartitions = -1          // v5+
		t.ReplicationFactor = -1      // v5+
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

// deleteTopics echoes names (v0-v5 TopicNames) or name-or-ID (v6+ Topics).
func (rf refusal) deleteTopics(req *kmsg.DeleteTopicsRequest, resp *kmsg.DeleteTopicsResponse) bool {
	add := func(name *string, id [16]byte) {
		t := kmsg.NewDeleteTopicsResponseTopic()
		t.Topic, t.TopicID = name, id
		t.ErrorCode = rf.code
		t.ErrorMessage = rf.message() // v5+
		resp.Topics = append(resp.Topics, t)
	}
	if req.Version >= 6 {
		for _, rt := range req.Topics {
			add(rt.Topic, rt.TopicID)
		}
		return true
	}
	for _, name := range req.TopicNames {
		add(kmsg.StringPtr(name), [16]byte{})
	}
	return true
}

func (rf refusal) deleteRecords(req *kmsg.DeleteRecordsRequest, resp *kmsg.DeleteRecordsResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition = rp.Partition
			p.LowWatermark = -1
			p.ErrorCode = rf.code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) createPartitions(req *kmsg.CreatePartitionsRequest, resp *kmsg.CreatePartitionsResponse) bool {
	for _, rt := range req.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		t.ErrorCode = rf.code
		t.ErrorMessage = rf.message()
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) describeACLs(resp *kmsg.DescribeACLsResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	resp.Resources = []kmsg.DescribeACLsResponseResource{}
	return true
}

func (rf refusal) createACLs(req *kmsg.CreateACLsRequest, resp *kmsg.CreateACLsResponse) bool {
	for range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Results = append(resp.Results, r)
	}
	return true
}

func (rf refusal) deleteACLs(req *kmsg.DeleteACLsRequest, resp *kmsg.DeleteACLsResponse) bool {
	for range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Results = append(resp.Results, r)
	}
	return true
}

func (rf refusal) describeConfigs(req *kmsg.DescribeConfigsRequest, resp *kmsg.DescribeConfigsResponse) bool {
	for _, rr := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Resources = append(resp.Resources, r)
	}
	return true
}

func (rf refusal) alterConfigs(req *kmsg.AlterConfigsRequest, resp *kmsg.AlterConfigsResponse) bool {
	for _, rr := range req.Resources {
		r := kmsg.NewAlterConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Resources = append(resp.Resources, r)
	}
	return true
}

func (rf refusal) incrementalAlterConfigs(req *kmsg.IncrementalAlterConfigsRequest, resp *kmsg.IncrementalAlterConfigsResponse) bool {
	for _, rr := range req.Resources {
		r := kmsg.NewIncrementalAlterConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Resources = append(resp.Resources, r)
	}
	return true
}

// describeLogDirs: only v3+ has an error field (a broker leaves v0-v2
// answers empty, which would read as "no log dirs").
func (rf refusal) describeLogDirs(resp *kmsg.DescribeLogDirsResponse) bool {
	if resp.Version < 3 {
		return false
	}
	resp.ErrorCode = rf.code
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{}
	return true
}

// electLeaders: top-level from v1, per partition always; v0 with null Topics
// (all partitions) has nowhere to put the code.
func (rf refusal) electLeaders(req *kmsg.ElectLeadersRequest, resp *kmsg.ElectLeadersResponse) bool {
	if req.Version < 1 && req.Topics == nil {
		return false
	}
	resp.ErrorCode = rf.code // v1+
	for _, rt := range req.Topics {
		t := kmsg.NewElectLeadersResponseTopic()
		t.Topic = rt.Topic
		for _, partition := range rt.Partitions {
			p := kmsg.NewElectLeadersResponseTopicPartition()
			p.Partition = partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message()
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) alterPartitionAssignments(req *kmsg.AlterPartitionAssignmentsRequest, resp *kmsg.AlterPartitionAssignmentsResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange // v1+
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = rf.code
			p.ErrorMessage = rf.message()
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return true
}

func (rf refusal) listPartitionReassignments(resp *kmsg.ListPartitionReassignmentsResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	resp.Topics = []kmsg.ListPartitionReassignmentsResponseTopic{}
	return true
}

func (rf refusal) describeClientQuotas(resp *kmsg.DescribeClientQuotasResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	return true
}

func (rf refusal) alterClientQuotas(req *kmsg.AlterClientQuotasRequest, resp *kmsg.AlterClientQuotasResponse) bool {
	for _, re := range req.Entries {
		e := kmsg.NewAlterClientQuotasResponseEntry()
		e.ErrorCode = rf.code
		e.ErrorMessage = rf.message()
		for _, rent := range re.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = rent.Type, rent.Name
			e.Entity = append(e.Entity, ent)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return true
}

func (rf refusal) describeUserSCRAMCredentials(req *kmsg.DescribeUserSCRAMCredentialsRequest, resp *kmsg.DescribeUserSCRAMCredentialsResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	for _, u := range req.Users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u.Name
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Results = append(resp.Results, r)
	}
	return true
}

// alterUserSCRAMCredentials answers once per user named by a deletion or an
// upsertion, in order of first appearance, as Kafka does.
func (rf refusal) alterUserSCRAMCredentials(req *kmsg.AlterUserSCRAMCredentialsRequest, resp *kmsg.AlterUserSCRAMCredentialsResponse) bool {
	seen := make(map[string]bool)
	add := func(user string) {
		if seen[user] {
			return
		}
		seen[user] = true
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		r.ErrorCode = rf.code
		r.ErrorMessage = rf.message()
		resp.Results = append(resp.Results, r)
	}
	for _, d := range req.Deletions {
		add(d.Name)
	}
	for _, u := range req.Upsertions {
		add(u.Name)
	}
	return true
}

func (rf refusal) describeCluster(req *kmsg.DescribeClusterRequest, resp *kmsg.DescribeClusterResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	resp.EndpointType = req.EndpointType // v1+
	resp.ControllerID = -1
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{}
	return true
}

// alterReplicaLogDirs refuses every partition asked to move, as a broker
// does when the principal may not alter the cluster.
func (rf refusal) alterReplicaLogDirs(req *kmsg.AlterReplicaLogDirsRequest, resp *kmsg.AlterReplicaLogDirsResponse) bool {
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, rf.code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return true
}

// updateFeatures refuses the request and, up to v1 (which list them), each
// feature asked for.
func (rf refusal) updateFeatures(req *kmsg.UpdateFeaturesRequest, resp *kmsg.UpdateFeaturesResponse) bool {
	resp.ErrorCode = rf.code
	resp.ErrorMessage = rf.message()
	if req.Version <= 1 {
		for _, f := range req.FeatureUpdates {
			r := kmsg.NewUpdateFeaturesResponseResult()
			r.Feature, r.ErrorCode, r.ErrorMessage = f.Feature, rf.code, rf.message()
			resp.Results = append(resp.Results, r)
		}
	}
	return true
}

// ---- telemetry (KIP-714) ----

func (rf refusal) getTelemetrySubscriptions(req *kmsg.GetTelemetrySubscriptionsRequest, resp *kmsg.GetTelemetrySubscriptionsResponse) bool {
	resp.ErrorCode = rf.code
	resp.ClientInstanceID = req.ClientInstanceID
	return true
}

func (rf refusal) pushTelemetry(resp *kmsg.PushTelemetryResponse) bool {
	resp.ErrorCode = rf.code
	return true
}
