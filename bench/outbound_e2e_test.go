package main

import "testing"

func TestE2EEventSizeAndSeq(t *testing.T) {
	const run = "0a1b2c3d"
	size := 1024
	base := payloads(8, size-e2ePrefixLen(run)+1)
	for _, seq := range []int{0, 7, 123456, 9999999999} {
		v := e2eEvent(run, seq, base[seq%len(base)])
		if len(v) != size {
			t.Errorf("seq %d: %d bytes, want %d", seq, len(v), size)
		}
		if got := e2eSeq(v, run); got != seq {
			t.Errorf("seq %d read back as %d from %s", seq, got, v[:60])
		}
		if got := e2eSeq(v, "ffffffff"); got != -1 {
			t.Errorf("another run's event read as seq %d", got)
		}
	}
}

func TestE2ESeqFromEnrichedJSON(t *testing.T) {
	const run = "0a1b2c3d"
	for _, tc := range []struct {
		name, doc string
		want      int
	}{
		{"as sent", `{"bench_run":"0a1b2c3d","bench_seq":"0000000042","x":1}`, 42},
		{"reordered, keen object first", `{"keen":{"id":"x"},"x":1,"bench_seq":"0000000042","bench_run":"0a1b2c3d"}`, 42},
		{"whitespace", `{"bench_run" : "0a1b2c3d", "bench_seq":  "0000000042"}`, 42},
		{"name as a value first", `{"a":"bench_seq","bench_run":"0a1b2c3d","bench_seq":"0000000042"}`, 42},
		{"other run", `{"bench_run":"ffffffff","bench_seq":"0000000042"}`, -1},
		{"no run", `{"bench_seq":"0000000042"}`, -1},
		{"short seq", `{"bench_run":"0a1b2c3d","bench_seq":"42"}`, -1},
		{"not digits", `{"bench_run":"0a1b2c3d","bench_seq":"00000000x2"}`, -1},
		{"seq a number", `{"bench_run":"0a1b2c3d","bench_seq":42}`, -1},
		{"unterminated", `{"bench_run":"0a1b2c3d","bench_seq":"0000000042`, -1},
	} {
		if got := e2eSeq([]byte(tc.doc), run); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}
