#!/usr/bin/env node
// Consumes a topic from sluice's Kafka Outbound listener with kafkajs in a
// consumer group, the settings of shared/reference/protocol.md §15.6,
// and prints each record value on its own line of stdout.
//
//   node consume.js --bootstrap HOST:PORT --ca CA.pem --user PROJECT_ID \
//     --password KEY --topic TOPIC --group GROUP --count N [--timeout-s S]
//
// It reads from the earliest offset when the group has none committed,
// stops after N records (committing the group's offsets as kafkajs does on
// each batch) and disconnects. Exit status 0 only if N records arrived.
// Used by e2e/outbound_clients_test.go (run scripts/install-clients.sh first).
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

function parseArgs(argv) {
  const out = { 'timeout-s': '90' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['bootstrap', 'ca', 'user', 'password', 'topic', 'group', 'count']) {
    if (!out[k]) throw new Error(`--${k} is required`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const want = Number(args.count);
  const kafka = new Kafka({
    clientId: 'sluice-e2e-kafkajs',
    brokers: args.bootstrap.split(','),
    ssl: { ca: [fs.readFileSync(args.ca, 'utf8')] },
    sasl: { mechanism: 'plain', username: args.user, password: args.password },
    connectionTimeout: 10000,
    requestTimeout: 30000,
    logLevel: logLevel.ERROR,
  });
  const consumer = kafka.consumer({ groupId: args.group, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [args.topic], fromBeginning: true });
  let got = 0;
  const next = new Map(); // "topic/partition" → next offset to read
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const timer = setTimeout(finish, Number(args['timeout-s']) * 1000);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const m of batch.messages) {
        if (got >= want) break;
        process.stdout.write(m.value.toString('utf8') + '\n');
        got++;
        resolveOffset(m.offset);
        next.set(`${batch.topic}/${batch.partition}`, (BigInt(m.offset) + 1n).toString());
      }
      if (got >= want) finish();
    },
  });
  await done;
  clearTimeout(timer);
  // Commit exactly what was printed, so a restart resumes after it.
  const offsets = [...next].map(([tp, offset]) => {
    const i = tp.lastIndexOf('/');
    return { topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset };
  });
  if (offsets.length > 0) await consumer.commitOffsets(offsets);
  await consumer.disconnect();
  if (got < want) {
    process.stderr.write(`received ${got} of ${want} records\n`);
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
