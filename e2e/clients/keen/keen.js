// Drives Keen's official JavaScript clients in Node.js against sluice, for
// e2e/keen_clients_test.go: keen-tracking records, keen-analysis queries.
//
// Reads a plan (JSON) on stdin — the same plan as
// e2e/clients/python/keen_client.py:
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

const readStdin = () => new Promise((resolve, reject) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { data += d; });
  process.stdin.on('end', () => resolve(data));
  process.stdin.on('error', reject);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(plan, tracking, analysis, step) {
  switch (step.op) {
    case 'record':
      return tracking.recordEvents({ [step.collection]: step.events });
    case 'record_one':
      return tracking.recordEvent(step.collection, step.event);
    case 'wait_count': {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await analysis.query({
          analysis_type: 'count', event_collection: step.collection, timeframe: step.timeframe,
        });
        if (res.result === step.count || Date.now() > deadline) return res.result;
        await sleep(200);
      }
    }
    case 'query': {
      const res = await analysis.query({ analysis_type: step.analysis, ...step.params });
      // As the Python driver: a funnel's whole answer (result, steps,
      // actors), otherwise its result. (keen-analysis also adds the query
      // it sent, as "query"; that is the client's, not the server's.)
      if (step.analysis !== 'funnel') return res.result;
      delete res.query;
      return res;
    }
    case 'collection':
      return analysis.get({ url: analysis.url('events', step.collection), api_key: plan.read_key });
    case 'collections':
      return analysis.get({ url: analysis.url('events'), api_key: plan.read_key });
    case 'delete':
      return analysis.del({
        url: analysis.url('events', step.collection), api_key: plan.master_key, params: step.params || {},
      });
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

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
  const out = {};
  for (const step of plan.steps) {
    try {
      out[step.name] = { result: await run(plan, tracking, analysis, step) };
    } catch (err) {
      out[step.name] = { error: `${err.code || err.name || 'Error'}: ${err.message || err}` };
    }
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
