package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// event1KB is a typical ~1 KB event: nested objects, arrays of primitives,
// strings, numbers, booleans.
func event1KB(withAddons bool) []byte {
	var b strings.Builder
	b.WriteString(`{"item":"Fancy turtleneck with deer on it","price":469.50,"on_sale":true,"quantity":2,`)
	b.WriteString(`"payment_method":"Bank Simple VISA","tags":["winter","wool","sale",42,true,null],`)
	b.WriteString(`"customer":{"name":"Francis Woodbury","age":28,"email":"francis@example.com","id":"c-93412","address":{"city":"San Francisco","country":"USA","zip":"94122","street":"1234 Irving St"}},`)
	b.WriteString(`"page":{"url":"https://shop.example.com/products/turtleneck?utm_source=newsletter&utm_medium=email#reviews","title":"Turtleneck – Example Shop"},`)
	b.WriteString(`"referrer":{"url":"https://www.google.com/search?q=deer+turtleneck"},`)
	b.WriteString(`"ip_address":"81.2.69.142",`)
	b.WriteString(`"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",`)
	b.WriteString(`"session":{"id":"5f1d2c3b-9a8e-4f7d-b6c5-a4e3d2c1b0a9","count":17,"first_seen":"2024-01-02T03:04:05.678Z","duration_ms":123456},`)
	b.WriteString(`"cart":{"items":3,"total":1408.5,"currency":"USD","coupon":null},"flags":{"beta":false,"ab_group":"B"},`)
	if withAddons {
		b.WriteString(`"keen":{"timestamp":"2024-05-06T07:08:09.123Z","addons":[`)
		b.WriteString(`{"name":"keen:ip_to_geo","input":{"ip":"ip_address"},"output":"geo"},`)
		b.WriteString(`{"name":"keen:ua_parser","input":{"ua_string":"user_agent"},"output":"tech"},`)
		b.WriteString(`{"name":"keen:url_parser","input":{"url":"page.url"},"output":"page.info"},`)
		b.WriteString(`{"name":"keen:referrer_parser","input":{"referrer_url":"referrer.url","page_url":"page.url"},"output":"referrer.info"},`)
		b.WriteString(`{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"time"}]},`)
	} else {
		b.WriteString(`"keen":{"timestamp":"2024-05-06T07:08:09.123Z"},`)
	}
	b.WriteString(`"notes":"` + strings.Repeat("lorem ipsum ", 12) + `"}`)
	return []byte(b.String())
}

// BenchmarkProcess: a 1 KB event as it is (plain), also noting its leaves
// (as the pipeline asks), with autofill, and with all five add-ons (the UA parser's cache is warm: one user agent).
func BenchmarkProcess(b *testing.B) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, name := range []string{"plain", "plain+leaves", "autofill", "all-addons"} {
		withAddons := name == "all-addons"
		payload := event1KB(withAddons)
		var geo *GeoIP
		if withAddons {
			geo = openTestGeo(b)
		}
		p, _ := NewProcessor(geo)
		in := Input{Payload: payload, RecordTime: now, ID: ID("t", 0, 1), CreatedAt: now, Leaves: name == "plain+leaves"}
		if name == "autofill" {
			in.Autofill = map[string]any{"customer": map[string]any{"tenant": "acme", "id": 232130982.0}, "source": "kafka"}
		}
		if _, err := p.Process(in); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s-%dB", name, len(payload)), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := p.Process(in); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := processCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// Baselines on the same 1 KB payload, to read BenchmarkProcess against on a
// noisy machine: only checking the JSON with encoding/json, and decoding it
// the obvious way (map[string]any with UseNumber, before any rule or any
// re-encoding).
func BenchmarkBaseline(b *testing.B) {
	payload := event1KB(false)
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(payload) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("json.Decode-UseNumber", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		for b.Loop() {
			d := json.NewDecoder(bytes.NewReader(payload))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
