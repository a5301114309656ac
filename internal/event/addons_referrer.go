package event

import (
	"net/url"
	"strings"
)

// keen:referrer_parser — inputs "referrer_url" and "page_url"; output
// (docs/contract.md §7): {"medium": "SEARCH", "source": "Google", "term": "…"}.
//
// Keen's medium names are those of Snowplow's referer-parser, which its
// fields (medium, source, term) mirror:
//
//	INTERNAL  the referrer's host is the page's host (a leading "www." ignored)
//	SEARCH    a known search engine; term = its query parameter, when present
//	EMAIL     a known webmail site
//	SOCIAL    a known social network
//	UNKNOWN   any other well-formed referrer (source and term null)
//
// The known sites are the compact table in referrer_table.go: no maintained
// referer-parser dataset is published as a Go module. A referrer or page URL
// that is not a string or not an absolute URL with a host (including the
// empty referrer of a direct visit) gives blank values: all three null, as
// Keen documents for malformed input.
func enrichReferrer(ws *workspace, refVal, pageVal *value) value {
	result := func(medium, source, term value) value {
		return ws.object(field("medium", medium), field("source", source), field("term", term))
	}
	ref, ok1 := absoluteURL(refVal)
	page, ok2 := absoluteURL(pageVal)
	if !ok1 || !ok2 {
		return result(nullValue, nullValue, nullValue)
	}
	refHost, pageHost := strings.ToLower(ref.Hostname()), strings.ToLower(page.Hostname())
	if strings.TrimPrefix(refHost, "www.") == strings.TrimPrefix(pageHost, "www.") {
		return result(ws.str("INTERNAL"), nullValue, nullValue)
	}
	site := lookupReferrer(refHost)
	if site == nil {
		return result(ws.str("UNKNOWN"), nullValue, nullValue)
	}
	term := nullValue
	if len(site.params) > 0 {
		q := ref.Query()
		for _, p := range site.params {
			if t := strings.TrimSpace(q.Get(p)); t != "" {
				term = ws.str(t)
				break
			}
		}
	}
	return result(ws.str(site.medium), ws.str(site.source), term)
}

func absoluteURL(v *value) (*url.URL, bool) {
	s, ok := v.str()
	if !ok {
		return nil, false
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Hostname() == "" {
		return nil, false
	}
	return u, true
}

// lookupReferrer finds the site of a host: the host itself, then each parent
// domain ("uk.search.yahoo.com" → "search.yahoo.com" → "yahoo.com"), then
// the brands that use many country domains (google.de, yandex.com.tr).
func lookupReferrer(host string) *referrerSite {
	for h := host; ; {
		if s, ok := referrerHosts[h]; ok {
			return s
		}
		dot := strings.IndexByte(h, '.')
		if dot < 0 || strings.IndexByte(h[dot+1:], '.') < 0 {
			break // stop at a two-label name: "co.uk" is no site
		}
		h = h[dot+1:]
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		s, ok := referrerBrands[l]
		if !ok {
			continue
		}
		if tld := labels[i+1:]; len(tld) >= 1 && len(tld) <= 2 && isCountryTLD(tld) {
			return s
		}
	}
	return nil
}

// isCountryTLD accepts "com", "de", "co.uk", "com.au": short labels only.
func isCountryTLD(labels []string) bool {
	for _, l := range labels {
		if len(l) < 2 || len(l) > 3 {
			return false
		}
	}
	return true
}
