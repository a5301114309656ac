package gateway

import (
	"context"
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

// serveFunc serves one request of the API its table entry is for; frame
// is the request as the client sent it (kafkaproto.Handler).
type serveFunc func(g *Gateway, ctx context.Context, st *connState, req kmsg.Request, frame []byte) (kafkaproto.Pending, error)

// serve adapts a Gateway method serving requests of type R to a serveFunc.
func serve[R kmsg.Request](f func(*Gateway, context.Context, *connState, R) (kafkaproto.Pending, error)) serveFunc {
	return func(g *Gateway, ctx context.Context, st *connState, req kmsg.Request, _ []byte) (kafkaproto.Pending, error) {
		return f(g, ctx, st, req.(R))
	}
}

// serveFrame is serve for a method that forwards the client's frame.
func serveFrame[R kmsg.Request](f func(*Gateway, context.Context, *connState, R, []byte) (kafkaproto.Pending, error)) serveFunc {
	return func(g *Gateway, ctx context.Context, st *connState, req kmsg.Request, frame []byte) (kafkaproto.Pending, error) {
		return f(g, ctx, st, req.(R), frame)
	}
}

// endpoint is what a role does with one Kafka API: the versions it
// advertises (before intersecting with the backend's) and the handler
// that serves it. An API with no handler is advertised but refused when
// sent (see the notes in roles); an API not in a role's table is not
// advertised, and refused (refusals) or, without a refusal, closes the
// connection.
type endpoint struct {
	versions kafkaproto.VersionRange
	serve    serveFunc
}

// roles is every role's table: the one place where a Kafka API is added to
// a listener.
//
// Inbound: Produce starts at 0 because librdkafka before 2.11.1 disables
// compression unless it does (v0–2 are refused when actually sent, as Kafka
// 4 does), and stops at 12: v13 names topics by id only. Fetch and
// FindCoordinator are advertised although refused: librdkafka derives
// broker features from them and without them falls back to the old message
// format (Fetch v4), no zstd (Fetch v10) and no lz4 (FindCoordinator v0).
// InitProducerID serves idempotent producers; a transactional one is
// refused.
//
// Outbound: Fetch v13+ and OffsetCommit/OffsetFetch v10 name topics by id:
// Fetch ids are authorized (fetch.go); the offset APIs stop at v9. Produce
// is advertised (and refused when sent) for librdkafka, which without
// Produce v3 assumes the old message format and fetches with a Fetch
// version Kafka 4 no longer serves.
var roles = map[Role]map[kmsg.Key]endpoint{
	Inbound: {
		kmsg.Metadata:        {kafkaproto.VersionRange{Min: 0, Max: 12}, serve((*Gateway).metadata)},
		kmsg.Produce:         {kafkaproto.VersionRange{Min: 0, Max: 12}, serveFrame((*Gateway).produce)},
		kmsg.InitProducerID:  {kafkaproto.VersionRange{Min: 0, Max: 5}, serve((*Gateway).initProducerID)},
		kmsg.Fetch:           {kafkaproto.VersionRange{Min: 4, Max: 12}, nil},
		kmsg.FindCoordinator: {kafkaproto.VersionRange{Min: 0, Max: 6}, nil},
	},
	Outbound: {
		kmsg.Produce:              {kafkaproto.VersionRange{Min: 0, Max: 12}, nil},
		kmsg.Metadata:             {kafkaproto.VersionRange{Min: 0, Max: 12}, serve((*Gateway).metadata)},
		kmsg.Fetch:                {kafkaproto.VersionRange{Min: 4, Max: 18}, serveFrame((*Gateway).fetch)},
		kmsg.ListOffsets:          {kafkaproto.VersionRange{Min: 1, Max: 11}, serve((*Gateway).listOffsets)},
		kmsg.OffsetForLeaderEpoch: {kafkaproto.VersionRange{Min: 2, Max: 4}, serve((*Gateway).offsetForLeaderEpoch)},
		kmsg.FindCoordinator:      {kafkaproto.VersionRange{Min: 0, Max: 6}, serve((*Gateway).findCoordinator)},
		kmsg.JoinGroup:            {kafkaproto.VersionRange{Min: 0, Max: 9}, serve((*Gateway).joinGroup)},
		kmsg.SyncGroup:            {kafkaproto.VersionRange{Min: 0, Max: 5}, serve((*Gateway).syncGroup)},
		kmsg.Heartbeat:            {kafkaproto.VersionRange{Min: 0, Max: 4}, serve((*Gateway).heartbeat)},
		kmsg.LeaveGroup:           {kafkaproto.VersionRange{Min: 0, Max: 5}, serve((*Gateway).leaveGroup)},
		kmsg.OffsetCommit:         {kafkaproto.VersionRange{Min: 2, Max: 9}, serve((*Gateway).offsetCommit)},
		kmsg.OffsetFetch:          {kafkaproto.VersionRange{Min: 1, Max: 9}, serve((*Gateway).offsetFetch)},
		kmsg.DescribeGroups:       {kafkaproto.VersionRange{Min: 0, Max: 6}, serve((*Gateway).describeGroups)},
		kmsg.ListGroups:           {kafkaproto.VersionRange{Min: 0, Max: 5}, serve((*Gateway).listGroups)},
	},
}

// refusalClass is the class of a request a role does not serve, which picks
// the error it is answered with, as a broker whose ACLs deny would.
type refusalClass int

const (
	refuseConsuming    refusalClass = iota + 1 // TOPIC_AUTHORIZATION_FAILED
	refuseProducing                            // TOPIC_AUTHORIZATION_FAILED
	refuseGroups                               // GROUP_AUTHORIZATION_FAILED
	refuseTransactions                         // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
	refuseTopicAdmin                           // TOPIC_AUTHORIZATION_FAILED
	refuseClusterAdmin                         // CLUSTER_AUTHORIZATION_FAILED
	refuseUnsupported                          // UNSUPPORTED_VERSION: not offered at all
)

// refusals classes every API a client may send and a role may refuse. An
// API in neither this table nor a role's closes the connection (closes).
var refusals = map[kmsg.Key]refusalClass{
	kmsg.Fetch: refuseConsuming, kmsg.ListOffsets: refuseConsuming, kmsg.OffsetForLeaderEpoch: refuseConsuming,
	kmsg.Produce: refuseProducing,
	// FindCoordinator for a transaction is refused as a transaction (see
	// refusalCode).
	kmsg.FindCoordinator: refuseGroups,
	kmsg.OffsetCommit:    refuseGroups, kmsg.OffsetFetch: refuseGroups, kmsg.JoinGroup: refuseGroups,
	kmsg.Heartbeat: refuseGroups, kmsg.LeaveGroup: refuseGroups, kmsg.SyncGroup: refuseGroups,
	kmsg.DescribeGroups: refuseGroups, kmsg.ListGroups: refuseGroups, kmsg.DeleteGroups: refuseGroups,
	kmsg.OffsetDelete: refuseGroups, kmsg.ConsumerGroupHeartbeat: refuseGroups, kmsg.ConsumerGroupDescribe: refuseGroups,
	kmsg.ShareGroupHeartbeat: refuseGroups, kmsg.ShareGroupDescribe: refuseGroups, kmsg.ShareFetch: refuseGroups,
	kmsg.ShareAcknowledge: refuseGroups,
	kmsg.InitProducerID:   refuseTransactions, kmsg.AddPartitionsToTxn: refuseTransactions,
	kmsg.AddOffsetsToTxn: refuseTransactions, kmsg.EndTxn: refuseTransactions, kmsg.TxnOffsetCommit: refuseTransactions,
	kmsg.DescribeTransactions: refuseTransactions, kmsg.ListTransactions: refuseTransactions,
	kmsg.CreateTopics: refuseTopicAdmin, kmsg.DeleteTopics: refuseTopicAdmin, kmsg.DeleteRecords: refuseTopicAdmin,
	kmsg.CreatePartitions: refuseTopicAdmin, kmsg.DescribeConfigs: refuseTopicAdmin, kmsg.AlterConfigs: refuseTopicAdmin,
	kmsg.IncrementalAlterConfigs: refuseTopicAdmin, kmsg.DescribeProducers: refuseTopicAdmin,
	kmsg.DescribeTopicPartitions: refuseTopicAdmin,
	kmsg.DescribeACLs:            refuseClusterAdmin, kmsg.CreateACLs: refuseClusterAdmin, kmsg.DeleteACLs: refuseClusterAdmin,
	kmsg.DescribeCluster: refuseClusterAdmin, kmsg.DescribeLogDirs: refuseClusterAdmin, kmsg.ElectLeaders: refuseClusterAdmin,
	kmsg.AlterPartitionAssignments: refuseClusterAdmin, kmsg.ListPartitionReassignments: refuseClusterAdmin,
	kmsg.DescribeClientQuotas: refuseClusterAdmin, kmsg.AlterClientQuotas: refuseClusterAdmin,
	kmsg.DescribeUserSCRAMCredentials: refuseClusterAdmin, kmsg.AlterUserSCRAMCredentials: refuseClusterAdmin,
	kmsg.AlterReplicaLogDirs: refuseClusterAdmin, kmsg.UpdateFeatures: refuseClusterAdmin,
	// Client telemetry (KIP-714) is not collected: a broker without a
	// metrics plugin does not list these APIs either.
	kmsg.GetTelemetrySubscriptions: refuseUnsupported, kmsg.PushTelemetry: refuseUnsupported,
}

// closes are the APIs whose requests close the connection, deliberately:
// a broker's inter-broker and controller APIs, delegation tokens, streams
// groups and share-group state (no client sends them to a broker it does
// not run), and SASL and ApiVersions, which package kafkaproto answers
// itself (after authentication they are out of place). Every API kmsg
// defines is in a role's table, in refusals or here
// (TestEveryAPIKeyHasAnAnswer), so a new one is classed when franz-go
// adds it.
var closes = map[kmsg.Key]bool{
	kmsg.LeaderAndISR: true, kmsg.StopReplica: true, kmsg.UpdateMetadata: true, kmsg.ControlledShutdown: true,
	kmsg.SASLHandshake: true, kmsg.ApiVersions: true, kmsg.SASLAuthenticate: true, kmsg.WriteTxnMarkers: true,
	kmsg.CreateDelegationToken: true, kmsg.RenewDelegationToken: true, kmsg.ExpireDelegationToken: true,
	kmsg.DescribeDelegationToken: true, kmsg.Vote: true, kmsg.BeginQuorumEpoch: true, kmsg.EndQuorumEpoch: true,
	kmsg.DescribeQuorum: true, kmsg.AlterPartition: true, kmsg.Envelope: true, kmsg.FetchSnapshot: true,
	kmsg.BrokerRegistration: true, kmsg.BrokerHeartbeat: true, kmsg.UnregisterBroker: true,
	kmsg.AllocateProducerIDs: true, kmsg.ControllerRegistration: true, kmsg.AssignReplicasToDirs: true,
	kmsg.ListConfigResources: true, kmsg.AddRaftVoter: true, kmsg.RemoveRaftVoter: true, kmsg.UpdateRaftVoter: true,
	kmsg.InitializeShareGroupState: true, kmsg.ReadShareGroupState: true, kmsg.WriteShareGroupState: true,
	kmsg.DeleteShareGroupState: true, kmsg.ReadShareGroupStateSummary: true, kmsg.StreamsGroupHeartbeat: true,
	kmsg.StreamsGroupDescribe: true, kmsg.DescribeShareGroupOffsets: true, kmsg.AlterShareGroupOffsets: true,
	kmsg.DeleteShareGroupOffsets: true, kmsg.StreamsGroupTopologyDescriptionUpdate: true, kmsg.UnregisterController: true,
}

// refusalCode is the error a role answers for a request it does not serve
// (refusals). ok=false: no proper answer, close.
func refusalCode(role Role, req kmsg.Request) (code int16, msg string, ok bool) {
	what := "Kafka Inbound listener only accepts producers"
	if role == Outbound {
		what = "Kafka Outbound listener only serves consumers"
	}
	class := refusals[kmsg.Key(req.Key())]
	if fc, isFC := req.(*kmsg.FindCoordinatorRequest); isFC && fc.CoordinatorType == 1 {
		class = refuseTransactions
	}
	switch class {
	case refuseConsuming:
		return kerr.TopicAuthorizationFailed.Code, "consuming is not allowed here: the " + what, true
	case refuseProducing:
		return kerr.TopicAuthorizationFailed.Code, "producing is not allowed here: the " + what, true
	case refuseGroups:
		return kerr.GroupAuthorizationFailed.Code, "consumer groups are not available here: the " + what, true
	case refuseTransactions:
		return kerr.TransactionalIDAuthorizationFailed.Code, "Kafka transactions are not supported", true
	case refuseTopicAdmin:
		return kerr.TopicAuthorizationFailed.Code, "admin operations are not available", true
	case refuseClusterAdmin:
		return kerr.ClusterAuthorizationFailed.Code, "admin operations are not available", true
	case refuseUnsupported:
		return kerr.UnsupportedVersion.Code, kmsg.NameForKey(req.Key()) + " is not offered by sluice", true
	}
	return 0, "", false
}
