package kfake

// SLUICE: this file is sluice's addition to kfake (see SLUICE.md): what a
// crash (SIGKILL, power loss) leaves half done is completed or undone when
// the log is loaded again, the way Kafka's transaction coordinator and
// producer-state snapshots do.

import (
	"cmp"
	"slices"
)

type (
	// crashRecovery is what loading found that needs the PIDs and
	// groups to be resolved.
	crashRecovery struct {
		open     []openTxn             // transactions without a control record
		windows  []partWindows         // sequence windows rebuilt from replayed partitions
		prepared map[int64]pidLogEntry // commit decisions not followed by their end
	}

	openTxn struct {
		pd          *partData
		pid         int64
		epoch       int16
		firstOffset int64
	}

	partWindows struct {
		pd      *partData
		windows map[int64]pidwindow
	}
)

// pushSeqWindow replays an idempotent batch of a partition through the same
// window a live produce uses; a partition's batches are pushed in offset
// order.
func pushSeqWindow(ws map[int64]pidwindow, b *partBatch) {
	if b.ProducerID < 0 || b.FirstSequence < 0 || b.Attributes&0x0020 != 0 {
		return
	}
	w := ws[b.ProducerID]
	if ok, _, _ := w.pushAndValidate(b.ProducerEpoch, b.FirstSequence, b.NumRecords, b.FirstOffset); !ok {
		// The log is the truth: restart the window at this batch.
		w = pidwindow{}
		w.pushAndValidate(b.ProducerEpoch, b.FirstSequence, b.NumRecords, b.FirstOffset)
	}
	ws[b.ProducerID] = w
}

// prepareEntry is the durable record of a commit decision: the partitions
// that get a COMMIT marker and the offsets that get committed.
func (pidinf *pidinfo) prepareEntry() pidLogEntry {
	e := pidLogEntry{Type: "prepare", PID: pidinf.id, Epoch: pidinf.epoch, TxID: pidinf.txid}
	pidinf.txParts.each(func(t string, p int32, _ *partData) {
		e.Parts = append(e.Parts, pidLogPart{Topic: t, Part: p})
	})
	for group, offsets := range pidinf.txOffsets {
		offsets.each(func(t string, p int32, oc *offsetCommit) {
			e.Offsets = append(e.Offsets, pidLogOffset{
				Group: group, Topic: t, Part: p,
				Offset: oc.offset, LeaderEpoch: oc.leaderEpoch, Metadata: oc.metadata,
			})
		})
	}
	return e
}

// resolveCrashRecovery runs once the partitions, PIDs and groups are loaded:
// it installs the rebuilt sequence windows, ends every transaction the log
// shows open (COMMIT if its commit was prepared, ABORT otherwise, each with a
// control record as a coordinator would write), and applies the offsets of
// prepared commits.
func (c *Cluster) resolveCrashRecovery() {
	r := c.recovery
	c.recovery = crashRecovery{}

	// A window in the log replaces the one seq_windows.json held: that
	// file is written on a clean close only and may be older.
	for _, pw := range r.windows {
		for pid, w := range pw.windows {
			if pidinf, ok := c.pids.ids[pid]; ok {
				pidinf.windows.set(pw.pd.t, pw.pd.p, w)
			}
		}
	}

	slices.SortFunc(r.open, func(a, b openTxn) int {
		return cmp.Or(cmp.Compare(a.pd.t, b.pd.t), cmp.Compare(a.pd.p, b.pd.p), cmp.Compare(a.pid, b.pid))
	})
	aborted := make(map[int64]bool)
	for _, o := range r.open {
		prep, commit := r.prepared[o.pid]
		commit = commit && slices.Contains(prep.Parts, pidLogPart{Topic: o.pd.t, Part: o.pd.p})
		epoch := o.epoch
		if pidinf, ok := c.pids.ids[o.pid]; ok && pidinf.epoch > epoch {
			epoch = pidinf.epoch
		}
		b, nbytes := txnMarkerBatch(o.pid, epoch, commit, 0)
		off := c.pushBatch(o.pd, nbytes, b, false)
		if off < 0 {
			c.cfg.logger.Logf(LogLevelError, "crash recovery: writing the control record of producer %d on %s-%d failed", o.pid, o.pd.t, o.pd.p)
			continue
		}
		if !commit {
			// The marker is the partition's last record, so the list
			// stays sorted by last offset.
			o.pd.abortedTxns = append(o.pd.abortedTxns, abortedTxnEntry{producerID: o.pid, firstOffset: o.firstOffset, lastOffset: off})
			aborted[o.pid] = true
		}
		o.pd.recalculateLSO()
		c.cfg.logger.Logf(LogLevelWarn, "crash recovery: transaction of producer %d on %s-%d from offset %d completed as commit=%v",
			o.pid, o.pd.t, o.pd.p, o.firstOffset, commit)
	}

	for pid, prep := range r.prepared {
		for _, o := range prep.Offsets {
			g := c.groups.gs[o.Group]
			if g == nil {
				g = c.groups.newGroup(o.Group)
				c.groups.gs[o.Group] = g
			}
			g.commitAndPersist(o.Topic, o.Part, offsetCommit{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata})
		}
		commit := true
		c.persistPIDEntry(pidLogEntry{Type: "endtx", PID: pid, Epoch: prep.Epoch, Commit: &commit})
		if pidinf, ok := c.pids.ids[pid]; ok {
			pidinf.lastWasCommit = true
		}
	}

	// An aborted producer is fenced, as after a transaction timeout.
	for pid := range aborted {
		if _, ok := r.prepared[pid]; ok {
			continue
		}
		if pidinf, ok := c.pids.ids[pid]; ok {
			pidinf.epoch++
			pidinf.lastWasCommit = false
			commit := false
			c.persistPIDEntry(pidLogEntry{Type: "endtx", PID: pid, Epoch: pidinf.epoch, Commit: &commit})
		}
	}
}
