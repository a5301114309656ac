package gateway

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/registry"
)

// Role is what a listener is for: producing (Inbound) or consuming (Outbound).
type Role int

// The two listener roles.
const (
	Inbound Role = iota
	Outbound
)

func (r Role) String() string {
	if r == Inbound {
		return "inbound"
	}
	return "outbound"
}

// admits says whether a valid project credential may use the role, and
// why not in words a person understands.
func (r Role) admits(c registry.Credential) error {
	switch r {
	case Inbound:
		if c.Kind == registry.KindMaster || c.Kind == registry.KindWrite ||
			c.Kind == registry.KindAccess && c.AccessKey.Permits(registry.PermWrites) {
			return nil
		}
		return errors.New("Authentication failed: this key may not produce; the Kafka Inbound listener accepts the master key, the write key or an access key permitting writes")
	default:
		if c.Kind == registry.KindMaster || c.Kind == registry.KindRead {
			return nil
		}
		if c.Kind == registry.KindAccess && c.AccessKey.Permits(registry.PermQueries) {
			if c.AccessKey.HasQueryFilters() {
				return errors.New("Authentication failed: this access key has query filters, and keys with filters cannot read whole topics; use a key permitting queries without filters")
			}
			return nil
		}
		return errors.New("Authentication failed: this key may not consume; the Kafka Outbound listener accepts the master key, the read key or an access key permitting queries without filters")
	}
}

// roleAPIs is what each role implements, before intersecting with the
// backend. Produce starts at 0 because librdkafka before 2.11.1 disables
// compression unless it does (v0–2 are refused when actually sent, as Kafka
// 4 does), and stops at 12: v13 names topics by id only.
//
// The Inbound listener also advertises Fetch and FindCoordinator although it
// serves neither (they are answered with authorization errors): librdkafka
// derives broker features from them and without them falls back to the
// old message format (Fetch v4), no zstd (Fetch v10) and no lz4
// (FindCoordinator v0).
var roleAPIs = map[Role]map[int16]kafkaproto.VersionRange{
	Inbound: {
		int16(kmsg.Metadata):        {Min: 0, Max: 12},
		int16(kmsg.Produce):         {Min: 0, Max: 12},
		int16(kmsg.InitProducerID):  {Min: 0, Max: 5},
		int16(kmsg.Fetch):           {Min: 4, Max: 12},
		int16(kmsg.FindCoordinator): {Min: 0, Max: 6},
	},
	// Fetch v13+ and OffsetCommit/OffsetFetch v10 name topics by id:
	// Fetch ids are authorized (fetch.go); the offset APIs stop at v9.
	// Produce is advertised (and refused when sent) for librdkafka, which
	// without Produce v3 assumes the old message format and fetches with
	// a Fetch version Kafka 4 no longer serves.
	Outbound: {
		int16(kmsg.Produce):              {Min: 0, Max: 12},
		int16(kmsg.Metadata):             {Min: 0, Max: 12},
		int16(kmsg.Fetch):                {Min: 4, Max: 18},
		int16(kmsg.ListOffsets):          {Min: 1, Max: 11},
		int16(kmsg.OffsetForLeaderEpoch): {Min: 2, Max: 4},
		int16(kmsg.FindCoordinator):      {Min: 0, Max: 6},
		int16(kmsg.JoinGroup):            {Min: 0, Max: 9},
		int16(kmsg.SyncGroup):            {Min: 0, Max: 5},
		int16(kmsg.Heartbeat):            {Min: 0, Max: 4},
		int16(kmsg.LeaveGroup):           {Min: 0, Max: 5},
		int16(kmsg.OffsetCommit):         {Min: 2, Max: 9},
		int16(kmsg.OffsetFetch):          {Min: 1, Max: 9},
		int16(kmsg.DescribeGroups):       {Min: 0, Max: 6},
		int16(kmsg.ListGroups):           {Min: 0, Max: 5},
	},
}

// refusalCode is the error a role answers for a request it does not serve,
// as a broker whose ACLs deny would: consuming and topic admin →
// TOPIC_AUTHORIZATION_FAILED, groups → GROUP_AUTHORIZATION_FAILED,
// transactions → TRANSACTIONAL_ID_AUTHORIZATION_FAILED, cluster admin →
// CLUSTER_AUTHORIZATION_FAILED. ok=false: no proper answer, close.
func refusalCode(role Role, req kmsg.Request) (code int16, msg string, ok bool) {
	what := "Kafka Inbound listener only accepts producers"
	if role == Outbound {
		what = "Kafka Outbound listener only serves consumers"
	}
	switch kmsg.Key(req.Key()) {
	case kmsg.Fetch, kmsg.ListOffsets, kmsg.OffsetForLeaderEpoch:
		return kerr.TopicAuthorizationFailed.Code, "consuming is not allowed here: the " + what, true
	case kmsg.Produce:
		return kerr.TopicAuthorizationFailed.Code, "producing is not allowed here: the " + what, true
	case kmsg.FindCoordinator:
		if fc := req.(*kmsg.FindCoordinatorRequest); fc.CoordinatorType == 1 {
			return kerr.TransactionalIDAuthorizationFailed.Code, "Kafka transactions are not supported", true
		}
		return kerr.GroupAuthorizationFailed.Code, "consumer groups are not available here: the " + what, true
	case kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.JoinGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.SyncGroup,
		kmsg.DescribeGroups, kmsg.ListGroups, kmsg.DeleteGroups, kmsg.OffsetDelete,
		kmsg.ConsumerGroupHeartbeat, kmsg.ConsumerGroupDescribe:
		return kerr.GroupAuthorizationFailed.Code, "consumer groups are not available here: the " + what, true
	case kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.EndTxn, kmsg.TxnOffsetCommit,
		kmsg.DescribeTransactions, kmsg.ListTransactions:
		return kerr.TransactionalIDAuthorizationFailed.Code, "Kafka transactions are not supported", true
	case kmsg.CreateTopics, kmsg.DeleteTopics, kmsg.DeleteRecords, kmsg.CreatePartitions, kmsg.DescribeConfigs,
		kmsg.AlterConfigs, kmsg.IncrementalAlterConfigs, kmsg.DescribeProducers, kmsg.DescribeTopicPartitions:
		return kerr.TopicAuthorizationFailed.Code, "admin operations are not available", true
	case kmsg.DescribeACLs, kmsg.CreateACLs, kmsg.DeleteACLs, kmsg.DescribeCluster, kmsg.DescribeLogDirs,
		kmsg.ElectLeaders, kmsg.AlterPartitionAssignments, kmsg.ListPartitionReassignments,
		kmsg.DescribeClientQuotas, kmsg.AlterClientQuotas, kmsg.DescribeUserSCRAMCredentials,
		kmsg.AlterUserSCRAMCredentials, kmsg.AlterReplicaLogDirs, kmsg.UpdateFeatures:
		return kerr.ClusterAuthorizationFailed.Code, "admin operations are not available", true
	}
	return 0, "", false
}
