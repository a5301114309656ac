package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Only decoding failures count towards skipping a batch, consecutively: a
// Kafka error (the backend's, not the batch's) does not count, and records
// from the partition start the count over.
func TestUnreadableTracker(t *testing.T) {
	decode := fmt.Errorf("unable to decompress batch: %w", errDecompressTooLarge)
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{decode, true},
		{errors.New("encoded crc 1 does not match calculated crc 2"), true},
		{kerr.TopicAuthorizationFailed, false},
		{fmt.Errorf("fetching: %w", kerr.NotLeaderForPartition), false},
		{context.DeadlineExceeded, false},
		{kgo.ErrClientClosed, false},
	} {
		if got := decodeFailure(tc.err); got != tc.want {
			t.Errorf("decodeFailure(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}

	var u unreadableTracker
	u.failed("t", 0, decode)
	u.failed("t", 0, decode)
	u.failed("t", 1, decode)
	u.failed("t", 0, kerr.TopicAuthorizationFailed)
	if due := u.due(3); len(due) != 0 {
		t.Fatalf("due after 2 failures: %v", due)
	}
	u.failed("t", 0, decode)
	if due := u.due(3); !slices.Equal(due, []topicPartition{{"t", 0}}) {
		t.Fatalf("due after 3 failures: %v", due)
	}
	u.read("t", 0)
	u.failed("t", 0, decode)
	if due := u.due(3); len(due) != 0 {
		t.Fatalf("due after records and 1 failure: %v", due)
	}
}
