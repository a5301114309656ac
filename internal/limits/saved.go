package limits

// Bounds of saved and cached queries and datasets, per project: every
// definition lives in every process's memory (they are registry records),
// and every cached query is run on schedule. Keen caps cached queries too
// (its Explorer knows OverCachedQueryLimitError) without a documented
// figure.
const (
	MaxSavedQueriesPerProject  = 1000
	MaxCachedQueriesPerProject = 100
	MaxDatasetsPerProject      = 100
)

// MaxCachedResultBytes bounds one cached query's answer, kept as a
// registry record (well under the backend's message size) and in every
// process's memory. A larger answer is recorded as a failed run and
// computed when asked.
const MaxCachedResultBytes = 512 << 10
