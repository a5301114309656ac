#!/usr/bin/env python3
"""Produces JSON lines to sluice's Kafka Inbound listener with a real Python
client, one producer per compression codec, acks=all, the settings of
shared/reference/protocol.md §15.6 and nothing else.

    produce.py --lib confluent|kafka-python --bootstrap HOST:PORT --ca CA.pem \
        --user PROJECT_ID --password KEY --topic COLLECTION --dir DIR \
        --codecs gzip,snappy,lz4,zstd

For each codec C it sends every line of DIR/C.jsonl as one record value, and
waits until each is acknowledged. Exit status 0 only if every record was
acknowledged; otherwise the errors go to stderr and the status is 1.
Used by e2e/inbound_clients_test.go (run scripts/install-clients.sh first).
"""

import argparse
import logging
import re
import sys
import time


def read_lines(path):
    with open(path, "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def produce_confluent(args, codec, values):
    import confluent_kafka

    errors = []
    acked = [0]

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[0] += 1

    p = confluent_kafka.Producer({
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": args.user,
        "sasl.password": args.password,
        "ssl.ca.location": args.ca,
        "acks": "all",
        "compression.type": codec,
        "linger.ms": 5,
        "message.timeout.ms": args.timeout_ms,
    })
    for v in values:
        while True:
            try:
                p.produce(args.topic, value=v, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(args.timeout_ms / 1000.0 + 5)
    if left:
        errors.append("%d records not delivered before the timeout" % left)
    return acked[0], errors


class RequestNames(logging.Handler):
    """Collects the names of the requests kafka-python sends (its protocol
    parser logs each one at DEBUG), e.g. SaslHandShakeRequest_v0."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = set()

    def emit(self, record):
        self.names.update(re.findall(r"\b(\w+Request_v\d+)\(", record.getMessage()))


def produce_kafka_python(args, codec, values):
    import kafka

    p = kafka.KafkaProducer(
        bootstrap_servers=args.bootstrap.split(","),
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_plain_username=args.user,
        sasl_plain_password=args.password,
        ssl_cafile=args.ca,
        acks="all",
        compression_type=codec,
        linger_ms=5,
        request_timeout_ms=args.timeout_ms,
        max_block_ms=args.timeout_ms,
    )
    futures = [p.send(args.topic, value=v) for v in values]
    p.flush(timeout=args.timeout_ms / 1000.0)
    acked, errors = 0, []
    for f in futures:
        try:
            f.get(timeout=args.timeout_ms / 1000.0)
            acked += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            errors.append("%s: %s" % (type(e).__name__, e))
    print("kafka-python negotiated api_version %s" % (p.config["api_version"],))
    p.close(timeout=10)
    return acked, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, choices=["confluent", "kafka-python"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--codecs", required=True)
    ap.add_argument("--timeout-ms", type=int, default=20000)
    args = ap.parse_args()

    if args.lib == "confluent":
        import confluent_kafka

        print("confluent-kafka %s, librdkafka %s" % (confluent_kafka.version()[0], confluent_kafka.libversion()[0]))
        produce = produce_confluent
    else:
        import kafka

        print("kafka-python %s" % kafka.__version__)
        produce = produce_kafka_python
        requests = RequestNames()
        log = logging.getLogger("kafka")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.addHandler(requests)

    failed = False
    for codec in args.codecs.split(","):
        values = read_lines("%s/%s.jsonl" % (args.dir, codec))
        start = time.time()
        acked, errors = produce(args, codec, values)
        print("%s: %d of %d acknowledged in %.1f s" % (codec, acked, len(values), time.time() - start))
        for e in errors[:10]:
            print("%s: error: %s" % (codec, e), file=sys.stderr)
        if errors or acked != len(values):
            failed = True
    if args.lib == "kafka-python":
        print("requests sent: %s" % ", ".join(sorted(requests.names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
