package limits

import "time"

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

// MaxDatasetResultBytes bounds one dataset's kept results, all its index
// values together, and MaxDatasetIndexBytes those of one index value:
// they are registry records (one per index value, under the backend's
// message size) held in every process's memory. A dataset whose results
// would be larger is recorded as a failed computation, and its results
// are computed when asked.
const (
	MaxDatasetResultBytes = 8 << 20
	MaxDatasetIndexBytes  = 512 << 10
)

// DatasetRefresh is how long a dataset's kept results stand before they
// are computed again: at most this much of the newest events is missing
// from them.
const DatasetRefresh = time.Minute
