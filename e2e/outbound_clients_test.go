package e2e

// Real consumers through the Kafka Outbound listener, end to end: events
// go in through the Inbound listener, the pipeline enriches and publishes
// them, and the clients people use read them back — the Java console
// consumer with the product doc's exact flags, kcat (librdkafka 2.0.2),
// confluent-kafka, kafka-python 2.0.2, kafkajs 2.2.4, franz-go and sarama —
// each in a consumer group whose committed offsets survive a restart; a
// group of three console consumers shares the nine partitions; the DLQ
// carries the invalid events in the documented shape; a project without
// Kafka Outbound gets neither stream.

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// outboundEvents is how many events each client reads (and then a few more
// after its restart).
const (
	outboundEvents = 300
	afterRestart   = 30
)

func TestOutboundClients(t *testing.T) {
	e := startInboundEnv(t, kafkaCluster(t, 1, false), "127.0.0.1")
	p := e.project(t, "outbound clients")
	e.enableOutbound(t, p)
	first := e.produceEvents(t, p, "purchases", "first", outboundEvents)
	e.waitOutbound(t, p, "purchases", outboundEvents)

	t.Run("console consumer as documented", func(t *testing.T) {
		lines := e.consoleConsumer(t, p, "purchases", nil, outboundEvents)
		checkEnriched(t, lines, first)
	})
	t.Run("kcat", func(t *testing.T) {
		checkEnriched(t, e.kcatConsume(t, p, "purchases", outboundEvents), first)
	})

	// Each group client reads everything, commits and stops; after more
	// events, the same group reads only the new ones.
	clients := map[string]func(t *testing.T, group string, n int) []string{
		"kcat group": func(t *testing.T, group string, n int) []string {
			return e.kcatGroupConsume(t, p, "purchases", group, n)
		},
		"confluent-kafka": func(t *testing.T, group string, n int) []string {
			return e.pythonConsume(t, "confluent", p, "purchases", group, n)
		},
		"kafka-python-2.0.2": func(t *testing.T, group string, n int) []string {
			return e.pythonConsume(t, "kafka-python", p, "purchases", group, n)
		},
		"kafkajs-2.2.4": func(t *testing.T, group string, n int) []string {
			return e.kafkajsConsume(t, p, "purchases", group, n)
		},
		"franz-go": func(t *testing.T, group string, n int) []string {
			return e.franzConsume(t, p, "purchases", group, n)
		},
		"sarama-V2_8_0_0": func(t *testing.T, group string, n int) []string {
			return e.saramaConsume(t, sarama.V2_8_0_0, p, "purchases", group, n)
		},
		"sarama-V4_1_0_0": func(t *testing.T, group string, n int) []string {
			return e.saramaConsume(t, sarama.V4_1_0_0, p, "purchases", group, n)
		},
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range clients {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			checkEnriched(t, clients[name](t, "g-"+name, outboundEvents), first)
		})
	}
	second := e.produceEvents(t, p, "purchases", "second", afterRestart)
	e.waitOutbound(t, p, "purchases", outboundEvents+afterRestart)
	for _, name := range names {
		t.Run(name+" after restart", func(t *testing.T) {
			checkEnriched(t, clients[name](t, "g-"+name, afterRestart), second)
		})
	}

	t.Run("group of three console consumers", func(t *testing.T) { e.testConsoleGroupOfThree(t, p) })
	t.Run("DLQ", func(t *testing.T) { e.testDLQ(t, p) })
	t.Run("outbound disabled", func(t *testing.T) { e.testOutboundDisabled(t) })
	t.Run("refusals", func(t *testing.T) { e.testOutboundRefusals(t, p) })
	t.Run("HTTP events to a sanitized topic", func(t *testing.T) { e.testHTTPEventsOutbound(t, p) })
}

// TestOutboundClients3Brokers: three brokers behind sluice, so partition
// leaders and the group coordinator sit behind different node listeners.
func TestOutboundClients3Brokers(t *testing.T) {
	e := startInboundEnv(t, kafkaCluster(t, 3, false), "localhost")
	p := e.project(t, "outbound 3 brokers")
	e.enableOutbound(t, p)
	markers := e.produceEvents(t, p, "Target-collection-name", "three", outboundEvents)
	e.waitOutbound(t, p, "Target-collection-name", outboundEvents)
	t.Run("console consumer as documented", func(t *testing.T) {
		checkEnriched(t, e.consoleConsumer(t, p, "Target-collection-name", nil, outboundEvents), markers)
	})
	t.Run("kcat group", func(t *testing.T) {
		checkEnriched(t, e.kcatGroupConsume(t, p, "Target-collection-name", "g", outboundEvents), markers)
	})
	t.Run("franz-go", func(t *testing.T) {
		checkEnriched(t, e.franzConsume(t, p, "Target-collection-name", "g2", outboundEvents), markers)
	})
}

// testOutboundRefusals: what real clients see when they try what the
// Outbound listener does not allow.
func (e *inboundEnv) testOutboundRefusals(t *testing.T, p inboundProject) {
	k := kcatBin(t)
	args := []string{"-P", "-b", e.outbound, "-t", "purchases",
		"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + p.ID, "-X", "sasl.password=" + p.Master,
		"-X", "ssl.ca.location=" + e.ca, "-X", "message.timeout.ms=10000"}
	out, err := runClient(t, time.Minute, "{\"a\":1}\n", k, args...)
	if err == nil || !strings.Contains(out, "Topic authorization failed") {
		t.Errorf("kcat producing to the Outbound listener: %v\n%s", err, out)
	}
	// The write key cannot consume.
	args = []string{"-C", "-b", e.outbound, "-t", "purchases", "-o", "beginning", "-e",
		"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + p.ID, "-X", "sasl.password=" + p.Write,
		"-X", "ssl.ca.location=" + e.ca}
	out, err = runClient(t, time.Minute, "", k, args...)
	if err == nil || !strings.Contains(out, "may not consume") {
		t.Errorf("kcat consuming with the write key: %v\n%s", err, out)
	}
}

// --- the sluice side ---

// enableOutbound turns Kafka Outbound on over HTTP, as the Streams page does.
func (e *inboundEnv) enableOutbound(t *testing.T, p inboundProject) {
	t.Helper()
	st, body := httpDo(t, "PUT", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/streams/kafka/outbound", p.Master, `{"enabled":true}`)
	if st != 200 {
		t.Fatalf("enabling outbound: %d %s", st, body)
	}
}

// produceEvents sends n events to collection through the Inbound listener
// with franz-go, every other one with a key, and returns their markers.
func (e *inboundEnv) produceEvents(t *testing.T, p inboundProject, collection, tag string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var markers []string
	var recs []*kgo.Record
	for i := range n {
		m := fmt.Sprintf("%s-%d", tag, i)
		markers = append(markers, m)
		r := &kgo.Record{Topic: collection, Value: fmt.Appendf(nil, `{"marker":%q,"n":%d,"nested":{"tag":%q}}`, m, i, tag)}
		if i%2 == 0 {
			r.Key = fmt.Appendf(nil, "key-%d", i%7)
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	return markers
}

// waitOutbound waits until the backend outbound topic holds at least n
// committed records (transaction markers take offsets too, so the records
// are counted, not the offsets).
func (e *inboundEnv) waitOutbound(t *testing.T, p inboundProject, collection string, n int) {
	t.Helper()
	topic := tenancy.BackendOutboundTopic(p.ID, tenancy.OutboundTopicName(collection))
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.Bootstrap...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := 0
	for got < n && ctx.Err() == nil {
		got += len(cl.PollFetches(ctx).Records())
	}
	if got < n {
		t.Fatalf("the outbound topic of %s holds %d committed records, want %d", collection, got, n)
	}
}

// checkEnriched compares what a consumer printed with the markers sent:
// each exactly once, each a stored Keen event with its keen object.
func checkEnriched(t *testing.T, lines, markers []string) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		var ev struct {
			Marker string `json:"marker"`
			Keen   struct {
				ID        string `json:"id"`
				Timestamp string `json:"timestamp"`
				CreatedAt string `json:"created_at"`
			} `json:"keen"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", l)
		}
		if ev.Keen.ID == "" || ev.Keen.Timestamp == "" || ev.Keen.CreatedAt == "" {
			t.Fatalf("event without its keen object: %s", l)
		}
		seen[ev.Marker]++
	}
	for _, m := range markers {
		if seen[m] != 1 {
			t.Errorf("event %s read %d times", m, seen[m])
		}
		delete(seen, m)
	}
	if len(seen) > 0 {
		t.Errorf("%d unexpected events, e.g. %v", len(seen), slices.Collect(func(yield func(string) bool) {
			for m := range seen {
				yield(m)
				return
			}
		}))
	}
}

// --- the clients ---

// consoleConsumer runs Kafka's own console consumer with the product doc's
// flags verbatim plus the bootstrap and the truststore (and extra), until it
// has printed n lines.
func (e *inboundEnv) consoleConsumer(t *testing.T, p inboundProject, topic string, extra []string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return untilLines(t, ctx, e.consoleConsumerCmd(ctx, p, topic, extra), n)
}

func (e *inboundEnv) consoleConsumerCmd(ctx context.Context, p inboundProject, topic string, extra []string) *exec.Cmd {
	args := append([]string{
		"--bootstrap-server", e.outbound,
		"--topic", topic,
		"--consumer-property", "security.protocol=SASL_SSL",
		"--consumer-property", "sasl.mechanism=PLAIN",
		"--consumer-property", `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="` + p.ID + `" password="` + p.Read + `";`,
		"--from-beginning",
		"--consumer-property", "ssl.truststore.type=PEM",
		"--consumer-property", "ssl.truststore.location=" + e.ca,
	}, extra...)
	return e.cluster.Tool(ctx, "org.apache.kafka.tools.consumer.ConsoleConsumer", args...)
}

// untilLines runs cmd until it has printed n lines on stdout, then stops it
// (the console consumer runs until told to).
func untilLines(t *testing.T, ctx context.Context, cmd *exec.Cmd, n int) []string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := newLineLog(out)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for ctx.Err() == nil && len(lines.all()) < n {
		time.Sleep(100 * time.Millisecond)
	}
	got := lines.all()
	if len(got) < n {
		t.Fatalf("%d of %d lines; stderr:\n%s", len(got), n, headLines(stderr.String(), 40))
	}
	return got
}

func (e *inboundEnv) kcatConsumeArgs(p inboundProject) []string {
	return []string{"-b", e.outbound,
		"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + p.ID, "-X", "sasl.password=" + p.Read,
		"-X", "ssl.ca.location=" + e.ca, "-f", "%s\n", "-q"}
}

// kcatConsume reads a topic from the beginning to its end, without a group.
func (e *inboundEnv) kcatConsume(t *testing.T, p inboundProject, topic string, n int) []string {
	t.Helper()
	args := append([]string{"-C", "-t", topic, "-o", "beginning", "-e"}, e.kcatConsumeArgs(p)...)
	out, err := runStdout(t, time.Minute, kcatBin(t), args...)
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	return nonEmptyLines(out)
}

// kcatGroupConsume reads n records as a member of group (kcat -G), which
// commits what it read when it stops.
func (e *inboundEnv) kcatGroupConsume(t *testing.T, p inboundProject, topic, group string, n int) []string {
	t.Helper()
	args := append([]string{"-G", group, "-c", fmt.Sprint(n), "-X", "auto.offset.reset=earliest"}, e.kcatConsumeArgs(p)...)
	args = append(args, topic)
	out, err := runStdout(t, 2*time.Minute, kcatBin(t), args...)
	if err != nil {
		t.Fatalf("kcat -G: %v\n%s", err, out)
	}
	return nonEmptyLines(out)
}

func (e *inboundEnv) pythonConsume(t *testing.T, lib string, p inboundProject, topic, group string, n int) []string {
	t.Helper()
	out, err := runStdout(t, 2*time.Minute, clientsPython(t), filepath.Join(clientsDir(t, "python"), "consume.py"),
		"--lib", lib, "--bootstrap", e.outbound, "--ca", e.ca, "--user", p.ID, "--password", p.Read,
		"--topic", topic, "--group", group, "--count", fmt.Sprint(n))
	if err != nil {
		t.Fatalf("%s: %v\n%s", lib, err, out)
	}
	return nonEmptyLines(out)
}

func (e *inboundEnv) kafkajsConsume(t *testing.T, p inboundProject, topic, group string, n int) []string {
	t.Helper()
	out, err := runStdout(t, 2*time.Minute, "node", filepath.Join(clientsDir(t, "node"), "consume.js"),
		"--bootstrap", e.outbound, "--ca", e.ca, "--user", p.ID, "--password", p.Read,
		"--topic", topic, "--group", group, "--count", fmt.Sprint(n))
	if err != nil {
		t.Fatalf("kafkajs: %v\n%s", err, out)
	}
	return nonEmptyLines(out)
}

func (e *inboundEnv) franzConsume(t *testing.T, p inboundProject, topic, group string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.outbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Read}.AsMechanism()),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var lines []string
	for len(lines) < n && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, n-len(lines))
		for _, r := range fs.Records() {
			lines = append(lines, string(r.Value))
		}
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	return lines
}

func (e *inboundEnv) saramaConsume(t *testing.T, v sarama.KafkaVersion, p inboundProject, topic, group string, n int) []string {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, e.tlsConfig(t)
	cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism = true, sarama.SASLTypePlaintext
	cfg.Net.SASL.User, cfg.Net.SASL.Password = p.ID, p.Read
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cg, err := sarama.NewConsumerGroup([]string{e.outbound}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := &saramaHandler{want: n, done: cancel}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
			t.Fatalf("sarama: %v", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lines
}

// saramaHandler collects values until it has want of them, marking and
// committing each.
type saramaHandler struct {
	want int
	done func()

	mu    sync.Mutex
	lines []string
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		if len(h.lines) >= h.want {
			h.mu.Unlock()
			return nil
		}
		h.lines = append(h.lines, string(m.Value))
		s.MarkMessage(m, "")
		full := len(h.lines) >= h.want
		h.mu.Unlock()
		if full {
			s.Commit()
			h.done()
			return nil
		}
	}
	return nil
}

// testConsoleGroupOfThree: three console consumers in one group share the
// nine partitions; together they read every event exactly once.
func (e *inboundEnv) testConsoleGroupOfThree(t *testing.T, p inboundProject) {
	first := e.produceEvents(t, p, "trio", "trio-first", 1) // creates the topics
	e.waitOutbound(t, p, "trio", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var logs []*lineLog
	for range 3 {
		cmd := e.consoleConsumerCmd(ctx, p, "trio", []string{"--group", "trio"})
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		logs = append(logs, newLineLog(out))
	}
	e.waitGroupMembers(t, ctx, tenancy.BackendGroup(p.ID, "trio"), 3)
	rest := e.produceEvents(t, p, "trio", "trio", 89)
	want := append(first, rest...)
	total := func() int {
		n := 0
		for _, l := range logs {
			n += len(l.all())
		}
		return n
	}
	for ctx.Err() == nil && total() < len(want) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // duplicates, if any, would arrive now
	var all []string
	for i, l := range logs {
		got := l.all()
		if len(got) == 0 {
			t.Errorf("consumer %d read nothing: the group did not share the partitions", i)
		}
		all = append(all, got...)
	}
	checkEnriched(t, all, want)
}

// waitGroupMembers waits until a backend group is stable with n members.
func (e *inboundEnv) waitGroupMembers(t *testing.T, ctx context.Context, group string, n int) {
	t.Helper()
	for ctx.Err() == nil {
		d, err := e.admin.DescribeGroups(ctx, group)
		if err == nil && d[group].State == "Stable" && len(d[group].Members) == n {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("group %s never had %d stable members", group, n)
}

// testDLQ: invalid events reach <topic>-dlq as {"event", "error"}, the
// event being the original payload as a string.
func (e *inboundEnv) testDLQ(t *testing.T, p inboundProject) {
	invalid := []string{`{"broken": `, `[1, 2, 3]`, `"just a string"`, `{"keen": {"timestamp": "not a time"}}`}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, v := range invalid {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "purchases", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	e.waitOutbound(t, p, "purchases-dlq", len(invalid))
	lines := e.kcatConsume(t, p, "purchases-dlq", len(invalid))
	var events []string
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("DLQ record is not JSON: %q", l)
		}
		ev, ok1 := m["event"].(string)
		msg, ok2 := m["error"].(string)
		if len(m) != 2 || !ok1 || !ok2 || msg == "" {
			t.Fatalf("DLQ record %s: want exactly a string event and a string error", l)
		}
		events = append(events, ev)
	}
	slices.Sort(events)
	want := slices.Clone(invalid)
	slices.Sort(want)
	if !slices.Equal(events, want) {
		t.Fatalf("DLQ events %q, want %q", events, want)
	}
}

// testOutboundDisabled: a project without Kafka Outbound stores its valid
// events, and gets no outbound stream and no DLQ.
func (e *inboundEnv) testOutboundDisabled(t *testing.T) {
	q := e.project(t, "no outbound")
	e.produceEvents(t, q, "purchases", "q", 20)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: q.ID, Pass: q.Write}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "purchases", Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.waitCount(t, q, "purchases", 20)
	topics, err := e.admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, tenancy.BackendOutboundTopic(q.ID, "")) {
			t.Errorf("outbound disabled, yet backend topic %s exists", name)
		}
	}
}

// waitCount waits until the query API counts n events in collection.
func (e *inboundEnv) waitCount(t *testing.T, p inboundProject, collection string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, body := httpDo(t, "GET", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/queries/count?event_collection="+collection, p.Master, "")
		var r struct {
			Result int `json:"result"`
		}
		if st == 200 && json.Unmarshal([]byte(body), &r) == nil && r.Result == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("count of %s: %d %s, want %d", collection, st, body, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// runStdout runs a client and returns its stdout (stderr only on failure).
func runStdout(t *testing.T, d time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err != nil {
		return stdout.String() + "\n--- stderr ---\n" + headLines(stderr.String(), 40), err
	}
	return stdout.String(), nil
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// testHTTPEventsOutbound: events recorded over HTTP to a collection whose
// name is no Kafka topic name stream out on the sanitized topic, the
// invalid one on its DLQ, and all valid ones are counted.
func (e *inboundEnv) testHTTPEventsOutbound(t *testing.T, p inboundProject) {
	const collection = "$my collection$ %"
	body := `{"$my collection$ %": [{"marker":"http-0"},{"marker":"http-1"},{"bad.name":1},{"marker":"http-2"}]}`
	st, resp := httpDo(t, "POST", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/events", p.Write, body)
	if st != 200 {
		t.Fatalf("batch: %d %s", st, resp)
	}
	single := "/3.0/projects/" + p.ID + "/events/%24my%20collection%24%20%25"
	if st, resp := httpDo(t, "POST", e.sluice.HTTP+single, p.Write, `{"marker":"http-3"}`); st != 201 {
		t.Fatalf("single: %d %s", st, resp)
	}
	e.waitOutbound(t, p, collection, 4)
	checkEnriched(t, e.kcatConsume(t, p, "_my_collection___", 4), []string{"http-0", "http-1", "http-2", "http-3"})
	e.waitOutbound(t, p, collection+"-dlq", 1)
	dlq := e.kcatConsume(t, p, "_my_collection___-dlq", 1)
	var d struct{ Event, Error string }
	if len(dlq) != 1 || json.Unmarshal([]byte(dlq[0]), &d) != nil || d.Event != `{"bad.name":1}` || d.Error == "" {
		t.Fatalf("DLQ of the sanitized topic: %q", dlq)
	}
	st, resp = httpDo(t, "GET", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/queries/count?event_collection=%24my%20collection%24%20%25", p.Master, "")
	if st != 200 || !strings.Contains(resp, `"result":4`) {
		t.Fatalf("count of %q: %d %s", collection, st, resp)
	}
}
