package limits

import "testing"

func TestFitDescriptors(t *testing.T) {
	def := DefaultConnections()
	for _, tc := range []struct {
		name                string
		nofile              uint64
		embedded            bool
		http, kafka, perPrj int
		lowered             bool
	}{
		// 8,192 + 2×4,096×3 = 32,768 needed; 1,048,576/5 reserved.
		{"docker's 1M", 1 << 20, true, 8192, 4096, 512, false},
		// 65,536 − 13,107 = 52,429 ≥ 32,768.
		{"64K embedded", 65536, true, 8192, 4096, 512, false},
		// 20,000 − 4,000 = 16,000 of 32,768 embedded.
		{"20,000 embedded", 20000, true, 4000, 2000, 250, true},
		// 16,000 of 8,192 + 2×4,096×2 = 24,576 on an external backend.
		{"20,000 external", 20000, false, 5333, 2666, 333, true},
		// 4,096 − 2,048 = 2,048 of 32,768: a sixteenth.
		{"4,096", 4096, true, 512, 256, 32, true},
		// The e2e test's limit: 552 over the reserve.
		{"2,600", 2600, true, 138, 69, 8, true},
		// Nothing left over the reserve: one of each still.
		{"1,024", 1024, true, 1, 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, lowered := def.FitDescriptors(tc.nofile, tc.embedded)
			if got.MaxHTTPConnections != tc.http || got.MaxKafkaConnections != tc.kafka ||
				got.MaxKafkaConnectionsPerProject != tc.perPrj || lowered != tc.lowered {
				t.Fatalf("FitDescriptors(%d, %v) = http %d, kafka %d, per project %d, lowered %v; want %d, %d, %d, %v",
					tc.nofile, tc.embedded, got.MaxHTTPConnections, got.MaxKafkaConnections, got.MaxKafkaConnectionsPerProject,
					lowered, tc.http, tc.kafka, tc.perPrj, tc.lowered)
			}
			if want := min(max(1, tc.perPrj/2), tc.kafka); got.MaxKafkaPendingPerAddress != want {
				t.Fatalf("pending per address %d, want %d (half the per-project cap)", got.MaxKafkaPendingPerAddress, want)
			}
			// An address keeps a sixteenth of the HTTP connections.
			if want := min(max(1, tc.http/16), tc.http); got.MaxHTTPConnectionsPerAddress != want {
				t.Fatalf("HTTP connections per address %d, want %d (a sixteenth of the cap)", got.MaxHTTPConnectionsPerAddress, want)
			}
			if got.HTTPWriteTimeout != def.HTTPWriteTimeout || got.KafkaAuthTimeout != def.KafkaAuthTimeout {
				t.Fatal("timeouts changed")
			}
		})
	}
}

// No cap per address (0) stays none when the caps are lowered.
func TestFitDescriptorsKeepsNoCapPerAddress(t *testing.T) {
	c := DefaultConnections()
	c.MaxHTTPConnectionsPerAddress = 0
	if got, lowered := c.FitDescriptors(4096, true); !lowered || got.MaxHTTPConnectionsPerAddress != 0 {
		t.Fatalf("per address %d (lowered %v), want 0", got.MaxHTTPConnectionsPerAddress, lowered)
	}
}
