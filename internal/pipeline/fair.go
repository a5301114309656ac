package pipeline

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Fairness between projects (docs/pipeline.md, "Fairness"). A poll of a
// project that floods holds up to maxPollRecords records and takes about a
// second to store and commit; another project's events wait behind it.
// While more than one project is active, each project's share of a batch
// is capped (fairCut) and the partitions left out are given back to the
// session, so the batches stay short and every active project's records
// are in each of them; each poll is fetched after the batch before it
// (freshen), and a batch validates and stores its smallest projects first
// (planBatch, storeAll). A project alone keeps the full polls, fetched
// ahead, that make a backlog drain fast.

// fairFetchPartitionBytes is the fetch size per partition while projects
// share the pipeline: a poll then holds about what fairCut keeps, instead
// of fetchMaxPartitionBytes from every partition of which most would be
// given back and fetched again.
const fairFetchPartitionBytes = 1 << 20

// fetchMaxBytes bounds one fetch response (kgo's default, set explicitly
// because the fetch sizes are changed while projects share the pipeline).
const fetchMaxBytes = 50 << 20

// pollPart is one partition of a poll, as fairCut sees it.
type pollPart struct {
	project string // "" for a topic that is no raw topic
	records int
}

// fairCut says which partitions of a poll (in fetch order) go in this
// batch. With fewer than two active projects (projects whose records were
// in a poll within limits.PipelineFairWindow, this one's included) all of
// them do. Otherwise each project's partitions are taken one by one,
// starting at the turn-th of them (so that, batch after batch, every
// partition of a project gets its turn), while the project's records stay
// within share; a project's first partition is always taken, so each
// project progresses in every batch. Partitions of no project are kept.
func fairCut(parts []pollPart, active, share, turn int) []bool {
	keep := make([]bool, len(parts))
	if active < 2 {
		for i := range keep {
			keep[i] = true
		}
		return keep
	}
	byProject := map[string][]int{}
	var order []string
	for i, p := range parts {
		if p.project == "" {
			keep[i] = true
			continue
		}
		if byProject[p.project] == nil {
			order = append(order, p.project)
		}
		byProject[p.project] = append(byProject[p.project], i)
	}
	for _, pid := range order {
		idx := byProject[pid]
		taken := 0
		for k := range idx {
			i := idx[(turn+k)%len(idx)]
			if k > 0 && taken+parts[i].records > share {
				continue
			}
			keep[i] = true
			taken += parts[i].records
		}
	}
	return keep
}

// fairness is the loop's memory of which projects are active.
type fairness struct {
	lastSeen map[string]time.Time
	turn     int
	sharing  bool // the last poll was cut for fairness, or could have been
}

func newFairness() *fairness { return &fairness{lastSeen: map[string]time.Time{}} }

// cut returns the part of a poll that goes in this batch and, per
// partition left out, the offset of its first record (where the session
// must be rewound to, so those records come again in a later poll).
func (f *fairness) cut(log *slog.Logger, fetches kgo.Fetches, now time.Time) (kgo.Fetches, map[string]map[int32]kgo.EpochOffset) {
	var parts []pollPart
	var fps []kgo.FetchTopicPartition
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		raw, _ := tenancy.ParseRawTopic(fp.Topic)
		parts = append(parts, pollPart{project: raw.ProjectID, records: len(fp.Records)})
		fps = append(fps, fp)
		if raw.ProjectID != "" {
			f.lastSeen[raw.ProjectID] = now
		}
	})
	for pid, t := range f.lastSeen {
		if now.Sub(t) > limits.PipelineFairWindow {
			delete(f.lastSeen, pid)
		}
	}
	if sharing := len(f.lastSeen) > 1; sharing != f.sharing {
		f.sharing = sharing
		if sharing {
			log.Debug("several projects are active: each gets at most its share of a batch",
				"projects", len(f.lastSeen), "share", limits.PipelineFairShare)
		} else {
			log.Debug("one project is active: it gets whole polls")
		}
	}
	f.turn++
	keep := fairCut(parts, len(f.lastSeen), limits.PipelineFairShare, f.turn)
	var rewind map[string]map[int32]kgo.EpochOffset
	var kept []kgo.FetchTopic
	for i, fp := range fps {
		if !keep[i] {
			if rewind == nil {
				rewind = map[string]map[int32]kgo.EpochOffset{}
			}
			if rewind[fp.Topic] == nil {
				rewind[fp.Topic] = map[int32]kgo.EpochOffset{}
			}
			first := fp.Records[0]
			rewind[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: first.LeaderEpoch, Offset: first.Offset}
			continue
		}
		if n := len(kept); n == 0 || kept[n-1].Topic != fp.Topic {
			kept = append(kept, kgo.FetchTopic{Topic: fp.Topic})
		}
		kept[len(kept)-1].Partitions = append(kept[len(kept)-1].Partitions, fp.FetchPartition)
	}
	if rewind == nil {
		return fetches, nil
	}
	return kgo.Fetches{{Topics: kept}}, rewind
}

// partitionBytes is the fetch size per partition the session should use.
func (f *fairness) partitionBytes() int32 {
	if f.sharing {
		return fairFetchPartitionBytes
	}
	return fetchMaxPartitionBytes
}

// freshen drops what the client fetched while the last batch was being
// processed, so that the next poll is fetched now. The client sends its
// next fetch as soon as a poll has taken the last one: while a flood keeps
// the broker from waiting, that fetch returns at once, when the batch
// begins, and a quiet project's events that arrive during the batch would
// be in the poll after next, a whole batch later. Pausing every topic makes
// a poll drop the buffered records instead of returning them (the client
// fetches them again from the same offsets once resumed; the session's
// consumed offsets do not move). A topic the pause did not cover (one the
// subscription found meanwhile) can still return records: they are
// returned, to be processed as a poll.
func (p *Pipeline) freshen(sess *kgo.GroupTransactSession) kgo.Fetches {
	cl := sess.Client()
	topics := cl.GetConsumeTopics()
	if len(topics) == 0 {
		return nil
	}
	cl.PauseFetchTopics(topics...)
	// A nil context: the poll takes what is buffered and does not wait.
	fetches := sess.PollRecords(nil, maxPollRecords) //nolint:staticcheck // SA1012: kgo documents nil
	cl.ResumeFetchTopics(topics...)
	if fetches.NumRecords() == 0 {
		sess.AllowRebalance()
		return nil
	}
	return fetches
}
