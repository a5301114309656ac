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

// A stage of the loop that lasts longer than its bound makes Stuck say so,
// naming the stage, whether or not anything failed.
func TestHealthStuckInAStage(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		h     Health
		after time.Duration
		stuck bool
	}{
		{"committing, briefly", Health{Stage: StageCommitting, StageSince: t0}, 5 * time.Second, false},
		{"committing, for long", Health{Stage: StageCommitting, StageSince: t0}, stageStuckAfter + time.Second, true},
		{"storing, for long", Health{Stage: StageStoring, StageSince: t0, LastCommit: t0}, time.Hour, true},
		{"polling, for long", Health{Stage: StagePolling, StageSince: t0}, stageStuckAfter + time.Second, true},
		{"waiting out a backoff", Health{Stage: "", StageSince: t0}, time.Hour, false},
		{"a shorter bound", Health{Stage: StagePublishing, StageSince: t0, stageLimit: time.Second}, 2 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stuck, why := tc.h.Stuck(t0.Add(tc.after))
			if stuck != tc.stuck {
				t.Fatalf("stuck = %v (%q), want %v", stuck, why, tc.stuck)
			}
			if stuck && !strings.Contains(why, tc.h.Stage) {
				t.Fatalf("the reason %q does not name the stage %q", why, tc.h.Stage)
			}
		})
	}
}
