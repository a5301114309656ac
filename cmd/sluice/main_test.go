package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"GOGC not set", nil, defaultGCPercent},
		{"GOGC set: the runtime's value stays", map[string]string{"GOGC": "50"}, 100},
		{"only GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, defaultGCPercent},
	} {
		debug.SetGCPercent(100)
		tuneGC(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("%s: GC percent %d, want %d", c.name, got, c.want)
		}
	}
}
