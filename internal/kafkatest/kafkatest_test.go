package kafkatest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// One single-node cluster with SASL serves the plaintext and the SASL tests:
// each cluster start costs seconds of the two cores.
func TestSingleBroker(t *testing.T) {
	c := StartForTest(t, Options{Brokers: 1, SASL: true})
	if len(c.Bootstrap) != 1 || len(c.SASLBootstrap) != 1 || c.CAFile == "" {
		t.Fatalf("cluster = %+v", c)
	}

	t.Run("ProduceConsume", func(t *testing.T) {
		ctx := testContext(t)
		cl := newClient(t, kgo.SeedBrokers(c.Bootstrap...))
		createTopic(ctx, t, cl, "plain", 2, 1)
		produce(ctx, t, cl, "plain", "hello")
		if got := consume(ctx, t, c.Bootstrap, "plain", "", nil); got != "hello" {
			t.Fatalf("consumed %q, want hello", got)
		}
	})

	t.Run("AutoCreateDisabled", func(t *testing.T) {
		ctx := testContext(t)
		// The client asks for auto-creation, so only the broker's setting
		// can refuse it.
		cl := newClient(t, kgo.SeedBrokers(c.Bootstrap...), kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(2))
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "never-created", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("produce to a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
		}
	})

	t.Run("SASL", func(t *testing.T) {
		createTopic(testContext(t), t, newClient(t, kgo.SeedBrokers(c.Bootstrap...)), "secured", 1, 1)
		mechs := map[string]sasl.Mechanism{
			"PLAIN":         plain.Auth{User: User, Pass: Password}.AsMechanism(),
			"SCRAM-SHA-256": scram.Auth{User: User, Pass: Password}.AsSha256Mechanism(),
			"SCRAM-SHA-512": scram.Auth{User: User, Pass: Password}.AsSha512Mechanism(),
		}
		for name, mech := range mechs {
			t.Run(name, func(t *testing.T) {
				ctx := testContext(t)
				cl := newClient(t, kgo.SeedBrokers(c.SASLBootstrap...), kgo.DialTLSConfig(caConfig(t, c.CAFile)), kgo.SASL(mech))
				produce(ctx, t, cl, "secured", "via "+name)
			})
		}
		t.Run("WrongPassword", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(testContext(t), 20*time.Second)
			defer cancel()
			cl := newClient(t, kgo.SeedBrokers(c.SASLBootstrap...), kgo.DialTLSConfig(caConfig(t, c.CAFile)),
				kgo.SASL(plain.Auth{User: User, Pass: "wrong"}.AsMechanism()))
			// A direct request, not a produce: the producer would retry
			// its metadata load until ctx expires and hide the cause.
			_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("metadata with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
		if got := consume(testContext(t), t, c.Bootstrap, "secured", "", nil); !strings.HasPrefix(got, "via ") {
			t.Fatalf("consumed %q from the SASL-produced topic", got)
		}
	})

	t.Run("ConsoleTools", func(t *testing.T) {
		ctx := testContext(t)
		cl := newClient(t, kgo.SeedBrokers(c.Bootstrap...))
		createTopic(ctx, t, cl, "console", 1, 1)

		// Through the SASL_SSL listener, so the generated client config is
		// exercised too.
		prod := c.Tool(ctx, "org.apache.kafka.tools.ConsoleProducer",
			"--bootstrap-server", strings.Join(c.SASLBootstrap, ","),
			"--producer.config", c.SASLClientConfig, "--topic", "console")
		prod.Stdin = strings.NewReader("from-java\n")
		if out, err := prod.CombinedOutput(); err != nil {
			t.Fatalf("console producer: %v\n%s", err, out)
		}

		cons := c.Tool(ctx, "org.apache.kafka.tools.consumer.ConsoleConsumer",
			"--bootstrap-server", strings.Join(c.Bootstrap, ","), "--topic", "console",
			"--from-beginning", "--max-messages", "1", "--timeout-ms", "30000")
		var stdout, stderr bytes.Buffer
		cons.Stdout, cons.Stderr = &stdout, &stderr
		if err := cons.Run(); err != nil {
			t.Fatalf("console consumer: %v\n%s", err, stderr.String())
		}
		if got := strings.TrimSpace(stdout.String()); got != "from-java" {
			t.Fatalf("console consumer printed %q, want from-java (stderr: %s)", got, stderr.String())
		}
	})
}

func TestThreeBrokers(t *testing.T) {
	c := StartForTest(t, Options{Brokers: 3})
	ctx := testContext(t)
	cl := newClient(t, kgo.SeedBrokers(c.Bootstrap...))
	adm := kadm.NewClient(cl)

	createTopic(ctx, t, cl, "replicated", 3, 3)
	md, err := adm.Metadata(ctx, "replicated")
	if err != nil {
		t.Fatal(err)
	}
	if ids := md.Brokers.NodeIDs(); !slices.Equal(sorted(ids), []int32{1, 2, 3}) {
		t.Fatalf("brokers in metadata = %v, want [1 2 3]", ids)
	}
	for _, p := range md.Topics["replicated"].Partitions {
		if len(p.Replicas) != 3 || len(p.ISR) != 3 || p.Leader < 0 {
			t.Errorf("partition %d: leader %d replicas %v isr %v, want 3 replicas in sync", p.Partition, p.Leader, p.Replicas, p.ISR)
		}
	}

	// acks=all (kgo's default) against min.insync.replicas=2 on RF 3.
	produce(ctx, t, cl, "replicated", "three")
	// A group consumer creates __consumer_offsets, which needs RF 3 too.
	commit := func(ctx context.Context, gcl *kgo.Client) {
		if err := gcl.CommitUncommittedOffsets(ctx); err != nil {
			t.Errorf("commit: %v", err)
		}
	}
	if got := consume(ctx, t, c.Bootstrap, "replicated", "g", commit); got != "three" {
		t.Fatalf("consumed %q, want three", got)
	}
	offs, err := adm.FetchOffsets(ctx, "g")
	if err != nil || offs.Error() != nil {
		t.Fatalf("fetch offsets: %v / %v", err, offs.Error())
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 1 {
		t.Fatalf("committed offsets sum to %d, want 1", committed)
	}
	omd, err := adm.Metadata(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range omd.Topics["__consumer_offsets"].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("__consumer_offsets partition %d has replicas %v, want 3", p.Partition, p.Replicas)
		}
	}
}

func TestParse(t *testing.T) {
	c := &Cluster{brokers: 2, Dir: "/d"}
	out := "ca=/d/tls/ca.pem\nsasl=127.0.0.1:2,127.0.0.1:12\n127.0.0.1:0,127.0.0.1:10\n"
	if err := c.parse(out); err != nil {
		t.Fatal(err)
	}
	if c.CAFile != "/d/tls/ca.pem" || c.SASLClientConfig != "/d/client-sasl.properties" ||
		strings.Join(c.SASLBootstrap, " ") != "127.0.0.1:2 127.0.0.1:12" ||
		strings.Join(c.Bootstrap, " ") != "127.0.0.1:0 127.0.0.1:10" {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{"", "sasl=127.0.0.1:2\n", "127.0.0.1:0\n"} {
		if err := (&Cluster{brokers: 2}).parse(bad); err == nil {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func caConfig(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	// No ServerName: kgo fills in the dialled host, 127.0.0.1, so this also
	// checks the certificate's IP SAN.
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func createTopic(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, partitions int32, rf int16) {
	t.Helper()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, rf, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func produce(ctx context.Context, t *testing.T, cl *kgo.Client, topic, value string) {
	t.Helper()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// consume returns the value of the first record of topic, read directly or,
// with a group, as a group member; after is called with the client before
// it is closed.
func consume(ctx context.Context, t *testing.T, bootstrap []string, topic, group string, after func(context.Context, *kgo.Client)) string {
	t.Helper()
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	}
	cl := newClient(t, opts...)
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		var errs []string
		fs.EachError(func(topic string, p int32, err error) { errs = append(errs, fmt.Sprintf("%s/%d: %v", topic, p, err)) })
		if len(errs) > 0 {
			t.Fatalf("consume: %s", strings.Join(errs, "; "))
		}
		if recs := fs.Records(); len(recs) > 0 {
			if after != nil {
				after(ctx, cl)
			}
			return string(recs[0].Value)
		}
	}
}

func sorted(ids []int32) []int32 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}
