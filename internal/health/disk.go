package health

import (
	"context"
	"fmt"
	"syscall"
)

// DiskProbe reports Degraded when the file system holding dir has less
// than minFree bytes available: the store and the embedded log fail
// writes (and so the pipeline retries) well before it is full, and an
// operator should hear of it first.
func DiskProbe(dir string, minFree uint64) Probe {
	return func(context.Context) (State, string) {
		free, err := freeBytes(dir)
		if err != nil {
			return Errorf("reading the free space of %s: %v", dir, err)
		}
		if free < minFree {
			return Errorf("%s has %d MiB free, under the %d MiB sluice wants", dir, free>>20, minFree>>20)
		}
		return OK, fmt.Sprintf("%d MiB free", free>>20)
	}
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
