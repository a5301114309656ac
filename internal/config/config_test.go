package config

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseServeDefaults(t *testing.T) {
	c, err := ParseServe(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Serve{DataDir: "./data", InboundAddr: ":9092", OutboundAddr: ":9093", HTTPAddr: ":8080",
		AdvertisedHost: "localhost", LogLevel: "info", Backend: Backend{ConnectTimeout: 30 * time.Second}}
	if c.DataDir != want.DataDir || c.InboundAddr != want.InboundAddr || c.OutboundAddr != want.OutboundAddr ||
		c.HTTPAddr != want.HTTPAddr || c.AdvertisedHost != want.AdvertisedHost || c.LogLevel != want.LogLevel ||
		!c.Backend.Embedded() || c.Backend.ConnectTimeout != want.Backend.ConnectTimeout || c.OrgID != "" || c.TLSCert != "" || !c.Pipeline ||
		c.HTTPTLS || c.HTTPTLSCert != "" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestParseServeLimits(t *testing.T) {
	c, err := ParseServe(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != limits.Default() {
		t.Fatalf("limits without flags = %+v, want the defaults %+v", c.Limits, limits.Default())
	}
	c, err = ParseServe([]string{"--max-collections-per-project", "7", "--max-properties-per-collection", "300",
		"--max-extraction-bytes", "1048576", "--max-http-connections", "100", "--max-kafka-connections", "50",
		"--max-kafka-connections-per-project", "5", "--produce-bytes-per-second", "0"},
		envOf(map[string]string{"SLUICE_MAX_KAFKA_CONNECTIONS": "60", "SLUICE_MAX_COLLECTIONS_PER_PROJECT": "9"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := limits.Default()
	want.MaxCollectionsPerProject, want.MaxPropertiesPerCollection, want.MaxExtractionBytes = 7, 300, 1<<20
	want.MaxHTTPConnections, want.MaxKafkaConnections, want.MaxKafkaConnectionsPerProject = 100, 50, 5
	if c.Limits != want {
		t.Fatalf("limits = %+v, want %+v", c.Limits, want)
	}
}

func TestParseServeFlagBeatsEnv(t *testing.T) {
	env := envOf(map[string]string{"SLUICE_DATA_DIR": "/env", "SLUICE_HTTP_ADDR": "127.0.0.1:9999", "SLUICE_KAFKA_BROKERS": "a:1, b:2"})
	c, err := ParseServe([]string{"--data-dir", "/flag"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/flag" || c.HTTPAddr != "127.0.0.1:9999" || strings.Join(c.Backend.Brokers, ",") != "a:1,b:2" {
		t.Fatalf("got %+v", c)
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"data-dir": "SLUICE_DATA_DIR", "tls-cert": "SLUICE_TLS_CERT", "kafka-sasl-mechanism": "SLUICE_KAFKA_SASL_MECHANISM"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseServeErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the one-line error
	}{
		{"bad inbound", []string{"--inbound-addr", "nope"}, nil, "--inbound-addr"},
		{"bad port", []string{"--http-addr", ":70000"}, nil, "--http-addr"},
		{"same listeners", []string{"--inbound-addr", ":1", "--outbound-addr", ":1"}, nil, "--outbound-addr"},
		{"bad host", []string{"--advertised-host", "a b"}, nil, "--advertised-host"},
		{"cert without key", []string{"--tls-cert", "x.pem"}, nil, "--tls-cert and --tls-key"},
		{"http cert without key", []string{"--http-tls-cert", "x.pem"}, nil, "--http-tls-cert and --http-tls-key"},
		{"http key without cert", nil, map[string]string{"SLUICE_HTTP_TLS_KEY": "k.pem"}, "--http-tls-cert and --http-tls-key"},
		{"bad env http-tls", nil, map[string]string{"SLUICE_HTTP_TLS": "sometimes"}, "SLUICE_HTTP_TLS"},
		{"org id without key", []string{"--org-id", "abc"}, nil, "--org-id and --org-key"},
		{"org key short", []string{"--org-id", "abc", "--org-key", "short"}, nil, "--org-key"},
		{"org id chars", []string{"--org-id", "a b", "--org-key", "0123456789abcdef0123"}, nil, "--org-id"},
		{"broker no port", []string{"--kafka-brokers", "localhost"}, nil, "--kafka-brokers"},
		{"broker bad port", []string{"--kafka-brokers", "h:0"}, nil, "--kafka-brokers"},
		{"bad mechanism", []string{"--kafka-brokers", "h:1", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"}, nil, "--kafka-sasl-mechanism"},
		{"mechanism without creds", []string{"--kafka-brokers", "h:1", "--kafka-sasl-mechanism", "PLAIN"}, nil, "--kafka-sasl-username"},
		{"creds without mechanism", []string{"--kafka-brokers", "h:1", "--kafka-sasl-username", "u"}, nil, "--kafka-sasl-mechanism"},
		{"sasl on embedded", []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"}, nil, "--kafka-brokers"},
		{"tls on embedded", []string{"--kafka-tls"}, nil, "--kafka-brokers"},
		{"timeout", []string{"--kafka-connect-timeout", "soon"}, nil, "--kafka-connect-timeout"},
		{"log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"positional", []string{"extra"}, nil, "unexpected argument"},
		{"bad env bool", nil, map[string]string{"SLUICE_DEMO": "maybe"}, "SLUICE_DEMO"},
		{"empty data dir", []string{"--data-dir", ""}, nil, "--data-dir"},
		{"zero limit", []string{"--max-collections-per-project", "0"}, nil, "max-collections-per-project"},
		{"negative limit", []string{"--max-kafka-connections", "-5"}, nil, "max-kafka-connections"},
		{"limit not a number", []string{"--max-extraction-bytes", "64MiB"}, nil, "max-extraction-bytes"},
		{"limit overflows", []string{"--max-http-connections", "99999999999999999999"}, nil, "max-http-connections"},
		{"negative quota", []string{"--produce-bytes-per-second", "-1"}, nil, "produce-bytes-per-second"},
		{"bad env limit", nil, map[string]string{"SLUICE_MAX_PROPERTIES_PER_COLLECTION": "many"}, "SLUICE_MAX_PROPERTIES_PER_COLLECTION"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseServe(tc.args, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseServeBackendOK(t *testing.T) {
	c, err := ParseServe([]string{"--kafka-brokers", "127.0.0.1:9092", "--kafka-sasl-mechanism", "scram-sha-512",
		"--kafka-sasl-username", "u", "--kafka-sasl-password", "p", "--kafka-tls-ca", "/ca.pem"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend.SASLMechanism != "SCRAM-SHA-512" || !c.Backend.TLS || c.Backend.Embedded() {
		t.Fatalf("backend = %+v", c.Backend)
	}
}

func TestParseServeHTTPTLS(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		env       map[string]string
		tls       bool
		cert, key string
	}{
		{"off by default", nil, nil, false, "", ""},
		{"the Kafka listeners' certificate", []string{"--http-tls"}, nil, true, "", ""},
		{"from the environment", nil, map[string]string{"SLUICE_HTTP_TLS": "true"}, true, "", ""},
		{"own certificate implies TLS", []string{"--http-tls-cert", "/c.pem", "--http-tls-key", "/k.pem"}, nil, true, "/c.pem", "/k.pem"},
		{"own certificate from the environment", nil, map[string]string{"SLUICE_HTTP_TLS_CERT": "/c.pem", "SLUICE_HTTP_TLS_KEY": "/k.pem"}, true, "/c.pem", "/k.pem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseServe(tc.args, envOf(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTPTLS != tc.tls || c.HTTPTLSCert != tc.cert || c.HTTPTLSKey != tc.key {
				t.Fatalf("HTTPTLS %v cert %q key %q, want %v %q %q", c.HTTPTLS, c.HTTPTLSCert, c.HTTPTLSKey, tc.tls, tc.cert, tc.key)
			}
		})
	}
}
