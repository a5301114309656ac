package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// geoTestDB writes a small MaxMind database in the GeoLite2-City layout
// with MaxMind's writer library:
//
//	81.2.69.0/24    London, England, United Kingdom
//	2001:4860::/32  Mountain View, California, United States
//	2.2.2.0/24      France only
func geoTestDB(t *testing.T) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	names := func(en string) mmdbtype.Map {
		return mmdbtype.Map{"en": mmdbtype.String(en), "fr": mmdbtype.String(en + " (fr)")}
	}
	city := func(name, sub, country, iso, continent, postal string, lat, lon float64) mmdbtype.Map {
		return mmdbtype.Map{
			"city":         mmdbtype.Map{"names": names(name)},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"names": names(sub)}},
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String(iso), "names": names(country)},
			"continent":    mmdbtype.Map{"names": names(continent)},
			"postal":       mmdbtype.Map{"code": mmdbtype.String(postal)},
			"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
		}
	}
	for cidr, rec := range map[string]mmdbtype.Map{
		"81.2.69.0/24":   city("London", "England", "United Kingdom", "GB", "Europe", "E1", 51.5142, -0.0931),
		"2001:4860::/32": city("Mountain View", "California", "United States", "US", "North America", "94043", 37.386, -122.0838),
		"2.2.2.0/24":     {"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR"), "names": names("France")}, "continent": mmdbtype.Map{"names": names("Europe")}},
	} {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGeoAndReferrerAddOns: keen:ip_to_geo (sluice started with
// --geoip-db) and keen:referrer_parser on events produced through the
// Inbound listener, with the output shapes of docs/contract.md §7, read back by
// extraction.
func TestGeoAndReferrerAddOns(t *testing.T) {
	e := startPipeEnv(t, "addons", "--geoip-db", geoTestDB(t))
	const page = "https://shop.example.com/landing"
	geo := func(remove bool) string {
		return fmt.Sprintf(`{"name":"keen:ip_to_geo","input":{"ip":"ip","remove_ip_property":%v},"output":"geo"}`, remove)
	}
	ref := `{"name":"keen:referrer_parser","input":{"referrer_url":"ref","page_url":"page"},"output":"referrer"}`
	cases := []struct {
		ip, ref   string
		removeIP  bool
		wantGeo   string // JSON; "" = no output (input missing)
		wantRef   string
		wantIPost bool // the ip property is still there
	}{
		{"81.2.69.142", "https://www.google.com/search?q=sluice+kafka", false,
			`{"city":"London","province":"England","country":"United Kingdom","country_code":"GB","continent":"Europe","postal_code":"E1","coordinates":[-0.0931,51.5142]}`,
			`{"medium":"SEARCH","source":"Google","term":"sluice kafka"}`, true},
		{"2001:4860:4860::8888", "https://shop.example.com/cart", true,
			`{"city":"Mountain View","province":"California","country":"United States","country_code":"US","continent":"North America","postal_code":"94043","coordinates":[-122.0838,37.386]}`,
			`{"medium":"INTERNAL","source":null,"term":null}`, false},
		{"2.2.2.2", "https://mail.google.com/mail/u/0/", false,
			`{"city":null,"province":null,"country":"France","country_code":"FR","continent":"Europe","postal_code":null,"coordinates":null}`,
			`{"medium":"EMAIL","source":"Gmail","term":null}`, true},
		{"8.8.8.8", "https://blog.example.org/post/1", false,
			`{"city":null,"province":null,"country":null,"country_code":null,"continent":null,"postal_code":null,"coordinates":null}`,
			`{"medium":"UNKNOWN","source":null,"term":null}`, true},
		{"", "", false, "", "", false}, // both inputs missing: both add-ons skipped
	}
	var values [][]byte
	for i, c := range cases {
		props := fmt.Sprintf(`"n":%d,"page":%q`, i, page)
		if c.ip != "" {
			props += fmt.Sprintf(`,"ip":%q`, c.ip)
		}
		if c.ref != "" {
			props += fmt.Sprintf(`,"ref":%q`, c.ref)
		}
		values = append(values, []byte(fmt.Sprintf(`{%s,"keen":{"addons":[%s,%s]}}`, props, geo(c.removeIP), ref)))
	}
	e.produce(t, "visits", values...)
	e.waitCount(t, "visits", len(cases))

	for i, c := range cases {
		raw := e.query(t, e.proj.APIKeys["read"], "extraction",
			fmt.Sprintf(`{"event_collection":"visits","filters":[{"property_name":"n","operator":"eq","property_value":%d}]}`, i))
		var evs []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &evs); err != nil || len(evs) != 1 {
			t.Fatalf("event %d: %s (%v)", i, raw, err)
		}
		ev := evs[0]
		jsonEqual(t, fmt.Sprintf("event %d geo", i), ev["geo"], c.wantGeo)
		jsonEqual(t, fmt.Sprintf("event %d referrer", i), ev["referrer"], c.wantRef)
		if _, ok := ev["ip"]; ok != c.wantIPost {
			t.Errorf("event %d: ip property present = %v, want %v (remove_ip_property %v): %s", i, ok, c.wantIPost, c.removeIP, raw)
		}
	}
}

// jsonEqual compares a JSON value with the expected JSON ("" = absent).
func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("%s: %s, want none", what, got)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: %s is not JSON: %v", what, got, err)
		return
	}
	_ = json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: %s, want %s", what, got, want)
	}
}
