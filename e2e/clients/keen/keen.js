// Drives Keen's official JavaScript clients in Node.js against sluice, for
// e2e/keen_clients_test.go: keen-tracking records, keen-analysis queries.
//
// Reads a plan (JSON) on stdin — the steps of
// e2e/clients/python/keen_client.py, run by steps.js:
//   {"project_id", "write_key", "read_key", "master_key",
//    "tracking": {"host", "port", "protocol"},
//    "analysis": {"host", "protocol"},
//    "steps": [{"name", "op", ...}, ...]}
// and prints one JSON object: step name -> {"result": ...} or {"error": ...}.
//
// keen-analysis in Node.js sends every request with https.request to the
// host's default port (it drops any port), so the test serves sluice's HTTP
// API over TLS on port 443 of a loopback address for it; keen-tracking takes
// a port through its nodeRequestConfig.
'use strict';

const KeenTracking = require('keen-tracking');
const KeenAnalysis = require('keen-analysis');
const { runPlan } = require('./steps');

const readStdin = () => new Promise((resolve, reject) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { data += d; });
  process.stdin.on('end', () => resolve(data));
  process.stdin.on('error', reject);
});

(async () => {
  const plan = JSON.parse(await readStdin());
  const tracking = new KeenTracking({
    projectId: plan.project_id,
    writeKey: plan.write_key,
    host: plan.tracking.host,
    protocol: plan.tracking.protocol,
    nodeRequestConfig: { port: plan.tracking.port },
  });
  const analysis = new KeenAnalysis({
    projectId: plan.project_id,
    readKey: plan.read_key,
    masterKey: plan.master_key,
    host: plan.analysis.host,
    protocol: plan.analysis.protocol,
  });
  process.stdout.write(JSON.stringify(await runPlan(plan, tracking, analysis)));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
