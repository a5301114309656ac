package main

import "testing"

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
