package e2e

// Real producers through the Kafka Inbound listener: the sluice binary in
// front of Apache Kafka, and the clients people actually use — the Java
// console producer with the product doc's exact flags, kcat (Debian's
// librdkafka 2.0.2), confluent-kafka (PyPI), kafka-python 2.0.2 (SaslHandshake
// v0), kafkajs 2.2.4, franz-go and sarama — each checked record by record in
// the project's raw backend topic, with the compression codec the producer
// chose still on the stored batch.
//
// The external clients come from scripts/install-clients.sh (see there for
// where they go and the variables that override them). A missing client
// fails the test: CI runs the install first, and a silently skipped client
// matrix proves nothing.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kafkatest"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Events per client and codec (the console producer sends 1,000).
const clientEvents = 200

// The codecs every client is asked for, and their record-batch attribute.
var allCodecs = []string{"gzip", "snappy", "lz4", "zstd"}

var codecAttr = map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// TestInboundClients: one broker, one sluice, every client and refusal.
func TestInboundClients(t *testing.T) {
	e := startInboundEnv(t, kafkaCluster(t, 1, false), "127.0.0.1")

	t.Run("kcat", func(t *testing.T) { e.testKcat(t) })
	t.Run("confluent-kafka", func(t *testing.T) { e.testPython(t, "confluent") })
	t.Run("kafka-python-2.0.2", func(t *testing.T) { e.testPython(t, "kafka-python") })
	t.Run("kafkajs-2.2.4", func(t *testing.T) { e.testKafkajs(t) })
	t.Run("franz-go", func(t *testing.T) { e.testFranz(t) })
	t.Run("sarama-V2_8_0_0", func(t *testing.T) { e.testSarama(t, sarama.V2_8_0_0) })
	t.Run("sarama-V4_1_0_0", func(t *testing.T) { e.testSarama(t, sarama.V4_1_0_0) })
	t.Run("two projects purchases", func(t *testing.T) { e.testTwoProjects(t) })
	t.Run("refusals", func(t *testing.T) {
		t.Run("console producer wrong key", func(t *testing.T) { e.testConsoleWrongKey(t) })
		t.Run("kcat invalid topic", func(t *testing.T) { e.testKcatInvalidTopic(t) })
		t.Run("kcat plaintext", func(t *testing.T) { e.testKcatPlaintext(t) })
		t.Run("kcat SCRAM-SHA-256", func(t *testing.T) { e.testKcatScram(t) })
	})
}

// TestInboundClients3Brokers: three brokers behind sluice, so partition
// leaders are spread over the per-node listeners; advertised as localhost.
func TestInboundClients3Brokers(t *testing.T) {
	e := startInboundEnv(t, kafkaCluster(t, 3, false), "localhost")

	t.Run("console producer as documented", func(t *testing.T) { e.testConsoleSeed(t) })
	t.Run("franz-go", func(t *testing.T) { e.testFranz(t) })
	t.Run("kcat", func(t *testing.T) { e.testKcat(t) })
}

// --- environment ---

// inboundEnv is one sluice process on a real cluster, shared by subtests.
type inboundEnv struct {
	cluster  *kafkatest.Cluster
	sluice   *proc
	inbound  string // the Inbound bootstrap as clients dial it
	outbound string // the Outbound bootstrap
	ca       string // <data-dir>/tls/ca.pem
	orgID    string
	orgKey   string
	admin    *kadm.Client
}

type inboundProject struct {
	ID, Write    string // the project id and its write key
	Read, Master string
}

func startInboundEnv(t *testing.T, c *kafkatest.Cluster, host string) *inboundEnv {
	t.Helper()
	e := &inboundEnv{cluster: c, orgID: inboundRandomHex(12), orgKey: "org-key-" + inboundRandomHex(16)}
	dir := t.TempDir()
	// Port 0 everywhere: the kernel picks free ports for the bootstrap and
	// per-node listeners, and the start-up output says which.
	e.sluice = startSluice(t, dir, "serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","),
		"--org-id", e.orgID, "--org-key", e.orgKey,
		"--http-addr", "127.0.0.1:0", "--inbound-addr", "127.0.0.1:0", "--outbound-addr", "127.0.0.1:0",
		"--advertised-host", host)
	line, ok := e.sluice.stdout.wait("Kafka Inbound:", time.Second)
	if !ok {
		t.Fatalf("no Kafka Inbound line in:\n%s", e.sluice.stdout)
	}
	e.inbound = strings.Fields(strings.TrimPrefix(line, "Kafka Inbound:"))[0]
	line, ok = e.sluice.stdout.wait("Kafka Outbound:", time.Second)
	if !ok {
		t.Fatalf("no Kafka Outbound line in:\n%s", e.sluice.stdout)
	}
	e.outbound = strings.Fields(strings.TrimPrefix(line, "Kafka Outbound:"))[0]
	if !strings.HasPrefix(e.inbound, host+":") {
		t.Fatalf("Inbound announced as %q, want host %s", e.inbound, host)
	}
	e.ca = filepath.Join(dir, "data", "tls", "ca.pem")
	if _, err := os.Stat(e.ca); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e.admin = kadm.NewClient(cl)
	t.Logf("sluice Inbound at %s on %d broker(s)", e.inbound, len(c.Bootstrap))
	return e
}

func inboundRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// project creates a fresh project over HTTP.
func (e *inboundEnv) project(t *testing.T, name string) inboundProject {
	t.Helper()
	p := createProject(t, e.sluice.HTTP, e.orgID, e.orgKey, name)
	return inboundProject{ID: p.ID, Write: p.APIKeys["write"], Read: p.APIKeys["read"], Master: p.APIKeys["master"]}
}

func (e *inboundEnv) tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(e.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", e.ca)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// --- the backend side ---

// records reads every record of a backend topic; nil if it does not exist.
func (e *inboundEnv) records(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topics, err := e.admin.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics[topic]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return nil
	} else if d.Err != nil {
		t.Fatalf("describing %s: %v", topic, d.Err)
	}
	end, err := e.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	end.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s[%d]: %v", o.Topic, o.Partition, o.Err)
		}
		total += o.Offset
	})
	if total == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Bootstrap...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d records", topic, len(out), total)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetching %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// snapshot sums the end offsets of every backend topic, internal included.
func (e *inboundEnv) snapshot(t *testing.T) map[string]int64 {
	t.Helper()
	var last error
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := e.trySnapshot(ctx)
		cancel()
		if err == nil {
			return out
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("listing backend end offsets: %v", last)
	return nil
}

func (e *inboundEnv) trySnapshot(ctx context.Context) (map[string]int64, error) {
	topics, err := e.admin.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, err
	}
	if err := topics.Error(); err != nil {
		return nil, err
	}
	ends, err := e.admin.ListEndOffsets(ctx, topics.Names()...)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, name := range topics.Names() {
		out[name] = 0
	}
	var perr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			perr = fmt.Errorf("%s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
		out[o.Topic] += o.Offset
	})
	return out, perr
}

// nowhereElse fails unless, between before and after, the only backend
// topics created or written are raw, sluice.registry and Kafka's own __*.
func nowhereElse(t *testing.T, before, after map[string]int64, raw string) {
	t.Helper()
	for name, n := range after {
		if name == raw || name == "sluice.registry" || strings.HasPrefix(name, "__") {
			continue
		}
		if b, ok := before[name]; !ok {
			t.Errorf("backend topic %s (%d records) appeared", name, n)
		} else if n != b {
			t.Errorf("backend topic %s received %d records", name, n-b)
		}
	}
}

// noTopicsOf fails if any backend topic names the project.
func (e *inboundEnv) noTopicsOf(t *testing.T, pid string) {
	t.Helper()
	for name, n := range e.snapshot(t) {
		if strings.Contains(name, pid) {
			t.Errorf("backend topic %s (%d records) exists for a refused producer", name, n)
		}
	}
}

// --- events ---

// clientEventLines are n distinct JSON events tagged with client and
// codec; the padding makes batches compressible, so no client has a reason
// to fall back to sending them uncompressed.
func clientEventLines(client, codec string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"client":%q,"codec":%q,"seq":%d,"item":"golden widget №%d","price":%d.5,"tags":["é","✓"],"note":%q}`,
			client, codec, i, i, i%100, strings.Repeat("lorem ipsum dolor ", 4))
	}
	return out
}

// writeClientEvents writes lines for each codec to dir/<codec>.jsonl and
// returns them by codec.
func writeClientEvents(t *testing.T, dir, client string, codecs []string, n int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range codecs {
		out[c] = clientEventLines(client, c, n)
		if err := os.WriteFile(filepath.Join(dir, c+".jsonl"), []byte(strings.Join(out[c], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkRawByCodec compares the raw topic's records with want, codec by codec:
// exactly the values sent, each in a batch compressed with its codec.
func checkRawByCodec(t *testing.T, recs []*kgo.Record, want map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	wrongAttr := map[string]int{}
	for _, r := range recs {
		var ev struct{ Codec string }
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Errorf("record %s[%d]@%d is not the JSON sent: %q", r.Topic, r.Partition, r.Offset, r.Value)
			continue
		}
		got[ev.Codec] = append(got[ev.Codec], string(r.Value))
		if a, ok := codecAttr[ev.Codec]; !ok || a != r.Attrs.CompressionType() {
			wrongAttr[fmt.Sprintf("%s stored as codec %d", ev.Codec, r.Attrs.CompressionType())]++
		}
	}
	for codec, lines := range want {
		g := slices.Clone(got[codec])
		w := slices.Clone(lines)
		slices.Sort(g)
		slices.Sort(w)
		if len(g) != len(w) {
			t.Errorf("%s: %d records in the raw topic, want %d", codec, len(g), len(w))
		} else if !slices.Equal(g, w) {
			t.Errorf("%s: the raw topic's values differ from those sent", codec)
		} else {
			t.Logf("%s: %d records, values identical", codec, len(g))
		}
	}
	for codec := range got {
		if _, ok := want[codec]; !ok {
			t.Errorf("unexpected records tagged codec %q: %d", codec, len(got[codec]))
		}
	}
	for what, n := range wrongAttr {
		t.Errorf("%d records: %s (the batch was not compressed as the producer was told)", n, what)
	}
}

// --- running external clients ---

// runClient runs a client with stdin and a deadline, and returns its
// combined output.
func runClient(t *testing.T, d time.Duration, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	return runClientCmd(ctx, cmd, stdin)
}

func runClientCmd(ctx context.Context, cmd *exec.Cmd, stdin string) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = strings.NewReader(stdin)
	if cmd.Cancel == nil {
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	}
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out: %w", ctx.Err())
	}
	return out.String(), err
}

func kcatBin(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("KCAT"); k != "" {
		return k
	}
	k, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat not found: run scripts/install-clients.sh (or set KCAT)")
	}
	return k
}

func clientsPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("SLUICE_CLIENTS_PYTHON")
	if py == "" {
		cache := os.Getenv("SLUICE_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "sluice")
		}
		py = filepath.Join(cache, "venv", "bin", "python")
	}
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("Python clients not installed (%v): run scripts/install-clients.sh (or set SLUICE_CLIENTS_PYTHON)", err)
	}
	return py
}

func clientsDir(t *testing.T, sub string) string {
	t.Helper()
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "e2e", "clients", sub)
}

// kcatArgs are the documented librdkafka settings (docs/contract.md §2, and
// the README's kcat example) for producing to topic as pid with key.
func (e *inboundEnv) kcatArgs(topic, pid, key string, extra ...string) []string {
	return append([]string{"-P", "-b", e.inbound, "-t", topic,
		"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + pid, "-X", "sasl.password=" + key,
		"-X", "ssl.ca.location=" + e.ca, "-X", "acks=all"}, extra...)
}

// consoleProducer runs Kafka's own console producer with the product doc's
// flags verbatim, plus the bootstrap and the truststore only.
func (e *inboundEnv) consoleProducer(t *testing.T, topic, pid, key, stdin string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.cluster.Tool(ctx, "org.apache.kafka.tools.ConsoleProducer",
		"--bootstrap-server", e.inbound,
		"--topic", topic,
		"--producer-property", "security.protocol=SASL_SSL",
		"--producer-property", "sasl.mechanism=PLAIN",
		"--producer-property", `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="`+pid+`" password="`+key+`";`,
		"--producer-property", "ssl.truststore.type=PEM",
		"--producer-property", "ssl.truststore.location="+e.ca,
	)
	return runClientCmd(ctx, cmd, stdin)
}

// --- the clients ---

func (e *inboundEnv) testKcat(t *testing.T) {
	k := kcatBin(t)
	p := e.project(t, "kcat")
	dir := t.TempDir()
	want := writeClientEvents(t, dir, "kcat", allCodecs, clientEvents)
	for _, codec := range allCodecs {
		out, err := runClient(t, time.Minute, strings.Join(want[codec], "\n")+"\n", k,
			e.kcatArgs("kcat", p.ID, p.Write, "-z", codec, "-X", "message.timeout.ms=30000")...)
		if err != nil {
			t.Fatalf("kcat -z %s: %v\n%s", codec, err, out)
		}
	}
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(p.ID, "", "kcat")), want)
}

func (e *inboundEnv) testPython(t *testing.T, lib string) {
	py := clientsPython(t)
	p := e.project(t, lib)
	dir := t.TempDir()
	want := writeClientEvents(t, dir, lib, allCodecs, clientEvents)
	out, err := runClient(t, 3*time.Minute, "", py, filepath.Join(clientsDir(t, "python"), "produce.py"),
		"--lib", lib, "--bootstrap", e.inbound, "--ca", e.ca, "--user", p.ID, "--password", p.Write,
		"--topic", "events", "--dir", dir, "--codecs", strings.Join(allCodecs, ","))
	if err != nil {
		t.Fatalf("%s: %v\n%s", lib, err, out)
	}
	t.Logf("%s:\n%s", lib, strings.TrimSpace(out))
	if lib == "kafka-python" {
		// The legacy flow: SaslHandshake v0, then the PLAIN token unframed.
		for _, want := range []string{"SaslHandShakeRequest_v0", "ApiVersionRequest_v0"} {
			if !strings.Contains(out, want) {
				t.Errorf("kafka-python did not send %s", want)
			}
		}
	}
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(p.ID, "", "events")), want)
}

func (e *inboundEnv) testKafkajs(t *testing.T) {
	dir := clientsDir(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err != nil {
		t.Fatalf("kafkajs not installed (%v): run scripts/install-clients.sh", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: Node.js is needed for kafkajs")
	}
	p := e.project(t, "kafkajs")
	data := t.TempDir()
	// kafkajs has only gzip built in; snappy, lz4 and zstd need codec
	// packages registered by the application.
	codecs := []string{"gzip"}
	want := writeClientEvents(t, data, "kafkajs", codecs, clientEvents)
	out, err := runClient(t, 2*time.Minute, "", node, filepath.Join(dir, "produce.js"),
		"--bootstrap", e.inbound, "--ca", e.ca, "--user", p.ID, "--password", p.Write,
		"--topic", "events", "--dir", data, "--codecs", strings.Join(codecs, ","))
	if err != nil {
		t.Fatalf("kafkajs: %v\n%s", err, out)
	}
	t.Logf("kafkajs:\n%s", strings.TrimSpace(out))
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(p.ID, "", "events")), want)
}

func (e *inboundEnv) testFranz(t *testing.T) {
	p := e.project(t, "franz-go")
	want := map[string][]string{}
	codecs := map[string]kgo.CompressionCodec{"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	for _, codec := range allCodecs {
		want[codec] = clientEventLines("franz-go", codec, clientEvents)
		// Idempotent (the default), acks=all.
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
			kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()),
			kgo.ProducerBatchCompression(codecs[codec]), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordDeliveryTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var recs []*kgo.Record
		for _, v := range want[codec] {
			recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(v)})
		}
		err = cl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		cl.Close()
		if err != nil {
			t.Fatalf("franz-go %s: %v", codec, err)
		}
	}
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(p.ID, "", "events")), want)
}

func (e *inboundEnv) testSarama(t *testing.T, v sarama.KafkaVersion) {
	p := e.project(t, "sarama")
	want := map[string][]string{}
	codecs := map[string]sarama.CompressionCodec{"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	for _, codec := range allCodecs {
		want[codec] = clientEventLines("sarama", codec, clientEvents)
		cfg := sarama.NewConfig()
		cfg.ClientID = "sluice-e2e-sarama"
		cfg.Version = v
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = e.tlsConfig(t)
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		cfg.Net.SASL.User, cfg.Net.SASL.Password = p.ID, p.Write
		cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = 10*time.Second, 30*time.Second, 30*time.Second
		cfg.Metadata.Retry.Max = 3
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Producer.Return.Successes = true
		cfg.Producer.Compression = codecs[codec]
		cfg.Producer.Retry.Max = 3
		cfg.Producer.Timeout = 30 * time.Second
		prod, err := sarama.NewSyncProducer([]string{e.inbound}, cfg)
		if err != nil {
			t.Fatalf("sarama %s: %v", codec, err)
		}
		var msgs []*sarama.ProducerMessage
		for _, v := range want[codec] {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "events", Value: sarama.StringEncoder(v)})
		}
		done := make(chan error, 1)
		go func() { done <- prod.SendMessages(msgs) }()
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("sarama %s: SendMessages hangs", codec)
		}
		_ = prod.Close()
		if err != nil {
			t.Fatalf("sarama %s: %v", codec, err)
		}
	}
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(p.ID, "", "events")), want)
}

// testTwoProjects: two projects both produce to purchases; each project's
// events land in its own raw topic, and only there.
func (e *inboundEnv) testTwoProjects(t *testing.T) {
	k := kcatBin(t)
	a, b := e.project(t, "Staging"), e.project(t, "Production")
	wantA := clientEventLines("staging", "none", 150)
	wantB := clientEventLines("production", "none", 250)
	for _, c := range []struct {
		p    inboundProject
		want []string
	}{{a, wantA}, {b, wantB}} {
		out, err := runClient(t, time.Minute, strings.Join(c.want, "\n")+"\n", k,
			e.kcatArgs("purchases", c.p.ID, c.p.Write, "-X", "message.timeout.ms=30000")...)
		if err != nil {
			t.Fatalf("kcat as %s: %v\n%s", c.p.ID, err, out)
		}
	}
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(a.ID, "", "purchases")), map[string][]string{"none": wantA})
	checkRawByCodec(t, e.records(t, tenancy.RawTopic(b.ID, "", "purchases")), map[string][]string{"none": wantB})
}

// testConsoleSeed runs the product doc's console-producer command, changed
// only in the bootstrap and the truststore, with 1,000 JSON lines.
func (e *inboundEnv) testConsoleSeed(t *testing.T) {
	p := e.project(t, "console")
	const topic = "Target-collection-name"
	raw := tenancy.RawTopic(p.ID, "", topic)
	want := clientEventLines("console-producer", "none", 1000)
	before := e.snapshot(t)
	start := time.Now()
	out, err := e.consoleProducer(t, topic, p.ID, p.Write, strings.Join(want, "\n")+"\n")
	if err != nil {
		t.Fatalf("console producer: %v\n%s", err, out)
	}
	t.Logf("console producer sent 1,000 lines in %s", time.Since(start).Round(time.Millisecond))
	if strings.TrimSpace(out) != "" {
		t.Logf("console producer output:\n%s", out)
	}
	checkRawByCodec(t, e.records(t, raw), map[string][]string{"none": want})
	nowhereElse(t, before, e.snapshot(t), raw)
}

// --- refusals real clients see ---

func (e *inboundEnv) testConsoleWrongKey(t *testing.T) {
	p := e.project(t, "wrong key")
	lines := strings.Join(clientEventLines("console-producer", "none", 3), "\n") + "\n"
	out, err := e.consoleProducer(t, "purchases", p.ID, "not-a-key-of-this-project", lines)
	if !strings.Contains(out, "SaslAuthenticationException") {
		t.Fatalf("console producer with a wrong key: no SaslAuthenticationException (err %v):\n%s", err, out)
	}
	t.Logf("console producer with a wrong key (exit: %v):\n%s", err, headLines(linesContaining(out, "SaslAuthenticationException"), 2))
	if n := e.metric(t, `sluice_kafka_auth_failures_total{listener="inbound",project="`+p.ID+`"}`); n < 1 {
		t.Errorf("sluice counted %v authentication failures for the project", n)
	}
	e.noTopicsOf(t, p.ID)
}

func (e *inboundEnv) testKcatInvalidTopic(t *testing.T) {
	k := kcatBin(t)
	p := e.project(t, "invalid topics")
	for _, topic := range []string{"bad$name", "x-dlq"} {
		out, err := runClient(t, time.Minute, `{"a":1}`+"\n", k,
			e.kcatArgs(topic, p.ID, p.Write, "-X", "message.timeout.ms=10000")...)
		if err == nil || !strings.Contains(out, "Invalid topic") {
			t.Errorf("kcat to %q: want a failure naming an invalid topic, got err %v:\n%s", topic, err, out)
		} else {
			t.Logf("kcat to %q: %v: %s", topic, err, headLines(out, 3))
		}
	}
	e.noTopicsOf(t, p.ID)
}

func (e *inboundEnv) testKcatPlaintext(t *testing.T) {
	k := kcatBin(t)
	p := e.project(t, "plaintext")
	before := e.metric(t, `sluice_kafka_refusals_total{listener="inbound",project="",reason="tls_handshake"}`)
	args := e.kcatArgs("purchases", p.ID, p.Write, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "message.timeout.ms=10000")
	out, err := runClient(t, time.Minute, `{"a":1}`+"\n", k, args...)
	// librdkafka: "Disconnected while requesting ApiVersion: might be caused
	// by incorrect security.protocol configuration (connecting to a SSL
	// listener?)", then "All broker connections are down", and kcat exits.
	if err == nil || !strings.Contains(out, "Disconnected while requesting ApiVersion") {
		t.Fatalf("kcat over plaintext: want the connection refused, got err %v:\n%s", err, out)
	}
	t.Logf("kcat over plaintext: %v: %s", err, headLines(out, 3))
	if after := e.metric(t, `sluice_kafka_refusals_total{listener="inbound",project="",reason="tls_handshake"}`); after <= before {
		t.Errorf("sluice counted no TLS handshake refusal (%v before, %v after)", before, after)
	}
	e.noTopicsOf(t, p.ID)
}

func (e *inboundEnv) testKcatScram(t *testing.T) {
	k := kcatBin(t)
	p := e.project(t, "scram")
	before := e.metric(t, `sluice_kafka_refusals_total{listener="inbound",project="",reason="sasl_mechanism"}`)
	args := e.kcatArgs("purchases", p.ID, p.Write, "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "message.timeout.ms=10000")
	out, err := runClient(t, time.Minute, `{"a":1}`+"\n", k, args...)
	// librdkafka: "SASL SCRAM-SHA-256 mechanism handshake failed: Broker:
	// Unsupported SASL mechanism: broker's supported mechanisms: PLAIN".
	if err == nil || !strings.Contains(out, "Unsupported SASL mechanism") || !strings.Contains(out, "PLAIN") {
		t.Fatalf("kcat with SCRAM-SHA-256: want an authentication failure, got err %v:\n%s", err, out)
	}
	t.Logf("kcat with SCRAM-SHA-256: %v: %s", err, headLines(out, 3))
	if after := e.metric(t, `sluice_kafka_refusals_total{listener="inbound",project="",reason="sasl_mechanism"}`); after <= before {
		t.Errorf("sluice counted no SASL mechanism refusal (%v before, %v after)", before, after)
	}
	e.noTopicsOf(t, p.ID)
}

// metric returns the value of one series of sluice's /metrics (0 if absent).
func (e *inboundEnv) metric(t *testing.T, series string) float64 {
	t.Helper()
	st, body := httpDo(t, "GET", e.sluice.HTTP+"/metrics", "", "")
	if st != 200 {
		t.Fatalf("GET /metrics: %d", st)
	}
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

func linesContaining(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func headLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
