// Package config parses and validates sluice's flags and their SLUICE_*
// environment variables (docs/contract.md §1). It is pure: no listener is opened
// and no file is read here, so every rule is table-testable.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
)

// Serve holds everything `sluice serve` needs.
type Serve struct {
	DataDir        string
	InboundAddr    string
	OutboundAddr   string
	HTTPAddr       string
	AdvertisedHost string
	TLSCert        string
	TLSKey         string
	// HTTPTLS serves the HTTP API over TLS: with HTTPTLSCert and HTTPTLSKey
	// when given, else with the Kafka listeners' certificate (TLSCert, or
	// the one sluice's own CA signs).
	HTTPTLS     bool
	HTTPTLSCert string
	HTTPTLSKey  string
	OrgID       string
	OrgKey      string
	Backend     Backend
	Demo        bool
	LogLevel    string
	GeoIPDB     string
	DebugAddr   string
	Pipeline    bool
	// Store is where events are stored: nil is the embedded DuckDB store
	// under DataDir, else the ClickHouse database --store names (shared by
	// every node pointing at it).
	Store *clickhouse.Config
	// Limits are limits.Default() but for the --max-* flags.
	Limits limits.Config
}

// Backend is how sluice reaches its Kafka cluster. Brokers empty means the
// embedded single-node log.
type Backend struct {
	Brokers        []string
	SASLMechanism  string // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SASLUsername   string
	SASLPassword   string
	TLS            bool
	TLSCAFile      string
	ConnectTimeout time.Duration
}

// Embedded reports whether sluice runs its own single-node log.
func (b Backend) Embedded() bool { return len(b.Brokers) == 0 }

var (
	orgIDRE = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	// orgKeyRE accepts what operators might paste: hex or base64url-ish
	// secrets, but nothing with spaces or quotes that would break a header.
	orgKeyRE = regexp.MustCompile(`^[A-Za-z0-9_\-]{16,128}$`)
)

// SASL mechanisms sluice can use against its backend.
var backendMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// ParseServe parses `sluice serve` arguments. env looks up environment
// variables (os.LookupEnv in main; a map in tests). Errors are one line that
// names the flag and says what is allowed.
func ParseServe(args []string, env func(string) (string, bool), usageOut io.Writer) (Serve, error) {
	c := Serve{Limits: limits.Default()}
	var brokers, timeout, storeURL string
	fs := flag.NewFlagSet("sluice serve", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.StringVar(&c.DataDir, "data-dir", "./data", "everything sluice keeps on disk")
	fs.StringVar(&brokers, "kafka-brokers", "", "bootstrap addresses of the backend Kafka cluster, comma separated; empty = embedded single-node log under the data dir")
	fs.StringVar(&c.Backend.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism for the backend: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty = none)")
	fs.StringVar(&c.Backend.SASLUsername, "kafka-sasl-username", "", "SASL username for the backend")
	fs.StringVar(&c.Backend.SASLPassword, "kafka-sasl-password", "", "SASL password for the backend")
	fs.BoolVar(&c.Backend.TLS, "kafka-tls", false, "connect to the backend with TLS")
	fs.StringVar(&c.Backend.TLSCAFile, "kafka-tls-ca", "", "PEM CA file to verify the backend's certificates (implies --kafka-tls)")
	fs.StringVar(&timeout, "kafka-connect-timeout", "30s", "how long to wait for the backend at start before giving up")
	fs.StringVar(&c.InboundAddr, "inbound-addr", ":9092", "bootstrap address of the Kafka Inbound listener")
	fs.StringVar(&c.OutboundAddr, "outbound-addr", ":9093", "bootstrap address of the Kafka Outbound listener")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "HTTP API and web pages")
	fs.StringVar(&c.AdvertisedHost, "advertised-host", "localhost", "host name that clients are told to connect to")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate for both Kafka listeners (empty = generated under <data-dir>/tls)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&c.HTTPTLS, "http-tls", false, "serve the HTTP API over HTTPS, with the Kafka listeners' certificate unless --http-tls-cert is given")
	fs.StringVar(&c.HTTPTLSCert, "http-tls-cert", "", "PEM certificate for the HTTP API (implies --http-tls)")
	fs.StringVar(&c.HTTPTLSKey, "http-tls-key", "", "PEM private key for --http-tls-cert")
	fs.StringVar(&c.OrgID, "org-id", "", "organization id for provisioning (empty = generated once into <data-dir>/org.json)")
	fs.StringVar(&c.OrgKey, "org-key", "", "organization key for provisioning (empty = generated once into <data-dir>/org.json)")
	fs.BoolVar(&c.Demo, "demo", false, "create a project named demo if there is none and print client commands for it")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.GeoIPDB, "geoip-db", "", "MaxMind DB file for the keen:ip_to_geo add-on (empty = add-on unavailable)")
	fs.BoolVar(&c.Pipeline, "pipeline", true, "run the event pipeline in this process (false: a gateway and API node only; another process must run it)")
	fs.StringVar(&storeURL, "store", "", "event store: clickhouse://[user[:password]@]host:port[,host:port]/database[?secure=true&skip_verify=true&dial_timeout=10s] (empty = the embedded DuckDB store under the data dir)")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's pprof profiles here, e.g. 127.0.0.1:6060 (empty = off)")
	atLeast(fs, &c.Limits.MaxCollectionsPerProject, "max-collections-per-project", "collections one project may have; a new one past it is refused", 1)
	atLeast(fs, &c.Limits.MaxPropertiesPerCollection, "max-properties-per-collection", "typed columns (property path × JSON type) one collection may have; an event past it goes to the DLQ", 1)
	atLeast(fs, &c.Limits.MaxExtractionBytes, "max-extraction-bytes", "bytes of events one extraction may return; a larger one is refused", 1)
	atLeast(fs, &c.Limits.MaxExtractionBytesInFlight, "max-extraction-bytes-in-flight", "bytes of extraction answers held at once, all projects together (each extraction reserves --max-extraction-bytes while it runs); past it extractions are refused with 503 and Retry-After", 1)
	atLeast(fs, &c.Limits.MaxHTTPConnections, "max-http-connections", "open HTTP connections (lowered at start to fit the file descriptor limit)", 1)
	atLeast(fs, &c.Limits.MaxHTTPConnectionsPerAddress, "max-http-connections-per-address", "open HTTP connections from one remote address (0 = no cap; behind a reverse proxy every client shares its address)", 0)
	atLeast(fs, &c.Limits.MaxKafkaConnections, "max-kafka-connections", "open connections of each Kafka listener (lowered at start to fit the file descriptor limit)", 1)
	atLeast(fs, &c.Limits.ProduceBytesPerSecond, "produce-bytes-per-second", "bytes per second one project may produce over Kafka Inbound and HTTP together, beyond a second's burst; over it clients are throttled (0 = no quota)", 0)
	atLeast(fs, &c.Limits.MaxKafkaConnectionsPerProject, "max-kafka-connections-per-project", "authenticated connections of one project to each Kafka listener", 1)

	if err := applyEnv(fs, env); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: sluice serve takes only flags", fs.Arg(0))
	}
	c.Backend.Brokers = splitList(brokers)
	d, err := time.ParseDuration(timeout)
	if err != nil || d <= 0 {
		return c, fmt.Errorf("--kafka-connect-timeout: %q is not a positive duration such as 30s", timeout)
	}
	c.Backend.ConnectTimeout = d
	if storeURL != "" {
		sc, err := clickhouse.ParseURL(storeURL)
		if err != nil {
			return c, fmt.Errorf("--store: %v", err)
		}
		c.Store = &sc
	}
	return c, c.validate()
}

// atLeast declares an integer flag that takes only values of min or more;
// its default is *p.
func atLeast[T int | int64](fs *flag.FlagSet, p *T, name, usage string, min int64) {
	fs.Func(name, fmt.Sprintf("%s (default %d)", usage, *p), func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min || int64(T(n)) != n {
			return fmt.Errorf("must be an integer of at least %d", min)
		}
		*p = T(n)
		return nil
	})
}

// applyEnv sets every flag that has a SLUICE_* variable; fs.Parse runs
// afterwards, so a flag on the command line wins over the environment.
func applyEnv(fs *flag.FlagSet, env func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := EnvName(f.Name)
		v, ok := env(name)
		if !ok {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s: %q is not valid for --%s", name, v, f.Name)
		}
	})
	return err
}

// EnvName is the environment variable for a flag: --data-dir → SLUICE_DATA_DIR.
func EnvName(flagName string) string {
	return "SLUICE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Serve) validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("--data-dir: must not be empty")
	}
	for _, a := range []struct{ flag, v string }{
		{"--inbound-addr", c.InboundAddr}, {"--outbound-addr", c.OutboundAddr}, {"--http-addr", c.HTTPAddr},
	} {
		if err := checkListenAddr(a.v); err != nil {
			return fmt.Errorf("%s: %v", a.flag, err)
		}
	}
	if c.DebugAddr != "" {
		if err := checkListenAddr(c.DebugAddr); err != nil {
			return fmt.Errorf("--debug-addr: %v", err)
		}
	}
	if c.InboundAddr == c.OutboundAddr && !strings.HasSuffix(c.InboundAddr, ":0") {
		return errors.New("--outbound-addr: must differ from --inbound-addr (producers and consumers use different bootstrap servers)")
	}
	if err := checkHost(c.AdvertisedHost); err != nil {
		return fmt.Errorf("--advertised-host: %v", err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key: give both or neither")
	}
	if (c.HTTPTLSCert == "") != (c.HTTPTLSKey == "") {
		return errors.New("--http-tls-cert and --http-tls-key: give both or neither")
	}
	if c.HTTPTLSCert != "" {
		c.HTTPTLS = true
	}
	if (c.OrgID == "") != (c.OrgKey == "") {
		return errors.New("--org-id and --org-key: give both or neither")
	}
	if c.OrgID != "" && !orgIDRE.MatchString(c.OrgID) {
		return errors.New("--org-id: must be 1 to 64 characters of letters, digits, '-' or '_'")
	}
	if c.OrgKey != "" && !orgKeyRE.MatchString(c.OrgKey) {
		return errors.New("--org-key: must be 16 to 128 characters of letters, digits, '-' or '_'")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	return c.Backend.validate()
}

func (b *Backend) validate() error {
	for _, addr := range b.Brokers {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return fmt.Errorf("--kafka-brokers: %q is not host:port", addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--kafka-brokers: %q has no valid port (1-65535)", addr)
		}
	}
	if b.TLSCAFile != "" {
		b.TLS = true
	}
	if b.SASLMechanism != "" {
		b.SASLMechanism = strings.ToUpper(b.SASLMechanism)
		ok := false
		for _, m := range backendMechanisms {
			ok = ok || m == b.SASLMechanism
		}
		if !ok {
			return fmt.Errorf("--kafka-sasl-mechanism: %q is not one of %s", b.SASLMechanism, strings.Join(backendMechanisms, ", "))
		}
		if b.SASLUsername == "" || b.SASLPassword == "" {
			return errors.New("--kafka-sasl-username and --kafka-sasl-password: both are required with --kafka-sasl-mechanism")
		}
	} else if b.SASLUsername != "" || b.SASLPassword != "" {
		return errors.New("--kafka-sasl-mechanism: required when a backend SASL username or password is given")
	}
	if b.Embedded() && (b.SASLMechanism != "" || b.TLS) {
		return errors.New("--kafka-brokers: backend SASL/TLS options need --kafka-brokers (the embedded log needs none)")
	}
	return nil
}

func checkListenAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not [host]:port", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port (0-65535)", a)
	}
	if host != "" {
		return checkHost(host)
	}
	return nil
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9])?$`)

func checkHost(h string) error {
	if net.ParseIP(h) != nil || hostRE.MatchString(h) && len(h) <= 253 {
		return nil
	}
	return fmt.Errorf("%q is not a host name or IP address", h)
}

// OSEnv is the environment lookup used outside tests.
func OSEnv(k string) (string, bool) { return os.LookupEnv(k) }
