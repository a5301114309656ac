package event

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP is a MaxMind DB (.mmdb) in the GeoLite2-City / GeoIP2-City layout,
// used by keen:ip_to_geo. sluice ships no database (MaxMind's licence
// forbids redistributing it); its path is configuration. Other MaxMind DBs
// with the same record layout work too (GeoLite2-Country gives the country
// and continent fields only). Safe for concurrent use.
type GeoIP struct {
	db *maxminddb.Reader
}

// OpenGeoIP opens the database at path (memory-mapped).
func OpenGeoIP(path string) (*GeoIP, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open GeoIP database %s: %w", path, err)
	}
	return &GeoIP{db: db}, nil
}

// Close releases the database. Events asking for ip_to_geo must not be
// processed afterwards.
func (g *GeoIP) Close() error { return g.db.Close() }

// cityRecord is the part of a City record that Keen's output needs.
type cityRecord struct {
	City struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Subdivisions []struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"country"`
	Continent struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"continent"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// enrich is keen:ip_to_geo's output (docs/contract.md §7), with English names:
//
//	{"city": "San Francisco", "province": "California", "country": "United States",
//	 "country_code": "US", "continent": "North America", "postal_code": "94122",
//	 "coordinates": [-122.42005, 37.77479]}
//
// province is the first (largest) subdivision; coordinates are [longitude,
// latitude], like keen.location. Every field is always written: one the
// database lacks is null, and all seven are null for an address that is not
// in the database, one that does not parse, or an input that is not a
// string. Private and reserved addresses are never in MaxMind's databases.
func (g *GeoIP) enrich(ws *workspace, v *value) value {
	var rec cityRecord
	found := false
	if s, ok := v.str(); ok {
		if ip, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			res := g.db.Lookup(ip.Unmap())
			found = res.Found() && res.Decode(&rec) == nil
		}
	}
	if !found {
		rec = cityRecord{}
	}
	province := ""
	if len(rec.Subdivisions) > 0 {
		province = rec.Subdivisions[0].Names.En
	}
	coords := nullValue
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		coords = ws.array(ws.float(*rec.Location.Longitude), ws.float(*rec.Location.Latitude))
	}
	return ws.object(
		field("city", ws.strOrNull(rec.City.Names.En)),
		field("province", ws.strOrNull(province)),
		field("country", ws.strOrNull(rec.Country.Names.En)),
		field("country_code", ws.strOrNull(rec.Country.ISOCode)),
		field("continent", ws.strOrNull(rec.Continent.Names.En)),
		field("postal_code", ws.strOrNull(rec.Postal.Code)),
		field("coordinates", coords),
	)
}
