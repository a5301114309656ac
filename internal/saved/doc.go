// Package saved is Keen's saved and cached queries: the rules of a saved
// query's definition and of the documents Keen answers (definition.go),
// running a saved query through package query (run.go), and the schedule
// that recomputes cached queries — led by exactly one sluice process at a
// time, chosen from heartbeats in the registry topic (schedule.go). The
// leader also runs the schedule's tasks: the datasets' refresh (package
// dataset) shares this one leadership rather than electing its own.
//
// Why heartbeats, one record per member, rather than one lease record that
// processes claim in turn: the registry topic is compacted, so a process
// that opens later sees only the last record of each key. A lease decided
// by the order of competing claims would be folded differently from that
// remnant than it was live, and two processes could each believe they
// hold it. The latest heartbeat of every member is exactly what compaction
// keeps, so every process, whenever it opened, folds the same members and
// agrees on the leader (the live member that joined first). Why not a
// consumer group: it would name a leader too, but a process that lost its
// assignment learns it only at its next poll, and the embedded log and
// every backend already carry the registry topic.
package saved
