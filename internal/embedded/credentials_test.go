package embedded

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func scramClient(t *testing.T, addr string, c Credentials, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return client(t, addr, append([]kgo.Opt{kgo.SASL(scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism())}, opts...)...)
}

// roundTrip creates topic, writes a record to it and reads it back.
func roundTrip(t *testing.T, addr string, c Credentials, topic string) error {
	t.Helper()
	cl := scramClient(t, addr, c, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 1
	create.Topics = append(create.Topics, ct)
	if _, err := create.RequestWith(ctx(t), cl); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx(t), kgo.StringRecord("hello")).FirstErr(); err != nil {
		return err
	}
	fs := cl.PollFetches(ctx(t))
	if err := fs.Err0(); err != nil {
		return err
	}
	if fs.NumRecords() != 1 {
		t.Fatalf("read back %d records", fs.NumRecords())
	}
	return nil
}

// refused checks that a client with opts can neither write to nor read from
// topic, nor learn which topics exist.
func refused(t *testing.T, addr, topic string, opts ...kgo.Opt) {
	t.Helper()
	cl := client(t, addr, append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequestRetries(0),
		kgo.RecordDeliveryTimeout(3 * time.Second), kgo.RetryTimeout(3 * time.Second)}, opts...)...)
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.ProduceSync(c, kgo.StringRecord("intruder")).FirstErr(); err == nil {
		t.Fatal("a write was accepted")
	}
	meta := kmsg.NewPtrMetadataRequest()
	if resp, err := meta.RequestWith(c, cl); err == nil {
		t.Fatalf("metadata answered: %d topics", len(resp.Topics))
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis, fetch.MaxBytes = 100, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	if _, err := fetch.RequestWith(c, cl); err == nil {
		t.Fatal("a fetch was answered")
	}
}

// TestAuthenticatedLogIsNoOpenDoor: the log sluice serves answers nothing but
// the handshake to a client without its credentials (none, kfake's default
// admin/admin, PLAIN, a wrong password); with them, clients work.
func TestAuthenticatedLogIsNoOpenDoor(t *testing.T) {
	dir := t.TempDir()
	log, err := StartAuthenticated(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	creds, ok := log.Credentials()
	if !ok || creds.Password == "" {
		t.Fatal("no credentials")
	}
	info, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v", err, info.Mode())
	}
	addr := log.Addrs()[0]
	if err := roundTrip(t, addr, creds, "tenant-topic"); err != nil {
		t.Fatalf("with the credentials: %v", err)
	}
	refused(t, addr, "tenant-topic")
	refused(t, addr, "tenant-topic", kgo.SASL(scram.Auth{User: "admin", Pass: "admin"}.AsSha256Mechanism()))
	refused(t, addr, "tenant-topic", kgo.SASL(plain.Auth{User: creds.Username, Pass: creds.Password}.AsMechanism()))
	refused(t, addr, "tenant-topic", kgo.SASL(scram.Auth{User: creds.Username, Pass: creds.Password + "x"}.AsSha256Mechanism()))
}

// TestCredentialsAcrossRestarts: an existing data dir of a log that had no
// authentication gets credentials at its next start; they are kept across
// restarts; deleting the file gives new ones, and the old ones stop working.
func TestCredentialsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	open, err := Start(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	open.Close() // saves the log's state, with no user

	log, err := StartAuthenticated(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	first, _ := log.Credentials()
	if err := roundTrip(t, log.Addrs()[0], first, "a"); err != nil {
		t.Fatalf("after enabling authentication on an existing data dir: %v", err)
	}
	log.Close()

	log, err = StartAuthenticated(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := log.Credentials(); again != first {
		t.Fatal("credentials changed across a restart")
	}
	log.Close()

	if err := os.Remove(filepath.Join(dir, credentialsFile)); err != nil {
		t.Fatal(err)
	}
	log, err = StartAuthenticated(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	second, _ := log.Credentials()
	if second == first {
		t.Fatal("no new credentials after the file was deleted")
	}
	if err := roundTrip(t, log.Addrs()[0], second, "b"); err != nil {
		t.Fatalf("with the new credentials: %v", err)
	}
	refused(t, log.Addrs()[0], "b", kgo.SASL(scram.Auth{User: first.Username, Pass: first.Password}.AsSha256Mechanism()))
}

// TestCredentialsFileMadePrivate: a credentials file readable by others is
// made private at start.
func TestCredentialsFileMadePrivate(t *testing.T) {
	dir := t.TempDir()
	c, err := loadOrCreateCredentials(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, credentialsFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateCredentials(dir, quiet())
	if err != nil || again != c {
		t.Fatalf("reloading: %v %+v", err, again)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", info.Mode().Perm())
	}
}
