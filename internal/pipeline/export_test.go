package pipeline

import "time"

// SetCrashBeforeCommit makes the pipeline ask f after producing each
// batch's records; true abandons the batch as a crash would.
func SetCrashBeforeCommit(cfg *Config, f func() bool) { cfg.crashBeforeCommit = f }

// SetStageHook makes the pipeline call f as its loop enters each stage,
// and Health report a stage lasting longer than limit as stuck (an idle
// poll returns after limit/4).
func SetStageHook(cfg *Config, limit time.Duration, f func(stage string)) {
	cfg.stageHook, cfg.stageLimit, cfg.pollWait = f, limit, limit/4
}

// SetTopUpWait replaces how long a poll fetched ahead waits for the fetch
// it sent (topUpWait).
func SetTopUpWait(cfg *Config, d time.Duration) { cfg.topUpWait = d }

// BufferedRecords is how many records the pipeline's consumer has fetched
// and not yet polled.
func BufferedRecords(p *Pipeline) int64 { return p.sess.Load().Client().BufferedFetchRecords() }

// SetMetadataMaxAge replaces how often the pipeline's client refreshes
// its metadata (metadataMaxAge).
func SetMetadataMaxAge(cfg *Config, d time.Duration) { cfg.metadataMaxAge = d }
