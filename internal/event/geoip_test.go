package event

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// names is a MaxMind "names" map with English and one other language, as in
// the real databases.
func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// testCityDB writes a small database in the GeoLite2-City layout and returns
// its path. Networks:
//
//	81.2.69.0/24     London, England, United Kingdom (full record)
//	216.160.83.56/29 Milton, Washington, United States
//	2.2.2.0/24       France only (no city, subdivision, postal code or location)
//	2001:4860::/32   Mountain View, California, United States (IPv6)
func testCityDB(tb testing.TB) string {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28})
	if err != nil {
		tb.Fatal(err)
	}
	city := func(cityName, sub, country, iso, continent, postal string, lat, lon float64) mmdbtype.Map {
		return mmdbtype.Map{
			"city":         mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": names(cityName)},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("X"), "names": names(sub)}, mmdbtype.Map{"names": names("second level")}},
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String(iso), "names": names(country)},
			"continent":    mmdbtype.Map{"code": mmdbtype.String("XX"), "names": names(continent)},
			"postal":       mmdbtype.Map{"code": mmdbtype.String(postal)},
			"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon), "accuracy_radius": mmdbtype.Uint16(10)},
		}
	}
	insert := func(cidr string, rec mmdbtype.Map) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			tb.Fatal(err)
		}
	}
	insert("81.2.69.0/24", city("London", "England", "United Kingdom", "GB", "Europe", "E1", 51.5142, -0.0931))
	insert("216.160.83.56/29", city("Milton", "Washington", "United States", "US", "North America", "98354", 47.2513, -122.3149))
	insert("2.2.2.0/24", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR"), "names": names("France")},
		"continent": mmdbtype.Map{"names": names("Europe")}})
	insert("2001:4860::/32", city("Mountain View", "California", "United States", "US", "North America", "94043", 37.386, -122.0838))

	path := filepath.Join(tb.TempDir(), "GeoLite2-City-test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func openTestGeo(tb testing.TB) *GeoIP {
	tb.Helper()
	g, err := OpenGeoIP(testCityDB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

func TestOpenGeoIPErrors(t *testing.T) {
	if _, err := OpenGeoIP(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("missing file: no error")
	}
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	os.WriteFile(bad, []byte("not a maxmind database"), 0o644)
	if _, err := OpenGeoIP(bad); err == nil {
		t.Error("garbage file: no error")
	}
}

func geoSpec(input string) string {
	return `{"name":"keen:ip_to_geo","input":` + input + `,"output":"geo"}`
}

func TestIPToGeo(t *testing.T) {
	p := newTestProcessor(t, openTestGeo(t))
	const null = `{"city":null,"province":null,"country":null,"country_code":null,"continent":null,"postal_code":null,"coordinates":null}`
	for _, c := range []struct{ name, ip, want string }{
		{"full record", `"81.2.69.142"`,
			`{"city":"London","province":"England","country":"United Kingdom","country_code":"GB","continent":"Europe","postal_code":"E1","coordinates":[-0.0931,51.5142]}`},
		{"other network", `"216.160.83.60"`,
			`{"city":"Milton","province":"Washington","country":"United States","country_code":"US","continent":"North America","postal_code":"98354","coordinates":[-122.3149,47.2513]}`},
		{"IPv6", `"2001:4860:4860::8888"`,
			`{"city":"Mountain View","province":"California","country":"United States","country_code":"US","continent":"North America","postal_code":"94043","coordinates":[-122.0838,37.386]}`},
		{"IPv4-mapped IPv6", `"::ffff:81.2.69.142"`,
			`{"city":"London","province":"England","country":"United Kingdom","country_code":"GB","continent":"Europe","postal_code":"E1","coordinates":[-0.0931,51.5142]}`},
		{"partial record", `"2.2.2.2"`,
			`{"city":null,"province":null,"country":"France","country_code":"FR","continent":"Europe","postal_code":null,"coordinates":null}`},
		{"not in the database", `"8.8.8.8"`, null},
		{"private address", `"192.168.0.1"`, null},
		{"not an IP address", `"localhost"`, null},
		{"with a port", `"81.2.69.142:443"`, null},
		{"not a string", `3232235521`, null},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, m := mustProcess(t, p, testInput(withAddons(`"ip":`+c.ip, geoSpec(`{"ip":"ip"}`))))
			equalJSON(t, m["geo"], c.want)
			if _, ok := m["ip"]; !ok {
				t.Error("the IP property was removed without remove_ip_property")
			}
		})
	}
}

func TestIPToGeoRemoveIPProperty(t *testing.T) {
	p := newTestProcessor(t, openTestGeo(t))
	for _, c := range []struct {
		ip     string
		remove string
		kept   bool
	}{
		{`"81.2.69.142"`, `true`, false},
		{`"8.8.8.8"`, `true`, false}, // removed even when the lookup finds nothing
		{`"nonsense"`, `true`, false},
		{`"81.2.69.142"`, `false`, true},
	} {
		ev, m := mustProcess(t, p, testInput(withAddons(`"visitor":{"ip":`+c.ip+`,"id":7}`,
			geoSpec(`{"ip":"visitor.ip","remove_ip_property":`+c.remove+`}`))))
		if _, ok := get(m, "visitor.ip"); ok != c.kept {
			t.Errorf("ip %s remove %s: visitor.ip kept = %v, want %v: %s", c.ip, c.remove, ok, c.kept, ev.JSON)
		}
		checkFields(t, m, map[string]string{"visitor.id": `7`})
		if _, ok := m["geo"]; !ok {
			t.Errorf("no geo output: %s", ev.JSON)
		}
	}
	// The output may take the IP's place.
	_, m := mustProcess(t, p, testInput(`{"ip":"81.2.69.142","keen":{"addons":[{"name":"keen:ip_to_geo","input":{"ip":"ip","remove_ip_property":true},"output":"ip"}]}}`))
	checkFields(t, m, map[string]string{"ip.city": `"London"`})
	// A missing IP property skips the add-on.
	_, m = mustProcess(t, p, testInput(withAddons(`"x":1`, geoSpec(`{"ip":"visitor.ip","remove_ip_property":true}`))))
	if _, ok := m["geo"]; ok {
		t.Error("geo written without an IP")
	}
}

// TestIPToGeoRemovesTheIP: the HTTP API writes the client's IP in place of
// "${keen.ip}" (httpapi's placeholders.go); the add-on then looks it up and
// removes it, so the IP is not stored.
func TestIPToGeoRemovesTheIP(t *testing.T) {
	p := newTestProcessor(t, openTestGeo(t))
	in := testInput(withAddons(`"ip_address":"81.2.69.142"`, `{"name":"keen:ip_to_geo","input":{"ip":"ip_address","remove_ip_property":true},"output":"ip_geo_info"}`))
	ev, m := mustProcess(t, p, in)
	checkFields(t, m, map[string]string{"ip_geo_info.country_code": `"GB"`, "ip_address": "<absent>"})
	if strings.Contains(string(ev.JSON), "81.2.69.142") {
		t.Errorf("the client IP is stored: %s", ev.JSON)
	}
}
