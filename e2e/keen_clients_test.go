package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// Keen's official clients against sluice: each records a small, fixed set
// of events with its own calls and runs every analysis it offers; every
// answer is checked against the values the events imply (worked out by
// hand below, in the comments of keenExpectations).
//
// The events: six purchases and four signups, between 2026-11-01 and
// 2026-11-05 (UTC).
//
//	#  user  country price  keen.timestamp        (US/Pacific, UTC−8 then)
//	1  u1    FR      10     2026-11-02T10:00:00Z  11-02 02:00
//	2  u2    FR      20     2026-11-02T15:00:00Z  11-02 07:00
//	3  u1    DE      30     2026-11-03T09:00:00Z  11-03 01:00
//	4  u3    US      40     2026-11-03T23:30:00Z  11-03 15:30
//	5  u2    DE      50     2026-11-04T01:00:00Z  11-03 17:00
//	6  u4    FR      60     2026-11-04T12:00:00Z  11-04 04:00
//
// signups: u1, u2, u3, u5, all on 2026-11-01.
var keenPurchases = []struct {
	user, country string
	price         float64
	ts            string
}{
	{"u1", "FR", 10, "2026-11-02T10:00:00.000Z"},
	{"u2", "FR", 20, "2026-11-02T15:00:00.000Z"},
	{"u1", "DE", 30, "2026-11-03T09:00:00.000Z"},
	{"u3", "US", 40, "2026-11-03T23:30:00.000Z"},
	{"u2", "DE", 50, "2026-11-04T01:00:00.000Z"},
	{"u4", "FR", 60, "2026-11-04T12:00:00.000Z"},
}

var keenSignups = []string{"u1", "u2", "u3", "u5"}

// keenTimeframe holds every event.
var keenTimeframe = map[string]any{"start": "2026-11-01T00:00:00.000Z", "end": "2026-11-05T00:00:00.000Z"}

func keenEvents() (purchases, signups []any) {
	for i, p := range keenPurchases {
		purchases = append(purchases, map[string]any{
			"user": map[string]any{"id": p.user}, "country": p.country, "price": p.price, "n": i + 1,
			"keen": map[string]any{"timestamp": p.ts},
		})
	}
	for _, u := range keenSignups {
		signups = append(signups, map[string]any{
			"user": map[string]any{"id": u},
			"keen": map[string]any{"timestamp": "2026-11-01T12:00:00.000Z"},
		})
	}
	return purchases, signups
}

// keenStep is one step of a client driver's plan (see
// e2e/clients/python/keen_client.py for the ops).
type keenStep map[string]any

// keenCheck checks one step's answer.
type keenCheck func(result json.RawMessage) error

// keenQueries are the queries every client runs on collections purchases
// and signups, each with its check.
func keenQueries(purchases, signups string) ([]keenStep, map[string]keenCheck) {
	tf := keenTimeframe
	base := func(extra map[string]any) map[string]any {
		p := map[string]any{"event_collection": purchases, "timeframe": tf}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	filter := func(prop, op string, v any) []any {
		return []any{map[string]any{"property_name": prop, "operator": op, "property_value": v}}
	}
	var steps []keenStep
	checks := map[string]keenCheck{}
	add := func(name, analysis string, params map[string]any, check keenCheck) {
		steps = append(steps, keenStep{"name": name, "op": "query", "analysis": analysis, "params": params})
		checks[name] = check
	}
	add("count", "count", base(nil), scalar(6))
	add("count price >= 30", "count", base(map[string]any{"filters": filter("price", "gte", 30)}), scalar(4)) // 30, 40, 50, 60
	add("count country in FR, US", "count", base(map[string]any{"filters": filter("country", "in", []any{"FR", "US"})}), scalar(4))
	add("count group_by country", "count", base(map[string]any{"group_by": "country"}),
		groups(false, "country", "FR", 3, "DE", 2, "US", 1))
	add("count group_by country, user.id", "count", base(map[string]any{"group_by": []any{"country", "user.id"}}),
		groups2("country", "user.id", "FR", "u1", 1, "FR", "u2", 1, "FR", "u4", 1, "DE", "u1", 1, "DE", "u2", 1, "US", "u3", 1))
	add("count group_by country order_by result desc limit 2", "count",
		base(map[string]any{"group_by": "country", "order_by": map[string]any{"property_name": "result", "direction": "DESC"}, "limit": 2}),
		groups(true, "country", "FR", 3, "DE", 2))
	// Daily in UTC: 11-01 none, 11-02 #1 #2, 11-03 #3 #4, 11-04 #5 #6.
	add("count daily", "count", base(map[string]any{"interval": "daily"}), series(
		"2026-11-01T00:00:00Z", 0, "2026-11-02T00:00:00Z", 2, "2026-11-03T00:00:00Z", 2, "2026-11-04T00:00:00Z", 2, "2026-11-05T00:00:00Z"))
	// Daily in US/Pacific (UTC−8 from 2026-11-01): 11-02 #1 #2, 11-03 #3
	// #4 #5, 11-04 #6.
	add("count daily US/Pacific", "count", map[string]any{"event_collection": purchases, "interval": "daily", "timezone": "US/Pacific",
		"timeframe": map[string]any{"start": "2026-11-02T00:00:00-08:00", "end": "2026-11-05T00:00:00-08:00"}}, series(
		"2026-11-02T08:00:00Z", 2, "2026-11-03T08:00:00Z", 3, "2026-11-04T08:00:00Z", 1, "2026-11-05T08:00:00Z"))
	add("count_unique user.id", "count_unique", base(map[string]any{"target_property": "user.id"}), scalar(4))
	add("sum price", "sum", base(map[string]any{"target_property": "price"}), scalar(210))
	add("average price", "average", base(map[string]any{"target_property": "price"}), scalar(35))
	add("minimum price", "minimum", base(map[string]any{"target_property": "price"}), scalar(10))
	add("maximum price", "maximum", base(map[string]any{"target_property": "price"}), scalar(60))
	// Not interpolated: rank floor(p/100 × (n−1)) of 10…60.
	add("median price", "median", base(map[string]any{"target_property": "price"}), scalar(30))
	add("percentile 90 price", "percentile", base(map[string]any{"target_property": "price", "percentile": 90}), scalar(50))
	add("sum price group_by country", "sum", base(map[string]any{"target_property": "price", "group_by": "country"}),
		groups(false, "country", "FR", 90, "DE", 80, "US", 40))
	add("select_unique country", "select_unique", base(map[string]any{"target_property": "country"}), set("DE", "FR", "US"))
	add("extraction latest 2 price", "extraction", base(map[string]any{"latest": 2, "property_names": []any{"price"}}),
		objects(map[string]any{"price": 50.0}, map[string]any{"price": 60.0}))
	add("extraction country US", "extraction", base(map[string]any{"filters": filter("country", "eq", "US")}), func(r json.RawMessage) error {
		var evs []struct {
			User struct{ ID string }
			Keen struct{ ID, Timestamp string }
		}
		if err := json.Unmarshal(r, &evs); err != nil {
			return err
		}
		if len(evs) != 1 || evs[0].User.ID != "u3" || evs[0].Keen.ID == "" || evs[0].Keen.Timestamp != "2026-11-03T23:30:00.000Z" {
			return fmt.Errorf("want the one event of u3 with its keen object")
		}
		return nil
	})
	add("multi_analysis", "multi_analysis", base(map[string]any{"analyses": map[string]any{
		"total": map[string]any{"analysis_type": "sum", "target_property": "price"},
		"n":     map[string]any{"analysis_type": "count"},
	}}), object(map[string]any{"total": 210.0, "n": 6.0}))
	// Signed up: u1 u2 u3 u5; of them, purchased: u1 u2 u3.
	add("funnel", "funnel", map[string]any{"steps": []any{
		map[string]any{"event_collection": signups, "actor_property": "user.id", "timeframe": tf},
		map[string]any{"event_collection": purchases, "actor_property": "user.id", "timeframe": tf},
	}}, func(r json.RawMessage) error {
		var f struct {
			Result []float64
			Steps  []any
		}
		if err := json.Unmarshal(r, &f); err != nil {
			return err
		}
		if !reflect.DeepEqual(f.Result, []float64{4, 3}) || len(f.Steps) != 2 {
			return fmt.Errorf("want result [4, 3] and the 2 steps")
		}
		return nil
	})
	return steps, checks
}

func scalar(want float64) keenCheck {
	return func(r json.RawMessage) error {
		var got float64
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			return fmt.Errorf("want %v", want)
		}
		return nil
	}
}

// groups checks a group_by result on prop: pairs of value, result; in
// that order when ordered.
func groups(ordered bool, prop string, pairs ...any) keenCheck {
	return func(r json.RawMessage) error {
		var got []map[string]any
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		var want, have []string
		for i := 0; i < len(pairs); i += 2 {
			want = append(want, fmt.Sprintf("%v=%v", pairs[i], pairs[i+1]))
		}
		for _, g := range got {
			have = append(have, fmt.Sprintf("%v=%v", g[prop], g["result"]))
		}
		if !ordered {
			sort.Strings(want)
			sort.Strings(have)
		}
		if !reflect.DeepEqual(want, have) {
			return fmt.Errorf("want %v", want)
		}
		return nil
	}
}

// groups2 checks a group_by result on two properties: triples of values
// and result, in any order.
func groups2(p1, p2 string, triples ...any) keenCheck {
	return func(r json.RawMessage) error {
		var got []map[string]any
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		var want, have []string
		for i := 0; i < len(triples); i += 3 {
			want = append(want, fmt.Sprintf("%v/%v=%v", triples[i], triples[i+1], triples[i+2]))
		}
		for _, g := range got {
			have = append(have, fmt.Sprintf("%v/%v=%v", g[p1], g[p2], g["result"]))
		}
		sort.Strings(want)
		sort.Strings(have)
		if !reflect.DeepEqual(want, have) {
			return fmt.Errorf("want %v", want)
		}
		return nil
	}
}

// series checks an interval result: bucket starts and values alternating,
// then the last bucket's end. Instants are compared, not their rendering
// (a client's time zone may show in it).
func series(bounds ...any) keenCheck {
	return func(r json.RawMessage) error {
		var got []struct {
			Value     float64
			Timeframe struct{ Start, End string }
		}
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		n := len(bounds) / 2
		if len(got) != n {
			return fmt.Errorf("want %d buckets", n)
		}
		for i := range n {
			start, _ := time.Parse(time.RFC3339, bounds[2*i].(string))
			end, _ := time.Parse(time.RFC3339, bounds[2*i+2].(string))
			gs, err1 := time.Parse(time.RFC3339Nano, got[i].Timeframe.Start)
			ge, err2 := time.Parse(time.RFC3339Nano, got[i].Timeframe.End)
			if err1 != nil || err2 != nil || !gs.Equal(start) || !ge.Equal(end) || got[i].Value != float64(bounds[2*i+1].(int)) {
				return fmt.Errorf("bucket %d: want [%s, %s) = %v", i, start, end, bounds[2*i+1])
			}
		}
		return nil
	}
}

func set(want ...string) keenCheck {
	return func(r json.RawMessage) error {
		var got []string
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("want %v", want)
		}
		return nil
	}
}

// objects checks a list of objects, in any order.
func objects(want ...map[string]any) keenCheck {
	return func(r json.RawMessage) error {
		var got []map[string]any
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		key := func(m []map[string]any) []string {
			var out []string
			for _, o := range m {
				b, _ := json.Marshal(o)
				out = append(out, string(b))
			}
			sort.Strings(out)
			return out
		}
		if !reflect.DeepEqual(key(got), key(want)) {
			return fmt.Errorf("want %v", key(want))
		}
		return nil
	}
}

func object(want map[string]any) keenCheck {
	return func(r json.RawMessage) error {
		var got map[string]any
		if err := json.Unmarshal(r, &got); err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("want %v", want)
		}
		return nil
	}
}

// keenSchemaCheck checks a collection's schema as Keen lists it.
func keenSchemaCheck(r json.RawMessage) error {
	var c struct {
		Properties map[string]string
	}
	if err := json.Unmarshal(r, &c); err != nil {
		return err
	}
	for p, typ := range map[string]string{"price": "num", "country": "string", "user.id": "string", "n": "num", "keen.timestamp": "datetime"} {
		if c.Properties[p] != typ {
			return fmt.Errorf("property %s: want type %s", p, typ)
		}
	}
	return nil
}

// checkKeenAnswers checks a driver's output against checks, and that it
// answered every step.
func checkKeenAnswers(t *testing.T, client, out string, checks map[string]keenCheck) {
	t.Helper()
	var answers map[string]struct {
		Result json.RawMessage
		Error  string
	}
	if err := json.Unmarshal([]byte(out), &answers); err != nil {
		t.Fatalf("%s: output is not JSON (%v): %s", client, err, headLines(out, 20))
	}
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	sort.Strings(names)
	failed := 0
	for _, name := range names {
		a, ok := answers[name]
		switch {
		case !ok:
			t.Errorf("%s: %s: no answer", client, name)
		case a.Error != "":
			t.Errorf("%s: %s: %s", client, name, a.Error)
		default:
			if err := checks[name](a.Result); err != nil {
				t.Errorf("%s: %s: got %s: %v", client, name, a.Result, err)
			} else {
				continue
			}
		}
		failed++
	}
	t.Logf("%s: %d of %d answers right", client, len(names)-failed, len(names))
}

// TestKeenClients drives Keen's official clients against one sluice on
// Apache Kafka whose HTTP API is served over HTTPS on 127.0.0.1:443 (Node's
// keen-analysis reaches no other port), each client in a project of its
// own: PyPI's keen (keen_client.py: recording in batches, one by one and
// by image beacon, every query method, schema, a filtered delete), npm's
// keen-tracking and keen-analysis in Node.js (keen.js) and their browser
// builds in Chromium, from a page of another origin (CORS).
func TestKeenClients(t *testing.T) {
	const httpsAddr = "127.0.0.1:443"
	e := startPipeEnv(t, "keen clients", "--http-tls", "--http-addr", httpsAddr)
	if !strings.HasPrefix(e.sluice.HTTP, "https://") {
		t.Fatalf("sluice serves its HTTP API at %s, not over HTTPS", e.sluice.HTTP)
	}
	ca := filepath.Join(e.dir, "data", "tls", "ca.pem")
	hc := e.http
	const orgID, orgKey = "0123456789abcdef01234567", "pipe-env-org-key-0123456789"
	t.Run("python", func(t *testing.T) {
		p := createProjectWith(t, hc, e.sluice.HTTP, orgID, orgKey, "keen python")
		steps, checks := keenRecording(p, true)
		plan, _ := json.Marshal(map[string]any{"url": e.sluice.HTTP, "project_id": p.ID,
			"write_key": p.APIKeys["write"], "read_key": p.APIKeys["read"], "master_key": p.APIKeys["master"], "steps": steps})
		out := runKeenDriver(t, string(plan), []string{"REQUESTS_CA_BUNDLE=" + ca}, clientsPython(t), clientsDir(t, "python")+"/keen_client.py")
		checkKeenAnswers(t, "python keen", out, checks)
	})
	t.Run("node", func(t *testing.T) {
		p := createProjectWith(t, hc, e.sluice.HTTP, orgID, orgKey, "keen node")
		steps, checks := keenRecording(p, false)
		plan, _ := json.Marshal(map[string]any{"project_id": p.ID,
			"write_key": p.APIKeys["write"], "read_key": p.APIKeys["read"], "master_key": p.APIKeys["master"], "steps": steps,
			"tracking": map[string]any{"host": "127.0.0.1", "port": 443, "protocol": "https"},
			"analysis": map[string]any{"host": "127.0.0.1", "protocol": "https"}})
		dir := clientsDir(t, "keen")
		out := runKeenDriver(t, string(plan), []string{"NODE_EXTRA_CA_CERTS=" + ca}, "node", filepath.Join(dir, "keen.js"))
		checkKeenAnswers(t, "node keen-tracking/keen-analysis", out, checks)
	})
	t.Run("browser", func(t *testing.T) {
		p := createProjectWith(t, hc, e.sluice.HTTP, orgID, orgKey, "keen browser")
		steps, checks := keenRecording(p, false)
		// In a browser, recordEvents resolves with fetch's Response (no
		// body to check): the counts after it tell whether it recorded.
		checks["record purchases"] = func(json.RawMessage) error { return nil }
		steps = append(steps,
			keenStep{"name": "image beacon", "op": "record_img", "collection": "beacons", "event": map[string]any{"page": "/home"}},
			keenStep{"name": "wait beacon", "op": "wait_count", "collection": "beacons", "count": 1})
		checks["image beacon"] = func(r json.RawMessage) error {
			if string(r) != "true" {
				return fmt.Errorf("want the GIF loaded")
			}
			return nil
		}
		checks["wait beacon"] = scalar(1)
		plan, _ := json.Marshal(map[string]any{"project_id": p.ID,
			"write_key": p.APIKeys["write"], "read_key": p.APIKeys["read"], "master_key": p.APIKeys["master"], "steps": steps,
			"tracking": map[string]any{"host": "127.0.0.1", "protocol": "https"},
			"analysis": map[string]any{"host": "127.0.0.1", "protocol": "https"}})
		page := keenPage(t)
		shot := filepath.Join(artifactsDir(t), "keen-browser.png")
		out := runKeenDriver(t, "", []string{"PAGE_URL=" + page, "PLAN=" + string(plan), "SCREENSHOT=" + shot, "CHROMIUM=" + chromiumPath(t),
			"SPKI=" + serverSPKI(t, httpsAddr, hc)},
			"node", filepath.Join(browserDir(t), "keen.mjs"))
		checkKeenAnswers(t, "browser keen-tracking/keen-analysis", out, checks)
	})
}

// keenRecording is a client's plan: record the events, wait until they
// are counted, run keenQueries, read the schema; with python, also an
// image beacon and a filtered delete (the JavaScript clients have neither
// a beacon call nor, in the browser, a delete the read key may run).
func keenRecording(p httpProject, python bool) ([]keenStep, map[string]keenCheck) {
	purchases, signups := keenEvents()
	steps := []keenStep{
		{"name": "record purchases", "op": "record", "collection": "purchases", "events": purchases},
		{"name": "record signups", "op": "record", "collection": "signups", "events": signups[:3]},
		{"name": "record one signup", "op": "record_one", "collection": "signups", "event": signups[3]},
		{"name": "wait purchases", "op": "wait_count", "collection": "purchases", "count": len(purchases), "timeframe": keenTimeframe},
		{"name": "wait signups", "op": "wait_count", "collection": "signups", "count": len(signups), "timeframe": keenTimeframe},
	}
	checks := map[string]keenCheck{
		"record purchases": func(r json.RawMessage) error {
			var res map[string][]struct{ Success bool }
			if err := json.Unmarshal(r, &res); err != nil {
				return err
			}
			if len(res["purchases"]) != len(purchases) {
				return fmt.Errorf("want %d results", len(purchases))
			}
			for _, s := range res["purchases"] {
				if !s.Success {
					return fmt.Errorf("an event failed")
				}
			}
			return nil
		},
		"wait purchases": scalar(float64(len(purchases))),
		"wait signups":   scalar(float64(len(signups))),
	}
	queries, qchecks := keenQueries("purchases", "signups")
	steps = append(steps, queries...)
	for k, v := range qchecks {
		checks[k] = v
	}
	steps = append(steps, keenStep{"name": "schema purchases", "op": "collection", "collection": "purchases"},
		keenStep{"name": "schema", "op": "collections"})
	checks["schema purchases"] = keenSchemaCheck
	checks["schema"] = func(r json.RawMessage) error {
		var cs []struct{ Name string }
		if err := json.Unmarshal(r, &cs); err != nil {
			return err
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		if !reflect.DeepEqual(names, []string{"purchases", "signups"}) {
			return fmt.Errorf("want purchases and signups")
		}
		return nil
	}
	if !python {
		// keen 0.7.0 (Python) has no method for it; keen-analysis runs
		// any analysis. Population deviation of 10…60: sqrt(1750 / 6).
		steps = append(steps, keenStep{"name": "standard_deviation price", "op": "query", "analysis": "standard_deviation",
			"params": map[string]any{"event_collection": "purchases", "timeframe": keenTimeframe, "target_property": "price"}})
		checks["standard_deviation price"] = scalar(math.Sqrt(1750.0 / 6))
		return steps, checks
	}
	steps = append(steps,
		keenStep{"name": "beacon", "op": "beacon", "collection": "beacons", "event": map[string]any{"page": "/home"}},
		keenStep{"name": "wait beacon", "op": "wait_count", "collection": "beacons", "count": 1},
		keenStep{"name": "delete US", "op": "delete", "collection": "purchases", "params": map[string]any{
			"filters": []any{map[string]any{"property_name": "country", "operator": "eq", "property_value": "US"}}}},
		keenStep{"name": "count after delete", "op": "query", "analysis": "count", "params": map[string]any{"event_collection": "purchases", "timeframe": keenTimeframe}},
	)
	checks["beacon"] = func(r json.RawMessage) error {
		var b struct {
			Status      int
			ContentType string `json:"content_type"`
		}
		if err := json.Unmarshal(r, &b); err != nil {
			return err
		}
		if b.Status != 200 || !strings.HasPrefix(b.ContentType, "image/gif") {
			return fmt.Errorf("want 200 and a GIF")
		}
		return nil
	}
	checks["wait beacon"] = scalar(1)
	checks["delete US"] = func(json.RawMessage) error { return nil } // the count after it tells
	checks["count after delete"] = scalar(5)
	return steps, checks
}

// serverSPKI is the pin of the certificate served at addr: the base64
// SHA-256 of its public key, as Chromium's
// --ignore-certificate-errors-spki-list takes it.
func serverSPKI(t *testing.T, addr string, hc *http.Client) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, hc.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// keenPage serves, from an origin of its own, a page that loads the
// browser builds of keen-tracking and keen-analysis and steps.js, and
// returns its URL.
func keenPage(t *testing.T) string {
	t.Helper()
	dir := clientsDir(t, "keen")
	files := map[string]string{
		"/keen-tracking.min.js": filepath.Join(dir, "node_modules", "keen-tracking", "dist", "keen-tracking.min.js"),
		"/keen-analysis.min.js": filepath.Join(dir, "node_modules", "keen-analysis", "dist", "keen-analysis.min.js"),
		"/steps.js":             filepath.Join(dir, "steps.js"),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if path, ok := files[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, path)
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>Keen clients</title>
<script src="/keen-tracking.min.js"></script><script src="/keen-analysis.min.js"></script><script src="/steps.js"></script>
</head><body>running</body></html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// runKeenDriver runs a client driver with plan on stdin and returns its
// standard output (the answers); its standard error is shown only when it
// fails.
func runKeenDriver(t *testing.T, plan string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = filepath.Dir(args[len(args)-1])
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(plan), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
