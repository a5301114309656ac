package pipeline

import (
	"strings"
	"testing"
	"time"
)

func TestHealthStuck(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		h     Health
		after time.Duration
		stuck bool
	}{
		{"never failed", Health{LastCommit: t0}, time.Hour, false},
		{"one failure, just now", Health{Retrying: true, Failures: 1, Since: t0, LastError: "rebalance"}, time.Second, false},
		{"two failures", Health{Retrying: true, Failures: 2, Since: t0, LastError: "store: disk full"}, 3 * time.Second, true},
		{"one failure, for long", Health{Retrying: true, Failures: 1, Since: t0, LastError: "slow"}, stuckAfter, true},
		{"isolating poison, briefly", Health{Retrying: true, Since: t0, LastError: "MESSAGE_TOO_LARGE"}, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stuck, why := tc.h.Stuck(t0.Add(tc.after))
			if stuck != tc.stuck {
				t.Fatalf("stuck = %v (%q), want %v", stuck, why, tc.stuck)
			}
			if stuck && !strings.Contains(why, tc.h.LastError) {
				t.Fatalf("the reason %q does not say the error %q", why, tc.h.LastError)
			}
		})
	}
}
