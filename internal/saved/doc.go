// Package saved is Keen's saved and cached queries: the rules of a saved
// query's definition and of the documents Keen answers (definition.go),
// running a saved query through package query (run.go), and the schedule
// that recomputes cached queries — led by exactly one sluice process at a
// time, chosen from heartbeats in the registry topic (schedule.go).
package saved
