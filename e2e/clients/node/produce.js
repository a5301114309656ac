#!/usr/bin/env node
// Produces JSON lines to sluice's Kafka Inbound listener with kafkajs,
// acks=-1 (all), the settings of shared/reference/protocol.md §15.6.
//
//   node produce.js --bootstrap HOST:PORT --ca CA.pem --user PROJECT_ID \
//     --password KEY --topic COLLECTION --dir DIR --codecs gzip
//
// For each codec C (kafkajs alone supports none and gzip; snappy, lz4 and
// zstd need extra codec packages) it sends every line of DIR/C.jsonl as one
// record value, in batches of 50, and waits for each acknowledgement. Exit
// status 0 only if every record was acknowledged.
// Used by e2e/inbound_clients_test.go (run scripts/install-clients.sh first).
'use strict';

const fs = require('fs');
const path = require('path');
const { Kafka, CompressionTypes, Partitioners, logLevel } = require('kafkajs');

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['bootstrap', 'ca', 'user', 'password', 'topic', 'dir', 'codecs']) {
    if (!out[k]) throw new Error(`--${k} is required`);
  }
  return out;
}

const codecs = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const kafka = new Kafka({
    clientId: 'sluice-e2e-kafkajs',
    brokers: args.bootstrap.split(','),
    ssl: { ca: [fs.readFileSync(args.ca, 'utf8')] },
    sasl: { mechanism: 'plain', username: args.user, password: args.password },
    connectionTimeout: 10000,
    requestTimeout: 30000,
    retry: { retries: 3 },
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let failed = false;
  try {
    for (const codec of args.codecs.split(',')) {
      if (!(codec in codecs)) throw new Error(`kafkajs has no built-in codec ${codec}`);
      const values = fs.readFileSync(path.join(args.dir, `${codec}.jsonl`), 'utf8')
        .split('\n').filter((l) => l.trim() !== '');
      const start = Date.now();
      let acked = 0;
      for (let i = 0; i < values.length; i += 50) {
        const chunk = values.slice(i, i + 50);
        const res = await producer.send({
          topic: args.topic,
          acks: -1,
          compression: codecs[codec],
          messages: chunk.map((v) => ({ value: v })),
        });
        for (const r of res) {
          if (r.errorCode !== 0) {
            failed = true;
            console.error(`${codec}: partition ${r.partition} error code ${r.errorCode}`);
          }
        }
        acked += chunk.length;
      }
      console.log(`${codec}: ${acked} of ${values.length} acknowledged in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    }
  } finally {
    await producer.disconnect();
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`kafkajs: ${err.name}: ${err.message}`);
  process.exit(1);
});
