package backend

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestRawTopicsCountCollections: a collection counts once whatever raw
// topics it has (plain, an autofill key's, hex-named); a new one past the
// limit is refused without a topic; a listing older than relistAfter sees
// topics an operator deleted.
func TestRawTopicsCountCollections(t *testing.T) {
	ctx, b := embeddedBackend(t)
	const pid, other, key = "0123456789abcdef01234567", "76543210fedcba9876543210", "0123456789abcdef"
	r := b.NewRawTopics(2)
	for _, topic := range []string{
		tenancy.RawTopic(pid, "", "a"), tenancy.RawTopic(pid, key, "a"),
		tenancy.RawTopic(pid, "", "b c"), tenancy.RawTopic(pid, key, "b c"),
		tenancy.RawTopic(other, "", "x"), tenancy.RawTopic(other, "", "y"),
	} {
		if err := r.Ensure(ctx, topic); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
	}
	third := tenancy.RawTopic(pid, key, "third")
	var limit *CollectionLimitError
	if err := r.Ensure(ctx, third); !errors.As(err, &limit) || limit.Collections != 2 || limit.Limit != 2 {
		t.Fatalf("third collection: %v", err)
	}
	if err := r.Admit(ctx, third); !errors.As(err, &limit) {
		t.Fatalf("Admit of the third collection: %v", err)
	}
	if err := r.Admit(ctx, tenancy.RawTopic(pid, "", "b c")); err != nil {
		t.Fatalf("Admit of an existing collection: %v", err)
	}
	if topics, err := b.Admin().ListTopics(ctx, third); err != nil || topics[third].Err == nil {
		t.Fatalf("the third collection's topic exists (%v)", err)
	}

	// An operator deletes collection a's topics: once the listing is old,
	// the project may make a new collection.
	if resp, err := b.Admin().DeleteTopics(ctx, tenancy.RawTopic(pid, "", "a"), tenancy.RawTopic(pid, key, "a")); err != nil || resp.Error() != nil {
		t.Fatal(err, resp.Error())
	}
	if err := r.Ensure(ctx, third); !errors.As(err, &limit) {
		t.Fatalf("with a fresh listing: %v", err)
	}
	r.mu.Lock()
	r.listedAt = r.listedAt.Add(-relistAfter)
	r.mu.Unlock()
	if err := r.Ensure(ctx, third); err != nil {
		t.Fatalf("after the deletion: %v", err)
	}
}

// TestWatchNewRawTopics: a watcher hears of each raw topic Ensure creates,
// not of one that already existed, and nothing once it stopped watching.
func TestWatchNewRawTopics(t *testing.T) {
	ctx, b := embeddedBackend(t)
	const pid = "0123456789abcdef01234567"
	var heard []string
	stop := b.WatchNewRawTopics(func(topic string) { heard = append(heard, topic) })
	r := b.NewRawTopics(10)
	a := tenancy.RawTopic(pid, "", "a")
	for range 2 {
		if err := r.Ensure(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if len(heard) != 1 || heard[0] != a {
		t.Fatalf("heard %q, want [%s] once", heard, a)
	}
	stop()
	if err := r.Ensure(ctx, tenancy.RawTopic(pid, "", "b")); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 1 {
		t.Fatalf("heard %q after stopping", heard)
	}
}

// embeddedBackend is a backend on a kfake cluster of one broker, closed
// when t ends, and a context for its calls.
func embeddedBackend(t *testing.T) (context.Context, *Backend) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	b, err := Connect(ctx, config.Backend{}, c.ListenAddrs(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return ctx, b
}
