// Package pipeline turns raw events into stored Keen events and the Kafka
// Outbound streams (docs/decisions.md §6): one consumer group over every
// project's raw topics; each poll's records validated and enriched by
// package event (partitions in parallel), stored idempotently, and, while
// the project's Kafka Outbound is enabled, published to the collection's
// outbound topic (valid events) or DLQ (invalid ones) in one Kafka
// transaction with the consumed offsets. docs/pipeline.md tells why this is
// exactly-once.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/ratelog"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Group is the backend consumer group of the pipeline.
const Group = "sluice.pipeline"

// TransactionalIDPrefix starts every pipeline transactional id.
const TransactionalIDPrefix = "sluice.pipeline."

// maxPollRecords bounds one poll, hence one store Insert and one
// transaction. While a backlog drains, the store's cost per event falls as
// its batches grow (DuckDB writes an Insert of a full row group or more
// straight into the database file instead of through its WAL), so a poll
// may take up to fetchMaxPartitionBytes from every partition.
const (
	maxPollRecords         = 40000
	fetchMaxPartitionBytes = 4 << 20
)

// DefaultTransactionTimeout is the pipeline's transaction timeout. A
// process killed inside a transaction leaves it open until the coordinator
// aborts it, this long after it began plus up to the brokers'
// transaction.abort.timed.out.transaction.cleanup.interval.ms; until then
// read_committed consumers of the outbound partitions it wrote wait, and
// so does the node taking over its partitions (UNSTABLE_OFFSET_COMMIT).
// Below sessionTimeout minus a 1 s cleanup interval, the abort is done
// when the takeover starts. A transaction spans only producing and
// committing a batch (storing comes before it), well under a second; one
// that outlives the timeout (a broker failing over mid-batch) is aborted
// by the coordinator and its batch processed again.
const DefaultTransactionTimeout = 8 * time.Second

// metadataMaxAge is how often the pipeline's client refreshes its
// metadata, and so how soon its regex subscription finds a raw topic
// another process created.
const metadataMaxAge = 2 * time.Second

// closeGrace is how long Close lets the batch in progress finish.
const closeGrace = 20 * time.Second

// sessionTimeout is how long the group waits for a member that stopped
// heartbeating (a process that was killed) before its partitions move to
// the others. Kafka's default, 45 s, would hold a killed process's
// partitions that long; a restarted process with the same data dir gets
// them back at once anyway (static membership, see newSession).
const sessionTimeout = 10 * time.Second

// Config is what the pipeline runs with.
type Config struct {
	Backend   *backend.Backend
	Registry  *registry.Registry
	Store     store.Store
	Processor *event.Processor
	Metrics   *Metrics
	Logger    *slog.Logger
	// Now is the clock for keen.created_at (time.Now when nil).
	Now func() time.Time
	// TransactionalID identifies this process's transactional producer.
	// It must differ between processes sharing a backend, and should stay
	// the same across restarts of one process (NewTransactionalID, kept
	// in the data dir): a restarted process then aborts its predecessor's
	// open transaction at once instead of waiting for it to time out.
	// Empty: a random one.
	TransactionalID string
	// TransactionTimeout bounds how long a transaction left open by a
	// crashed process holds back read_committed consumers
	// (DefaultTransactionTimeout when 0).
	TransactionTimeout time.Duration

	// crashBeforeCommit, for tests, is asked after a batch's records are
	// produced; true abandons the batch as a crash would (no commit, no
	// abort) and stops the pipeline.
	crashBeforeCommit func() bool
	// stageHook, for tests, is called as the loop enters each stage (a
	// Stage constant); blocking in it blocks the stage.
	stageHook func(stage string)
	// stageLimit and pollWait, for tests, replace stageStuckAfter and
	// pollWait (health.go); topUpWait and metadataMaxAge, for tests,
	// replace topUpWait and metadataMaxAge.
	stageLimit, pollWait, topUpWait, metadataMaxAge time.Duration
}

// NewTransactionalID returns a fresh transactional id for a process.
func NewTransactionalID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return TransactionalIDPrefix + hex.EncodeToString(b)
}

// Pipeline is a running pipeline.
type Pipeline struct {
	cfg    Config
	sess   atomic.Pointer[kgo.GroupTransactSession]
	topics *backend.TopicCache
	parts  *partitioner
	log    *slog.Logger
	// poison and health are the loop's (health is also read by Health).
	poison      *poisonMemory
	health      healthState
	fetchErrors fetchErrorLog
	unreadable  unreadableTracker
	skipLog     skipLog
	// skipFailures logs failures to skip an unreadable batch (retried
	// after the next batch, or the next failed fetches).
	skipFailures *ratelog.Limiter
	fair         *fairness
	unwatch      func() // ends WatchNewRawTopics

	pollCtx    context.Context // cancelled by Close: stop polling
	stopPoll   context.CancelFunc
	workCtx    context.Context // cancelled closeGrace after Close
	cancelWork context.CancelFunc
	done       chan struct{}
	provDone   chan struct{}
}

// errCrashed stops the loop without ending the transaction (tests).
var errCrashed = errors.New("crash simulated")

// Start joins the pipeline's consumer group and processes until Close.
func Start(ctx context.Context, cfg Config) (*Pipeline, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = NewTransactionalID()
	}
	if cfg.TransactionTimeout == 0 {
		cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	if cfg.pollWait == 0 {
		cfg.pollWait = pollWait
	}
	if cfg.topUpWait == 0 {
		cfg.topUpWait = topUpWait
	}
	if cfg.metadataMaxAge == 0 {
		cfg.metadataMaxAge = metadataMaxAge
	}
	p := &Pipeline{
		cfg: cfg, topics: cfg.Backend.NewTopicCache(), parts: newPartitioner(),
		poison: newPoisonMemory(limits.PipelinePoisonMemory), fair: newFairness(),
		log:  cfg.Logger.With("component", "pipeline"),
		done: make(chan struct{}), provDone: make(chan struct{}),
	}
	p.skipFailures = ratelog.New(p.log, slog.LevelWarn, "could not skip a raw batch the pipeline cannot read; retrying", failureLogEvery, 1)
	if err := p.fencePredecessor(ctx); err != nil {
		return nil, err
	}
	sess, err := p.newSession()
	if err != nil {
		return nil, err
	}
	p.sess.Store(sess)
	p.pollCtx, p.stopPoll = context.WithCancel(ctx)
	p.workCtx, p.cancelWork = context.WithCancel(context.Background())

	prov := &provisioner{
		topics: p.topics, reg: cfg.Registry, wake: make(chan struct{}, 1), warn: p.log.Warn,
		rawTopics: func() []string { return p.sess.Load().Client().GetConsumeTopics() },
	}
	cfg.Registry.OnChange(prov.changed)
	// A collection created by this process is consumed at once, not at
	// the subscription's next periodic metadata refresh (MetadataMaxAge).
	p.unwatch = cfg.Backend.WatchNewRawTopics(func(string) { p.sess.Load().Client().ForceMetadataRefresh() })
	go func() {
		defer close(p.provDone)
		prov.run(p.pollCtx)
	}()
	go p.run()
	return p, nil
}

func (p *Pipeline) newSession() (*kgo.GroupTransactSession, error) {
	sess, err := kgo.NewGroupTransactSession(p.cfg.Backend.Opts(
		kgo.ConsumerGroup(Group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(tenancy.RawTopicRegex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A batch is stored, produced and committed before a rebalance
		// moves its partitions, so a rebalance rarely aborts work.
		kgo.BlockRebalanceOnPoll(),
		// New collections are picked up within seconds (those this
		// process creates at once: WatchNewRawTopics in Start).
		kgo.MetadataMinAge(500*time.Millisecond),
		kgo.MetadataMaxAge(p.cfg.metadataMaxAge),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		// The Inbound listener refuses batches that decompress past
		// MaxDecompressedBatchBytes, so a raw batch over it (one written
		// before that check existed) is hostile: franz-go would inflate it
		// up to 1 GiB. Past this bound it is unreadable, and skipped
		// (unreadable.go, decompress.go).
		kgo.WithDecompressor(rawDecompressor),
		kgo.TransactionalID(p.cfg.TransactionalID),
		// Static membership under the process's own, stable id: a
		// process restarted after a crash takes its partitions back as
		// soon as it rejoins, instead of waiting for its dead
		// predecessor's session to expire. Close leaves explicitly.
		kgo.InstanceID(p.cfg.TransactionalID),
		kgo.SessionTimeout(sessionTimeout),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), // see partitioner
		kgo.ProducerBatchMaxBytes(limits.MaxMessageBytes),
		// Outbound records are read by every kind of client, and not all
		// of them decompress every codec (kafkajs has gzip only): publish
		// them uncompressed.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordDeliveryTimeout(time.Minute),
	)...)
	if err != nil {
		return nil, fmt.Errorf("starting the pipeline's transactional consumer: %w", err)
	}
	return sess, nil
}

// Close stops after the batch in progress (given closeGrace) and leaves
// the group.
func (p *Pipeline) Close() {
	p.unwatch()
	p.stopPoll()
	timer := time.AfterFunc(closeGrace, p.cancelWork)
	<-p.done
	<-p.provDone
	timer.Stop()
	p.cancelWork()
	p.sess.Load().CloseAllowingRebalance()
	p.leaveGroup()
}

// fencePredecessor initializes the producer of the transactional id
// before the group is joined. A process killed inside a transaction left
// it open, with the group's offsets pending in it; until it is aborted the
// group's committed offsets cannot be read (UNSTABLE_OFFSET_COMMIT), and
// kgo would only initialize the producer, which aborts it, after reading
// them: a restart waited out the whole transaction timeout. Initializing
// first aborts it at once.
func (p *Pipeline) fencePredecessor(ctx context.Context) error {
	// The abort cannot outlast the transaction timeout.
	ctx, cancel := context.WithTimeout(ctx, p.cfg.TransactionTimeout+30*time.Second)
	defer cancel()
	timeout := int32(p.cfg.TransactionTimeout / time.Millisecond)
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &p.cfg.TransactionalID
		req.TransactionTimeoutMillis = timeout
		resp, err := req.RequestWith(ctx, p.cfg.Backend.Client())
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		// The coordinator answers CONCURRENT_TRANSACTIONS while it
		// aborts the open transaction.
		if err == nil || !kerr.IsRetriable(err) && !errors.Is(err, kerr.ConcurrentTransactions) {
			if err != nil {
				return fmt.Errorf("initializing the pipeline's transactional producer: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("initializing the pipeline's transactional producer: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leaveGroup removes this process's static member from the group, so its
// partitions move to the other processes now rather than after
// sessionTimeout (a static member's client does not leave on close).
func (p *Pipeline) leaveGroup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.cfg.Backend.Admin().LeaveGroup(ctx, kadm.LeaveGroup(Group).InstanceIDs(p.cfg.TransactionalID).Reason("sluice is stopping"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		p.log.Warn("leaving the pipeline's consumer group; the other processes take over this one's partitions once its session expires",
			"session_timeout", sessionTimeout, "err", err)
	}
}

func (p *Pipeline) run() {
	defer close(p.done)
	for p.pollCtx.Err() == nil {
		sess := p.sess.Load()
		var fetches kgo.Fetches
		if p.fair.sharing {
			fetches = p.freshen(sess)
		}
		if fetches.NumRecords() == 0 {
			p.stage(StagePolling)
			// Bounded, so that a poll that does not return is told from
			// an idle one (health.go).
			ctx, cancel := context.WithTimeout(p.pollCtx, p.cfg.pollWait)
			ahead := sess.Client().BufferedFetchRecords() > 0
			fetches = sess.PollRecords(ctx, maxPollRecords)
			cancel()
			if ahead && !p.fair.sharing {
				fetches = p.topUp(sess, fetches)
			}
		}
		if p.pollCtx.Err() != nil {
			sess.AllowRebalance()
			return
		}
		errs := 0
		fetches.EachError(func(t string, part int32, err error) {
			if t == "" && errors.Is(err, context.DeadlineExceeded) {
				return // the poll's own bound: nothing arrived
			}
			errs++
			p.fetchErrors.warn(p.log, t, part, err, time.Now())
			p.unreadable.failed(t, part, err)
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 {
				p.unreadable.read(fp.Topic, fp.Partition)
			}
		})
		if fetches.NumRecords() == 0 {
			sess.AllowRebalance()
			// A partition that fails on every fetch (a batch it cannot
			// read) must not make the loop spin, nor stop there.
			if errs > 0 && p.skipUnreadable(p.workCtx, sess) == 0 {
				p.pause(fetchErrorPause)
			}
			continue
		}
		// While several projects are active, a batch holds at most a
		// share of each one's records; the rest is given back and comes
		// again in a later poll (fair.go).
		batch, giveBack := p.fair.cut(p.log, fetches, time.Now())
		sess.Client().UpdateFetchMaxBytes(fetchMaxBytes, p.fair.partitionBytes())
		if giveBack != nil {
			sess.Client().SetOffsets(giveBack)
		}
		evicted := p.poison.evicted
		isolated, err := p.handle(p.workCtx, sess, batch)
		if p.poison.evicted != evicted {
			// The batch holds more poison than the memory: what it
			// learned is partly lost again, so it is paced like any
			// failure.
			isolated = false
		}
		if errors.Is(err, errCrashed) {
			return // as a crash would: no End, no AllowRebalance
		}
		sess.AllowRebalance()
		switch {
		case err == nil:
			p.skipUnreadable(p.workCtx, sess)
		case isolated:
			// The attempt found the records it failed on; the next one
			// gives them their outcome.
			p.health.isolated(err, time.Now())
		default:
			p.pause(p.health.failed(p.log, err, time.Now()))
		}
	}
}

// topUp adds to a poll that was fetched ahead what the fetch the poll
// sent brings. The client sends its next fetch as soon as a poll takes the
// last one, so at a steady rate the poll a batch starts with holds what
// arrived while the batch before it began, and what arrived during that
// batch is fetched only when this one begins, to be processed in the next:
// an event waited for the batch in progress and two more. The fetch the
// poll sent comes back within a round trip while events keep arriving, and
// this batch takes it too (up to topUpWait, and while the poll is a steady
// stream's, not a backlog's, which gains nothing from fresher records).
// Its records are the session's like any poll's: the batch's transaction
// commits their offsets, and a failed batch rewinds them with the rest.
func (p *Pipeline) topUp(sess *kgo.GroupTransactSession, fetches kgo.Fetches) kgo.Fetches {
	n := fetches.NumRecords()
	if n == 0 || n >= topUpBelow {
		return fetches
	}
	ctx, cancel := context.WithTimeout(p.pollCtx, p.cfg.topUpWait)
	more := sess.PollRecords(ctx, maxPollRecords-n)
	cancel()
	return mergeFetches(fetches, more)
}

// The top-up of a poll (topUp).
const (
	topUpWait  = 10 * time.Millisecond
	topUpBelow = 8192
)

// mergeFetches returns the records and errors of a and b as one fetch
// holding each partition once, its records in order (b's follow a's):
// the batch's bookkeeping (rewind, the fairness cut, the commit's
// offsets) takes a partition's first and last records from it. A poll's
// own deadline (topic "") is left out: nothing arrived.
func mergeFetches(a, b kgo.Fetches) kgo.Fetches {
	var topics []kgo.FetchTopic
	at := map[string]int{}
	add := func(t string, fp kgo.FetchPartition) {
		if t == "" && (errors.Is(fp.Err, context.DeadlineExceeded) || errors.Is(fp.Err, context.Canceled)) {
			return
		}
		i, ok := at[t]
		if !ok {
			i = len(topics)
			at[t] = i
			topics = append(topics, kgo.FetchTopic{Topic: t})
		}
		parts := topics[i].Partitions
		for j := range parts {
			if parts[j].Partition != fp.Partition {
				continue
			}
			q := &parts[j]
			q.Records = append(q.Records[:len(q.Records):len(q.Records)], fp.Records...)
			if q.Err == nil {
				q.Err = fp.Err
			}
			q.HighWatermark, q.LastStableOffset, q.LogStartOffset = fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset
			return
		}
		topics[i].Partitions = append(parts, fp)
	}
	for _, fs := range []kgo.Fetches{a, b} {
		for _, f := range fs {
			for _, t := range f.Topics {
				for _, fp := range t.Partitions {
					add(t.Topic, fp)
				}
			}
		}
	}
	if len(topics) == 0 {
		return nil
	}
	return kgo.Fetches{{Topics: topics}}
}

// pause waits before a failed batch is retried.
func (p *Pipeline) pause(d time.Duration) {
	p.stage("")
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.pollCtx.Done():
	case <-t.C:
	}
}

// handle processes one poll: store (idempotent), then produce the outbound
// and DLQ records and commit the consumed offsets in one transaction.
// Whatever fails, the transaction is aborted and the session rewinds to the
// committed offsets, so the poll is processed again; isolated says the
// attempt learned which records it failed on (see poisonMemory), so the
// next attempt can give them their outcome and go through.
func (p *Pipeline) handle(ctx context.Context, sess *kgo.GroupTransactSession, fetches kgo.Fetches) (isolated bool, err error) {
	st := stages{last: time.Now()}
	b := planBatch(fetches)
	w, isolated, err := p.storeAndBuild(ctx, b)
	st.mark(&st.store)
	st.validate, st.store = b.validating, st.store-b.validating
	if err != nil {
		p.rewind(sess, fetches)
		return isolated, err
	}
	if err := sess.Begin(); err != nil {
		p.rewind(sess, fetches)
		p.renewSession(sess)
		return false, fmt.Errorf("beginning a transaction: %w", err)
	}
	p.stage(StagePublishing)
	fails, err := p.produce(ctx, sess, w.recs)
	st.mark(&st.produce)
	if err == nil && len(fails) > 0 {
		isolated, err = p.isolate(fails)
	}
	if err != nil {
		p.abort(ctx, sess)
		return isolated, err
	}
	if p.cfg.crashBeforeCommit != nil && p.cfg.crashBeforeCommit() {
		return false, errCrashed
	}
	// The poll holds rebalances back (BlockRebalanceOnPoll) and End waits
	// for a heartbeat. When the group session has ended with an error (its
	// coordinator's broker died), no heartbeat loop answers until the
	// session's OnPartitionsLost has run, and that waits for this batch to
	// allow the rebalance: End would wait forever. Past endGrace the
	// waiting callback is let through, and End aborts the transaction.
	p.stage(StageCommitting)
	release := time.AfterFunc(endGrace, sess.AllowRebalance)
	committed, err := sess.End(ctx, kgo.TryCommit)
	release.Stop()
	st.mark(&st.commit)
	if n := fetches.NumRecords(); st.total() > slowBatch+time.Duration(n)*slowPerEvent {
		p.log.Warn("a batch was slow", "events", n,
			"took", st.total(), "validating", st.validate, "storing", st.store, "publishing", st.produce, "committing", st.commit)
	}
	if err != nil {
		p.cfg.Metrics.transaction("failed")
		p.renewSession(sess)
		return false, fmt.Errorf("committing the transaction: %w", err)
	}
	if !committed {
		// A rebalance moved partitions during the batch: the new owner
		// processes them again from the committed offsets.
		p.cfg.Metrics.transaction("aborted")
		p.log.Info("transaction aborted by a rebalance; the batch will be processed again")
		return false, nil
	}
	p.cfg.Metrics.transaction("committed")
	p.cfg.Metrics.batch(st)
	// Where a batch's time went, for tracing an event's wait (each event
	// waits for the batch in progress, then for its own).
	p.log.Debug("a batch committed", "events", fetches.NumRecords(), "projects", len(b.projects),
		"validating", st.validate, "storing", st.store, "publishing", st.produce, "committing", st.commit)
	p.health.committed(p.log, time.Now())
	p.poison.forget(nextOffsets(fetches))
	p.countPublished(w)
	return false, nil
}

// endGrace is how long committing a batch may hold back a rebalance that
// is waiting for it. A commit takes milliseconds, a few seconds while a
// coordinator moves; a rebalance let through during it aborts the batch,
// which is then processed again.
const endGrace = 5 * time.Second

// nextOffsets is, per partition of a poll, the offset after its last
// record.
func nextOffsets(fetches kgo.Fetches) map[string]map[int32]int64 {
	next := map[string]map[int32]int64{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		if next[fp.Topic] == nil {
			next[fp.Topic] = map[int32]int64{}
		}
		next[fp.Topic][fp.Partition] = fp.Records[len(fp.Records)-1].Offset + 1
	})
	return next
}

// A batch that takes longer than slowBatch plus slowPerEvent per event
// says where its time went: events are meant to be countable within a
// second, and a large batch (a backlog draining) is allowed its size.
const (
	slowBatch    = time.Second
	slowPerEvent = 50 * time.Microsecond
)

// stages times the steps of one batch.
type stages struct {
	last                             time.Time
	validate, store, produce, commit time.Duration
}

// mark sets *d to the time since the previous mark.
func (s *stages) mark(d *time.Duration) {
	now := time.Now()
	*d, s.last = now.Sub(s.last), now
}

func (s *stages) total() time.Duration { return s.validate + s.store + s.produce + s.commit }

// outRec is a record to publish, with the raw record it comes from.
type outRec struct {
	rec     *kgo.Record
	src     pos
	project string
	dlq     bool
}

// work is what a batch publishes, and what its commit counts and logs.
type work struct {
	recs    []outRec
	tallies map[string]*tally // by project
	notes   []func()          // log lines due once the batch commits
}

// tally counts a project's outcomes in a batch.
type tally struct {
	records, bytes int            // stream records
	dlq            int            // DLQ records
	dlqSkipped     int            // invalid events not written: outbound disabled
	invalid        map[string]int // by Keen error name
	skipped        map[string]int // stored events not streamed, by reason
	dropped        map[string]int // DLQ records dropped, by reason
}

func (w *work) tally(pid string) *tally {
	t := w.tallies[pid]
	if t == nil {
		t = &tally{invalid: map[string]int{}, skipped: map[string]int{}, dropped: map[string]int{}}
		w.tallies[pid] = t
	}
	return t
}

// storeAndBuild stores every project's events (storeAll) and builds the
// records to publish, giving each record the outcome a verdict holds for
// it.
func (p *Pipeline) storeAndBuild(ctx context.Context, b *batch) (*work, bool, error) {
	stored, isolated, err := p.storeAll(ctx, b)
	if err != nil {
		return nil, isolated, err
	}
	w := &work{tallies: map[string]*tally{}}
	for _, pb := range b.projects {
		if err := p.build(ctx, w, pb, stored[pb]); err != nil {
			return nil, isolated, err
		}
	}
	p.stage(StageTopics)
	if err := p.ensureTopics(ctx, w); err != nil {
		return nil, isolated, err
	}
	return w, isolated, nil
}

// build adds a project's records and outcomes to w.
func (p *Pipeline) build(ctx context.Context, w *work, pb *projectBatch, sp *storedProject) error {
	t := w.tally(pb.id)
	for name, n := range pb.invalid {
		t.invalid[name] += n
	}
	for _, e := range sp.refused {
		t.invalid[e.Name]++
	}
	if !pb.outbound {
		t.dlqSkipped += sum(pb.invalid) + len(sp.refused)
		return nil
	}
	recs, err := outboundRecords(pb, sp, p.parts)
	if err != nil {
		return err
	}
	for _, o := range recs {
		if v := p.poison.get(o.src); v != nil && v.skipStream != "" {
			t.skipped[v.skipStream]++
			continue
		}
		if !fits(o.rec) {
			t.skipped["too_large"]++
			id, n := string(o.rec.Headers[1].Value), len(o.rec.Value)
			w.notes = append(w.notes, func() {
				p.log.Warn("an enriched event exceeds the outbound max.message.bytes; stored, not streamed",
					"project", pb.id, "keen.id", id, "bytes", n)
			})
			continue
		}
		w.recs = append(w.recs, o)
		t.records++
		t.bytes += recordBytes(o.rec)
	}
	for _, o := range dlqRecords(pb, sp.refused, p.parts) {
		if v := p.poison.get(o.src); v != nil && v.dropDLQ != "" {
			t.dropped[v.dropDLQ]++
			continue
		}
		w.recs = append(w.recs, o)
		t.dlq++
	}
	return nil
}

// ensureTopics creates the topics w publishes to. A topic the backend
// refuses to create (policy, authorization, an invalid name) costs its
// records only: stream records are skipped, DLQ records dropped, with the
// error as the reason.
func (p *Pipeline) ensureTopics(ctx context.Context, w *work) error {
	refused := map[string]error{}
	for _, o := range w.recs {
		topic := o.rec.Topic
		if _, ok := refused[topic]; ok {
			continue
		}
		err := p.topics.Ensure(ctx, topic, OutboundPartitions, outboundTopicConfigs)
		switch {
		case err == nil:
		case topicRefused(err):
			refused[topic] = err
			p.log.Warn("the backend refuses to create an outbound topic; its records are not published", "topic", topic, "err", err)
		default:
			return fmt.Errorf("creating an outbound topic: %w", err)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	kept := w.recs[:0]
	for _, o := range w.recs {
		err, ok := refused[o.rec.Topic]
		if !ok {
			kept = append(kept, o)
			continue
		}
		t := w.tally(o.project)
		if o.dlq {
			t.dlq--
			t.dropped[faultReason(err)]++
		} else {
			t.records--
			t.bytes -= recordBytes(o.rec)
			t.skipped[faultReason(err)]++
		}
	}
	w.recs = kept
	return nil
}

// produceFailure is a record the backend did not take.
type produceFailure struct {
	o     *outRec
	err   error
	alone bool // it was produced on its own
}

// produce sends recs in the open transaction and waits for all of them. It
// returns the records that failed. Records under suspicion (verdict.alone)
// are produced one at a time, each in its own flush, after the others, so
// that a failure names the record.
func (p *Pipeline) produce(ctx context.Context, sess *kgo.GroupTransactSession, recs []outRec) ([]produceFailure, error) {
	var (
		mu    sync.Mutex
		fails []produceFailure
	)
	send := func(set []*outRec, alone bool) error {
		for _, o := range set {
			sess.Produce(ctx, o.rec, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					fails = append(fails, produceFailure{o: o, err: err, alone: alone})
					mu.Unlock()
				}
			})
		}
		if err := sess.Client().Flush(ctx); err != nil {
			return fmt.Errorf("flushing outbound records: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(fails) > 0 {
			return errFailed
		}
		return nil
	}
	var together, alone []*outRec
	for i := range recs {
		if v := p.poison.get(recs[i].src); v != nil && v.alone {
			alone = append(alone, &recs[i])
		} else {
			together = append(together, &recs[i])
		}
	}
	if err := send(together, false); err != nil {
		return fails, ignoreFailed(err)
	}
	// Past a failure too: a deterministic error reported for a record
	// produced on its own is that record's, whatever state the failure
	// before it left the transaction in (which aborts anyway).
	for _, o := range alone {
		if err := send([]*outRec{o}, true); err != nil && !errors.Is(err, errFailed) {
			return fails, err
		}
	}
	return fails, nil
}

// ignoreFailed maps errFailed (the records say why) to nil.
func ignoreFailed(err error) error {
	if errors.Is(err, errFailed) {
		return nil
	}
	return err
}

var errFailed = errors.New("records failed")

// isolate learns from the records a produce failed on. Records refused for
// a reason of their own (classifyProduce) get a verdict: skipped or dropped
// when the batch is processed again, or, when their failure may be a
// neighbour's (several records of one refused request), produced on their
// own. isolated says there was such a record; err describes the failure.
func (p *Pipeline) isolate(fails []produceFailure) (isolated bool, err error) {
	recordFaults := 0
	for _, f := range fails {
		if classifyProduce(f.err) == recordFault {
			recordFaults++
		}
	}
	var first error
	for _, f := range fails {
		fault := classifyProduce(f.err)
		if fault == transientFault {
			if first == nil {
				first = f.err
			}
			continue
		}
		isolated = true
		v := p.poison.note(f.o.src)
		if fault == recordFault && !f.alone && recordFaults > 1 {
			v.alone = true
			continue
		}
		reason := faultReason(f.err)
		kind := "outbound"
		if f.o.dlq {
			v.dropDLQ, kind = reason, "DLQ"
		} else {
			v.skipStream = reason
		}
		p.log.Warn("the backend refuses a record; it is left out when its batch is processed again",
			"project", f.o.project, "record", kind, "topic", f.o.rec.Topic, "keen.id", string(f.o.rec.Headers[1].Value),
			"bytes", len(f.o.rec.Value), "err", f.err)
	}
	if isolated {
		return true, fmt.Errorf("producing outbound records: %d refused, first: %w", len(fails), fails[0].err)
	}
	return false, fmt.Errorf("producing outbound records: %w", first)
}

// abort ends the transaction without committing; the session rewinds to
// the committed offsets.
func (p *Pipeline) abort(ctx context.Context, sess *kgo.GroupTransactSession) {
	p.stage(StageAborting)
	p.cfg.Metrics.transaction("aborted")
	if _, err := sess.End(ctx, kgo.TryAbort); err != nil {
		p.log.Error("aborting a transaction", "err", err)
		p.renewSession(sess)
	}
}

// rewind moves every partition of a poll that was not processed back to
// its first record, so the poll is processed again.
func (p *Pipeline) rewind(sess *kgo.GroupTransactSession, fetches kgo.Fetches) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		if offsets[fp.Topic] == nil {
			offsets[fp.Topic] = map[int32]kgo.EpochOffset{}
		}
		first := fp.Records[0]
		offsets[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: first.LeaderEpoch, Offset: first.Offset}
	})
	sess.Client().SetOffsets(offsets)
}

// renewSession replaces a session whose transactional state failed (kgo
// reports such errors as not retryable): a new client re-initializes the
// transactional id, which also aborts what the old one left open.
func (p *Pipeline) renewSession(old *kgo.GroupTransactSession) {
	p.log.Warn("restarting the pipeline's transactional client")
	p.stage(StageRestarting)
	old.CloseAllowingRebalance()
	for p.pollCtx.Err() == nil {
		sess, err := p.newSession()
		if err == nil {
			p.sess.Store(sess)
			return
		}
		p.pause(p.health.failed(p.log, fmt.Errorf("restarting the pipeline's transactional client: %w", err), time.Now()))
	}
	// Closing: keep a closed session in place; Close closes it again.
}

// countPublished updates the per-project metrics of a committed batch and
// logs what it was due to.
func (p *Pipeline) countPublished(w *work) {
	for pid, t := range w.tallies {
		for name, n := range t.invalid {
			p.cfg.Metrics.invalid(pid, name, n)
		}
		p.cfg.Metrics.dlqWritten(pid, t.dlq)
		p.cfg.Metrics.dlqSkipped(pid, t.dlqSkipped)
		for reason, n := range t.dropped {
			p.cfg.Metrics.dlqDropped(pid, reason, n)
		}
		for reason, n := range t.skipped {
			p.cfg.Metrics.outboundSkipped(pid, reason, n)
		}
		if t.records > 0 {
			p.cfg.Metrics.outbound(pid, t.records, t.bytes)
		}
	}
	for _, note := range w.notes {
		note()
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
