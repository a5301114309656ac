#!/usr/bin/env python3
"""Consumes a topic from sluice's Kafka Outbound listener with a real Python
client in a consumer group, the settings of
shared/reference/protocol.md §15.6 and nothing else, and prints each
record value on its own line of stdout.

    consume.py --lib confluent|kafka-python --bootstrap HOST:PORT --ca CA.pem \
        --user PROJECT_ID --password KEY --topic TOPIC --group GROUP \
        --count N [--timeout-s S]

It reads from the earliest offset when the group has none committed, stops
after N records, commits the group's offsets and closes. Exit status 0 only
if N records arrived within the timeout; otherwise 1.
Used by e2e/outbound_clients_test.go (run scripts/install-clients.sh first).
"""

import argparse
import sys
import time


def consume_confluent(args):
    import confluent_kafka

    c = confluent_kafka.Consumer({
        "bootstrap.servers": args.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": args.user,
        "sasl.password": args.password,
        "ssl.ca.location": args.ca,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([args.topic])
    got = 0
    deadline = time.time() + args.timeout_s
    try:
        while got < args.count and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                print("error: %s" % msg.error(), file=sys.stderr)
                continue
            sys.stdout.write(msg.value().decode("utf-8") + "\n")
            got += 1
        if got:
            c.commit(asynchronous=False)
    finally:
        c.close()
    return got


def consume_kafka_python(args):
    import kafka

    c = kafka.KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap.split(","),
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_plain_username=args.user,
        sasl_plain_password=args.password,
        ssl_cafile=args.ca,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got = 0
    deadline = time.time() + args.timeout_s
    try:
        while got < args.count and time.time() < deadline:
            batch = c.poll(timeout_ms=500, max_records=args.count - got)
            for records in batch.values():
                for r in records:
                    sys.stdout.write(r.value.decode("utf-8") + "\n")
                    got += 1
        if got:
            c.commit()
    finally:
        c.close()
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, choices=["confluent", "kafka-python"])
    for name in ["bootstrap", "ca", "user", "password", "topic", "group"]:
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout-s", type=float, default=90)
    args = ap.parse_args()
    got = (consume_confluent if args.lib == "confluent" else consume_kafka_python)(args)
    sys.stdout.flush()
    if got < args.count:
        print("received %d of %d records" % (got, args.count), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
