package backend

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// RawTopicPartitions is the partition count of every collection's raw topic
// (the seeds' figure), whichever way its first event arrived.
const RawTopicPartitions = 9

// rawTopicConfigs are the settings of every raw topic.
func rawTopicConfigs() map[string]*string {
	v := strconv.Itoa(limits.MaxMessageBytes)
	return map[string]*string{"max.message.bytes": &v}
}

// CollectionLimitError refuses a project's new collection past its limit.
type CollectionLimitError struct {
	Collection  string
	Collections int // the project's collections now
	Limit       int
}

func (e *CollectionLimitError) Error() string {
	return fmt.Sprintf("collection %q cannot be created: the project has %d collections, its limit (%d)",
		e.Collection, e.Collections, e.Limit)
}

// RawTopics creates collections' raw topics, at most a number of
// collections per project. It counts a project's collections from the
// backend's raw topics (a collection written with several keys has several
// raw topics, and counts once), so every sluice process on one backend
// counts the same ones. A known topic costs nothing; the backend's topic
// list is read before a new collection is admitted (and once at first use),
// and to refuse one only when the last reading is older than relistAfter:
// sluice never deletes a topic, so a project at its limit in the cache is
// at its limit unless an operator deleted some.
//
// Two processes admitting a project's last collections at the same moment
// may together pass the limit by one collection each.
type RawTopics struct {
	b   *Backend
	max int

	mu          sync.Mutex
	known       map[string]bool                // raw topics known to exist
	collections map[string]map[string]struct{} // project → collections of its known raw topics
	listedAt    time.Time                      // of the last listing; zero: never
	creating    map[string]*sync.Mutex         // per project: one new collection at a time
}

// NewRawTopics returns the raw topics of b, allowing maxCollections
// collections per project (0: limits.Default()'s).
func (b *Backend) NewRawTopics(maxCollections int) *RawTopics {
	if maxCollections <= 0 {
		maxCollections = limits.Default().MaxCollectionsPerProject
	}
	return &RawTopics{b: b, max: maxCollections, known: map[string]bool{},
		collections: map[string]map[string]struct{}{}, creating: map[string]*sync.Mutex{}}
}

// Mark records that topic exists (seen in metadata, say).
func (r *RawTopics) Mark(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.markLocked(topic)
}

func (r *RawTopics) markLocked(topic string) {
	r.known[topic] = true
	if raw, ok := tenancy.ParseRawTopic(topic); ok {
		cs := r.collections[raw.ProjectID]
		if cs == nil {
			cs = map[string]struct{}{}
			r.collections[raw.ProjectID] = cs
		}
		cs[raw.Collection] = struct{}{}
	}
}

// check says whether topic is known, and if not, the limit error that
// refuses its collection according to what is known (nil: admissible).
func (r *RawTopics) check(topic string, raw tenancy.Raw) (known bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known[topic] {
		return true, nil
	}
	cs := r.collections[raw.ProjectID]
	if _, ok := cs[raw.Collection]; ok || len(cs) < r.max {
		return false, nil
	}
	return false, &CollectionLimitError{Collection: raw.Collection, Collections: len(cs), Limit: r.max}
}

// list learns the backend's topics afresh (topics an operator deleted
// are forgotten). It asks a broker itself: kadm's listing may come from the
// client's metadata cache, seconds old.
func (r *RawTopics) list(ctx context.Context) error {
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, r.b.client) // no topics named: all of them
	if err != nil {
		return fmt.Errorf("listing backend topics to count collections: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known, r.collections = map[string]bool{}, map[string]map[string]struct{}{}
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 {
			r.markLocked(*t.Topic)
		}
	}
	r.listedAt = time.Now()
	return nil
}

// relistAfter is how old a listing may be before a refusal reads the
// topics again: a project whose topics an operator deleted gets its
// collections back within this time, and a client insisting past the
// limit costs at most one listing this often.
const relistAfter = 30 * time.Second

// Admit returns the limit error if writing to raw topic would make a new
// collection past its project's limit, without creating anything. It costs
// no round trip except the first time anything is asked.
func (r *RawTopics) Admit(ctx context.Context, topic string) error {
	raw, ok := tenancy.ParseRawTopic(topic)
	if !ok {
		return fmt.Errorf("%s is not a raw topic", topic)
	}
	r.mu.Lock()
	listed := !r.listedAt.IsZero()
	r.mu.Unlock()
	if !listed {
		if err := r.list(ctx); err != nil {
			return err
		}
	}
	_, err := r.check(topic, raw)
	return err
}

// Ensure creates raw topic unless it exists, or returns a
// *CollectionLimitError when it would be a new collection past its
// project's limit.
func (r *RawTopics) Ensure(ctx context.Context, topic string) error {
	raw, ok := tenancy.ParseRawTopic(topic)
	if !ok {
		return fmt.Errorf("%s is not a raw topic", topic)
	}
	known, err := r.check(topic, raw)
	if known {
		return nil
	}
	r.mu.Lock()
	fresh := time.Since(r.listedAt) < relistAfter
	r.mu.Unlock()
	if err != nil && fresh {
		return err
	}
	r.mu.Lock()
	lock := r.creating[raw.ProjectID]
	if lock == nil {
		lock = &sync.Mutex{}
		r.creating[raw.ProjectID] = lock
	}
	r.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	// Count afresh: other processes on the backend may have created some
	// of the project's collections since.
	if err := r.list(ctx); err != nil {
		return err
	}
	if _, err := r.check(topic, raw); err != nil {
		return err
	}
	if err := r.b.EnsureTopic(ctx, topic, RawTopicPartitions, rawTopicConfigs()); err != nil {
		return err
	}
	r.Mark(topic)
	r.b.rawTopicCreated(topic)
	return nil
}
