package pipeline

// SetCrashBeforeCommit makes the pipeline ask f after producing each
// batch's records; true abandons the batch as a crash would.
func SetCrashBeforeCommit(cfg *Config, f func() bool) { cfg.crashBeforeCommit = f }
