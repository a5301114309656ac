package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
)

// Topic is the backend topic holding the registry. One partition keeps every
// change in a single order, so "the view has caught up to offset N" means
// every earlier change is visible too.
const Topic = "sluice.registry"

// ErrNotFound is returned for an unknown project or access key.
var ErrNotFound = errors.New("not found")

// Registry is the shared, Kafka-backed registry with its local view.
type Registry struct {
	logger   *slog.Logger
	producer *kgo.Client
	consumer *kgo.Client
	admin    *kadm.Client

	mu      sync.RWMutex
	view    *View
	next    int64         // offset of the next record to apply
	changed chan struct{} // closed and replaced whenever next advances

	// writeMu serializes this process's read-modify-write updates.
	writeMu sync.Mutex

	hooksMu sync.Mutex
	hooks   []func()

	stop chan struct{}
	done chan struct{}
}

// Open creates the registry topic if needed, reads it to its end, and keeps
// following it until Close.
func Open(ctx context.Context, b *backend.Backend, logger *slog.Logger) (*Registry, error) {
	compact := "compact"
	if err := b.EnsureTopic(ctx, Topic, 1, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return nil, fmt.Errorf("opening the registry: %w", err)
	}
	producer, err := kgo.NewClient(b.Opts(
		kgo.DefaultProduceTopic(Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return nil, fmt.Errorf("opening the registry producer: %w", err)
	}
	consumer, err := kgo.NewClient(b.Opts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{Topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		producer.Close()
		return nil, fmt.Errorf("opening the registry consumer: %w", err)
	}
	r := &Registry{
		logger:   logger,
		producer: producer,
		consumer: consumer,
		admin:    b.Admin(),
		view:     NewView(),
		changed:  make(chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go r.follow()

	if err := r.Sync(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("loading the registry: %w", err)
	}
	return r, nil
}

// follow applies every record of the registry topic, in order, forever.
func (r *Registry) follow() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-r.stop
		cancel()
	}()
	for {
		fetches := r.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			r.logger.Warn("reading the registry topic", "err", err)
		})
		fetches.EachRecord(r.apply)
	}
}

func (r *Registry) apply(rec *kgo.Record) {
	r.mu.Lock()
	if rec.Value == nil {
		r.view.remove(rec.Key)
	} else if err := r.view.Apply(rec.Key, rec.Value); err != nil {
		r.logger.Error("skipping a registry record", "offset", rec.Offset, "err", err)
	}
	r.mu.Unlock()
	// Hooks run before the writer waiting for this record is released, so
	// that when a revocation returns, live connections already know.
	if changesAccess(rec.Key) {
		r.hooksMu.Lock()
		for _, h := range r.hooks {
			h()
		}
		r.hooksMu.Unlock()
	}
	r.mu.Lock()
	r.next = rec.Offset + 1
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// OnChange registers fn to run after every change of a project, an access
// key or stream settings, before the write that caused it returns. fn may
// read the registry but not write it.
func (r *Registry) OnChange(fn func()) {
	r.hooksMu.Lock()
	r.hooks = append(r.hooks, fn)
	r.hooksMu.Unlock()
}

// changesAccess says whether the record at key changes what OnChange's
// hooks act on (who may connect, where events flow): projects, access keys
// and stream settings; not saved queries, their results or the schedule's
// heartbeats, which every process writes every few seconds.
func changesAccess(key []byte) bool {
	k := string(key)
	return strings.HasPrefix(k, projectKeyPrefix) || strings.HasPrefix(k, accessKeyKeyPrefix) || strings.HasPrefix(k, streamsKeyPrefix)
}

// waitApplied returns once the record at offset is in the local view.
func (r *Registry) waitApplied(ctx context.Context, offset int64) error {
	for {
		r.mu.RLock()
		next, changed := r.next, r.changed
		r.mu.RUnlock()
		if next > offset {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the registry to reach offset %d: %w", offset, ctx.Err())
		case <-r.done:
			return errors.New("registry closed")
		}
	}
}

// Read runs fn with the current view; fn must not keep references to it.
func (r *Registry) Read(fn func(v *View)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(r.view)
}

// Match authenticates secret for project pid; see View.Match.
func (r *Registry) Match(pid, secret string) Credential {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.view.Match(pid, secret)
}

// Project returns a project by id.
func (r *Registry) Project(pid string) (Project, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.view.Project(pid)
}

// put writes one record and returns once the local view holds it.
func (r *Registry) put(ctx context.Context, key string, rec record) error {
	res := r.producer.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: encodeRecord(rec)})
	written, err := res.First()
	if err != nil {
		return fmt.Errorf("writing registry record %s: %w", key, err)
	}
	return r.waitApplied(ctx, written.Offset)
}

// putTombstone deletes the entity key names and returns once the local
// view no longer holds it.
func (r *Registry) putTombstone(ctx context.Context, key string) error {
	res := r.producer.ProduceSync(ctx, &kgo.Record{Key: []byte(key)})
	written, err := res.First()
	if err != nil {
		return fmt.Errorf("deleting registry record %s: %w", key, err)
	}
	return r.waitApplied(ctx, written.Offset)
}

// Sync returns once the local view holds every record written before it
// was called, by any process.
func (r *Registry) Sync(ctx context.Context) error {
	end, err := r.admin.ListEndOffsets(ctx, Topic)
	if err == nil {
		err = end.Error()
	}
	if err != nil {
		return fmt.Errorf("reading the registry's end offset: %w", err)
	}
	o, _ := end.Lookup(Topic, 0)
	return r.waitApplied(ctx, o.Offset-1)
}

// CreateProject creates a project with fresh keys in the organization.
func (r *Registry) CreateProject(ctx context.Context, orgID, name string) (Project, error) {
	p := Project{
		ID: NewProjectID(), OrgID: orgID, Name: name,
		MasterKey: NewKey(), WriteKey: NewKey(), ReadKey: NewKey(),
		CreatedAt: time.Now().UTC(),
	}
	if err := r.put(ctx, projectRecordKey(p.ID), record{Kind: kindProject, Project: &p}); err != nil {
		return Project{}, err
	}
	return p, nil
}

// CreateAccessKey stores a new access key with a fresh value.
func (r *Registry) CreateAccessKey(ctx context.Context, pid string, k AccessKey) (AccessKey, error) {
	if _, ok := r.Project(pid); !ok {
		return AccessKey{}, ErrNotFound
	}
	k.Key, k.ProjectID, k.Deleted = NewKey(), pid, false
	if err := r.put(ctx, accessKeyRecordKey(pid, k.Key), record{Kind: kindAccessKey, AccessKey: &k}); err != nil {
		return AccessKey{}, err
	}
	return k, nil
}

// UpdateAccessKey applies change to a live access key and stores the result.
func (r *Registry) UpdateAccessKey(ctx context.Context, pid, key string, change func(*AccessKey)) (AccessKey, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	var k AccessKey
	var ok bool
	r.Read(func(v *View) { k, ok = v.AccessKey(pid, key) })
	if !ok || k.Deleted {
		return AccessKey{}, ErrNotFound
	}
	change(&k)
	k.Key, k.ProjectID = key, pid
	if err := r.put(ctx, accessKeyRecordKey(pid, key), record{Kind: kindAccessKey, AccessKey: &k}); err != nil {
		return AccessKey{}, err
	}
	return k, nil
}

// DeleteAccessKey makes a key unusable for good. Its document stays, marked
// deleted, for the events it already wrote.
func (r *Registry) DeleteAccessKey(ctx context.Context, pid, key string) error {
	_, err := r.UpdateAccessKey(ctx, pid, key, func(k *AccessKey) { k.Deleted, k.IsActive = true, false })
	return err
}

// Streams returns a project's stream settings.
func (r *Registry) Streams(pid string) (Streams, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.view.Streams(pid)
}

// SetStreams stores a project's stream settings.
func (r *Registry) SetStreams(ctx context.Context, pid string, s Streams) error {
	if _, ok := r.Project(pid); !ok {
		return ErrNotFound
	}
	return r.put(ctx, streamsRecordKey(pid), record{Kind: kindStreams, ProjectID: pid, Streams: &s})
}

// Close stops following the topic and releases the clients.
func (r *Registry) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.consumer.Close()
	r.producer.Close()
}
