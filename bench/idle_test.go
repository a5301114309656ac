package main

import (
	"strings"
	"testing"
)

func TestFitCaps(t *testing.T) {
	const lowered = "soft_before=20000 limit=20000 max_http_connections=24 max_kafka_connections=3993 max_kafka_connections_per_project=3993 max_kafka_pending_per_address=99 max_http_connections_per_address=24"
	for _, tc := range []struct {
		name                   string
		caps                   string
		conns, perAddress      int
		wantConns, wantPerAddr int
	}{
		{"caps lowered", lowered, 10_000, 200, 3993 - producerRoom, 99},
		{"asked for fewer than the cap", lowered, 1000, 50, 1000, 50},
		{"a cap smaller than the room", "max_kafka_connections=10 max_kafka_pending_per_address=3", 100, 200, 1, 3},
		{"no caps in the line", "caps lowered", 10_000, 200, 10_000, 200},
		{"a cap that is not a number", "max_kafka_connections=many", 10_000, 200, 10_000, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns, per := fitCaps(tc.caps, tc.conns, tc.perAddress)
			if conns != tc.wantConns || per != tc.wantPerAddr {
				t.Errorf("fitCaps = %d, %d; want %d, %d", conns, per, tc.wantConns, tc.wantPerAddr)
			}
		})
	}
}

func TestIdleEstimate(t *testing.T) {
	// 4,000 held cost 160,000 KiB over 80 MiB: 40 KiB each, so 10,000 would
	// be 80 MiB + 400,000 KiB ≈ 471 MiB.
	runs := []idleRun{
		{Name: "authenticated", Held: 4000, RSSBeforeKiB: 80 << 10, RSSHeldKiB: 80<<10 + 160_000},
		{Name: "unauthenticated", Held: 0},
	}
	got := idleEstimate(runs, 10_000)
	for _, want := range []string{"Estimated, not measured", "10000 held would bring sluice's RSS to about 471 MiB (authenticated) (", "short of 10000"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	if strings.Contains(got, "unauthenticated") {
		t.Errorf("a run that held nothing was extrapolated: %q", got)
	}
	if got := idleEstimate(runs[1:], 10_000); got != "" {
		t.Errorf("nothing held, yet an estimate: %q", got)
	}
}
