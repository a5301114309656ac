package pipeline_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Each blocking stage of the loop (poll, store, produce, commit), blocked
// by an injected hook past the health bound, makes Health say the pipeline
// is stuck, naming the stage, though nothing failed; released, the batch
// goes through and health recovers.
func TestHealthSeesABlockedStage(t *testing.T) {
	for _, stage := range []string{pipeline.StagePolling, pipeline.StageStoring, pipeline.StagePublishing, pipeline.StageCommitting} {
		t.Run(stage, func(t *testing.T) {
			e := newEnv(t)
			e.stop()
			var once sync.Once
			release, blocked := make(chan struct{}), make(chan struct{})
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			e.start(func(c *pipeline.Config) {
				pipeline.SetStageHook(c, 2*time.Second, func(s string) {
					if s == stage {
						once.Do(func() { close(blocked); <-release })
					}
				})
			})
			proj := e.project()
			e.enable(proj.ID, true)
			e.produce(tenancy.RawTopic(proj.ID, "", "clicks"), `{"a":1}`)
			select {
			case <-blocked:
			case <-time.After(20 * time.Second):
				t.Fatalf("the loop never entered %q", stage)
			}
			var why string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				var stuck bool
				if stuck, why = e.pipe.Health().Stuck(time.Now()); stuck {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("health never said stuck while %q was blocked: %+v", stage, e.pipe.Health())
				}
			}
			if !strings.Contains(why, stage) {
				t.Fatalf("stuck because %q, want it to name %q", why, stage)
			}
			close(release)
			e.waitCount(proj.ID, "clicks", 1)
			// The count can come before the stage ends (committing
			// follows storing): health recovers once the loop is through.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				stuck, why := e.pipe.Health().Stuck(time.Now())
				if !stuck {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still stuck 10 s after the stage went on: %s", why)
				}
			}
		})
	}
}
