package leaf

import (
	"strings"
	"testing"
)

// BenchmarkFlatten flattens a 1 KB event as the store does (one reused
// Flattener), plain and with escaped strings (a client's "\/" in URLs,
// escaped quotes, \u escapes), which are decoded.
func BenchmarkFlatten(b *testing.B) {
	plain := `{"keen":{"id":"0123","timestamp":"2024-05-06T07:08:09.123Z","created_at":"2024-05-06T07:08:09.123Z"},` +
		`"item":"Fancy turtleneck with deer on it","price":469.50,"on_sale":true,"quantity":2,"tags":["winter","wool","sale"],` +
		`"customer":{"name":"Francis Woodbury","age":28,"address":{"city":"San Francisco","zip":"94122"}},` +
		`"page":{"url":"https://shop.example.com/products/turtleneck?utm_source=newsletter","title":"Turtleneck"},` +
		`"notes":"` + strings.Repeat("lorem ipsum ", 40) + `"}`
	escaped := strings.NewReplacer(`https://`, `https:\/\/`, `/products/`, `\/products\/`, `Fancy turtleneck`, `\"Fancy\" turtleneck`,
		`Woodbury`, `Woodbury \u00e9\u00e8`, `lorem ipsum `, `lorem\tipsum `).Replace(plain)
	for _, c := range []struct{ name, doc string }{{"plain", plain}, {"escaped", escaped}} {
		doc := []byte(c.doc)
		b.Run(c.name, func(b *testing.B) {
			var f Flattener
			var out []Field
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if out, err = f.Flatten(doc, true, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
