package main

import (
	"strings"
	"testing"
)

func TestInboundGap(t *testing.T) {
	// One pair, 1 GB each side over 4 s: direct, the broker 3 s and the
	// client 2 s (5 s per GB); through sluice, sluice 1.5 s and the broker
	// 2.5 s (0.5 s saved): the hop costs 1.0 s per GB, a ratio of 5/6.
	run := func(side string, mbps, sluice, broker, client float64) runResult {
		return runResult{Pair: 1, Side: side, MBps: mbps, TotalBytes: 1e9, Elapsed: 4,
			SluiceCPU: sluice, BrokerCPU: broker, LoadCPU: client, MeanRequestKB: 8 * 1024, MeanRoundTrip: 40}
	}
	hot := []hotspot{{What: "TLS", Share: 0.4}, {What: "syscalls", Share: 0.3}, {What: "CRC", Share: 0.2}, {What: "copy", Share: 0.06}, {What: "rest", Share: 0.04}}
	for _, tc := range []struct {
		name     string
		sluiceMB float64
		want     []string
		none     bool
	}{
		{name: "under the goal", sluiceMB: 225, want: []string{
			"gap, no compression, from",
			"the broker spent 2.5 CPU-seconds per GB instead of 3.0",
			"sluice spent 1.5: the hop costs the machine 1.0 s per GB more",
			"5.0 s per GB for the broker and the client together",
			"a ratio of 0.83 (5.0 ÷ 6.0)",
			"kept 1.25 of them busy, the runs through sluice 1.50",
			"TLS 40%; syscalls 30%; CRC 20%; copy 6%. ",
			"(8.0 MB, median)",
		}},
		{name: "goal met", sluiceMB: 240, none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := throughputOf([]runResult{run("direct", 250, 0, 3, 2), run("sluice", tc.sluiceMB, 1.5, 2.5, 2)})
			got := inboundGap("no compression", f, hot, 2)
			if tc.none {
				if got != "" {
					t.Fatalf("a met goal got an explanation: %q", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
		})
	}
}
