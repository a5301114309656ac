package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// decodeBatch decodes a hand-made batch with kmsg and checks the framing
// a broker checks first: Length covers the rest, the CRC-32C is valid.
func decodeBatch(t *testing.T, raw []byte) kmsg.RecordBatch {
	t.Helper()
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		t.Fatalf("kmsg cannot decode the batch: %v", err)
	}
	if int(b.Length) != len(raw)-12 {
		t.Errorf("Length %d, want %d", b.Length, len(raw)-12)
	}
	if b.Magic != 2 {
		t.Errorf("magic %d", b.Magic)
	}
	if got := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)); uint32(b.CRC) != got {
		t.Errorf("CRC %08x, want the CRC-32C of the batch %08x", uint32(b.CRC), got)
	}
	return b
}

// readRecords decodes every record of an uncompressed records section.
func readRecords(t *testing.T, section []byte) []kmsg.Record {
	t.Helper()
	var out []kmsg.Record
	for len(section) > 0 {
		l, n := binary.Varint(section)
		if n <= 0 || int(l)+n > len(section) {
			t.Fatalf("record %d: bad length %d with %d bytes left", len(out), l, len(section))
		}
		var r kmsg.Record
		if err := r.ReadFrom(section[:n+int(l)]); err != nil {
			t.Fatalf("record %d: %v", len(out), err)
		}
		if again := r.AppendTo(nil); !bytes.Equal(again, section[:n+int(l)]) {
			t.Fatalf("record %d: %d bytes by its length, %d once decoded and encoded again", len(out), n+int(l), len(again))
		}
		out = append(out, r)
		section = section[n+int(l):]
	}
	return out
}

func TestGzipRandomBatch(t *testing.T) {
	raw := gzipRandomBatch(1024)
	b := decodeBatch(t, raw)
	if b.Attributes&7 != attrGzip || b.NumRecords != 1 || len(b.Records) != 1024 {
		t.Fatalf("attributes %d, records %d, %d bytes", b.Attributes, b.NumRecords, len(b.Records))
	}
	if zr, err := gzip.NewReader(bytes.NewReader(b.Records)); err == nil {
		if _, err := io.ReadAll(zr); err == nil {
			t.Fatal("the random bytes decompress")
		}
	}
	// A flipped byte breaks the CRC: the check above can fail.
	raw[len(raw)-1] ^= 0xff
	var c kmsg.RecordBatch
	c.ReadFrom(raw)
	if crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)) == uint32(c.CRC) {
		t.Fatal("CRC still valid after corruption")
	}
}

func TestShortBatch(t *testing.T) {
	value := []byte(`{"claims":3,"holds":1}`)
	b := decodeBatch(t, shortBatch(3, value))
	if b.NumRecords != 3 || b.LastOffsetDelta != 2 || b.Attributes != 0 {
		t.Fatalf("NumRecords %d, LastOffsetDelta %d, attributes %d", b.NumRecords, b.LastOffsetDelta, b.Attributes)
	}
	recs := readRecords(t, b.Records)
	if len(recs) != 1 || !bytes.Equal(recs[0].Value, value) || recs[0].OffsetDelta != 0 {
		t.Fatalf("holds %d records (%+v), want exactly one with the value", len(recs), recs)
	}
}

func TestGzipBigRecordBatch(t *testing.T) {
	raw := gzipBigRecordBatch(5_000_000)
	if len(raw) > 100_000 {
		t.Errorf("%d bytes on the wire, want a small batch", len(raw))
	}
	b := decodeBatch(t, raw)
	if b.Attributes&7 != attrGzip || b.NumRecords != 1 {
		t.Fatalf("attributes %d, records %d", b.Attributes, b.NumRecords)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Records))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, plain)
	if len(recs) != 1 || len(recs[0].Value) != 5_000_000 || !json.Valid(recs[0].Value) {
		t.Fatalf("%d records, first of %d bytes (valid JSON: %v)", len(recs), len(recs[0].Value), json.Valid(recs[0].Value))
	}
}

func TestPoisonPayloads(t *testing.T) {
	ua := hugeUAEvent(800_000, 7)
	var ev struct {
		UA   string `json:"ua"`
		Keen struct {
			Addons []struct {
				Name  string            `json:"name"`
				Input map[string]string `json:"input"`
			} `json:"addons"`
		} `json:"keen"`
	}
	if err := json.Unmarshal(ua, &ev); err != nil || len(ev.UA) != 800_000 || len(ev.Keen.Addons) != 1 ||
		ev.Keen.Addons[0].Name != "keen:ua_parser" || ev.Keen.Addons[0].Input["ua_string"] != "ua" {
		t.Fatalf("ua event: %v, ua %d bytes, addons %+v", err, len(ev.UA), ev.Keen.Addons)
	}
	if bytes.Equal(hugeUAEvent(1000, 1), hugeUAEvent(1000, 2)) {
		t.Error("user-agent strings not distinct")
	}
	var props map[string]int
	if err := json.Unmarshal(manyProperties(1500, 3), &props); err != nil || len(props) != 1500 {
		t.Fatalf("properties: %v, %d", err, len(props))
	}
	if p := paddedEvent(900_100); len(p) != 900_100 || !json.Valid(p) {
		t.Fatalf("padded event of %d bytes", len(p))
	}
	if d := deepNesting(100_000); len(d) != 200_000 || d[99_999] != '[' || d[100_000] != ']' {
		t.Fatal("nesting")
	}
	if e := soakEvent("run", "pid", 123456); !json.Valid(e) || len(e) < 250 || len(e) > 350 {
		t.Fatalf("valid event of %d bytes: %s", len(e), e)
	}
}

func TestSlogKey(t *testing.T) {
	for _, c := range []struct {
		line, level, msg string
		ok               bool
	}{
		{`time=2026-12-06T12:00:00.000Z level=WARN msg="pipeline: poll failed" err="x y"`, "WARN", "pipeline: poll failed", true},
		{`time=2026-12-06T12:00:00.000Z level=ERROR msg=boom project=p1`, "ERROR", "boom", true},
		{`time=2026-12-06T12:00:00.000Z level=WARN msg="quoted \"inner\" text" a=1`, "WARN", `quoted "inner" text`, true},
		{`goroutine 1 [running]:`, "", "", false},
	} {
		level, msg, ok := slogKey(c.line)
		if level != c.level || msg != c.msg || ok != c.ok {
			t.Errorf("%q: got %q %q %v", c.line, level, msg, ok)
		}
	}
}

func TestMsgShape(t *testing.T) {
	for in, want := range map[string]string{
		"embedded log: txn: EndTxn slow pid=6930745532632277817 epoch=15 elapsed=672ms batches=28": "embedded log: txn: EndTxn slow pid=ID epoch=N elapsed=Nms batches=N",
		"project beba41b1a05bb4cd1ca90fbe refused":                                                 "project ID refused",
		"took 1.5s":           "took Ns",
		"reading a raw topic": "reading a raw topic",
	} {
		if got := msgShape(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestCountLogLines(t *testing.T) {
	f := filepath.Join(t.TempDir(), "err")
	lines := strings.Repeat("time=t level=WARN msg=\"flood\" n=1\n", 3) + "time=t level=ERROR msg=once\npanic: x\n" +
		"time=t level=ERROR msg=retry err=\"too large (12 bytes)\"\n" +
		"time=t level=ERROR msg=retry err=\"too large (13 bytes)\"\n" +
		"time=t level=ERROR msg=retry err=other\n"
	os.WriteFile(f, []byte(lines), 0o644)
	got, total, err := countLogLines(f)
	if err != nil || total != int64(len(lines)) {
		t.Fatalf("%v, %d bytes", err, total)
	}
	if len(got) != 5 || got[0].Msg != "flood" || got[0].Count != 3 || got[0].Level != "WARN" {
		t.Fatalf("%+v", got)
	}
	if got[1].Msg != "retry" || got[1].Err != "too large (N bytes)" || got[1].Count != 2 {
		t.Fatalf("errors not grouped by shape: %+v", got[1])
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines x
# TYPE go_goroutines gauge
go_goroutines 123
sluice_pipeline_transactions_total{result="committed"} 10
sluice_pipeline_transactions_total{result="aborted"} 2
sluice_pipeline_dlq_records_total{project="a",result="written"} 3
sluice_pipeline_dlq_records_total{project="b",result="written"} 4
sluice_pipeline_dlq_records_total{project="b",result="skipped"} 1
`
	m := parseMetrics(text)
	for k, want := range map[string]float64{
		"go_goroutines": 123, `sluice_pipeline_transactions_total{result="aborted"}`: 2,
		"sluice_pipeline_transactions_total": 12, `sluice_pipeline_dlq_records_total{result="written"}`: 7,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestMemoryWindows(t *testing.T) {
	const mib = 1 << 20
	s := func(sec float64, rss, heap, store int, note string) soakSample {
		return soakSample{Seconds: sec, RSSkB: int64(rss) * 1024, HeapBytes: float64(heap * mib), StoreBytes: float64(store * mib), Goroutines: 100, FDs: 50, Note: note}
	}
	samples := []soakSample{
		s(0, 50, 10, 0, ""), // the start: left out
		s(300, 300, 100, 50, ""),
		s(600, 320, 100, 60, ""),
		s(900, 340, 100, 70, ""), // 900 s closes the first window
		s(1200, 400, 100, 120, ""),
		s(1800.5, 400, 100, 120, ""),           // just past the traffic's end: the last window's
		s(1900, 999, 100, 120, "load stopped"), // after the traffic: left out
	}
	ws := memoryWindows(samples, 15*time.Minute, 1200)
	if len(ws) != 2 {
		t.Fatalf("%d windows, want 2: %+v", len(ws), ws)
	}
	if w := ws[0]; w.Samples != 3 || w.RSS != 320 || w.Store != 60 || w.Rest.Median != 160 || w.Rest.Min != 150 || w.Rest.Max != 170 || w.Label != "0–15 min" {
		t.Errorf("first window %+v", w)
	}
	if w := ws[1]; w.Samples != 2 || w.RSS != 400 || w.Rest.Median != 180 {
		t.Errorf("second window %+v", w)
	}
	if w := ws[0]; !math.IsNaN(w.COutside.Median) {
		t.Errorf("samples without RssAnon and Go's mapped memory give C outside the buffers %+v, want none", w.COutside)
	}

	// RssAnon − Go's mapped memory − the store; a sample that lacks one
	// of them is left out.
	withC := func(sec float64, anon, goMapped, store int) soakSample {
		sm := s(sec, anon+70, 0, store, "")
		sm.AnonkB, sm.GoMappedBytes = int64(anon)*1024, float64(goMapped*mib)
		return sm
	}
	// Go's mapped memory may exceed what is resident: below zero is a
	// figure, not a missing one.
	ws = memoryWindows([]soakSample{withC(100, 100, 120, 0), withC(300, 300, 150, 100), withC(600, 320, 160, 100), s(700, 400, 100, 100, ""), withC(900, 330, 150, 120)}, 15*time.Minute, 900)
	if len(ws) != 1 {
		t.Fatalf("%d windows, want 1: %+v", len(ws), ws)
	}
	if c := ws[0].COutside; c.Min != -20 || c.Median != 55 || c.Max != 60 {
		t.Errorf("C outside the buffers %+v, want -20 / 55 / 60", c)
	}
}
