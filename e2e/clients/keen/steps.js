// The steps of a plan (e2e/keen_clients_test.go), run with Keen's own
// JavaScript clients: shared by the Node.js driver (keen.js, through
// require) and the browser page (e2e/browser/keen.mjs, through a script
// tag, as window.keenSteps).
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.keenSteps = factory();
}(typeof self !== 'undefined' ? self : this, () => {
  'use strict';

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function run(plan, tracking, analysis, step) {
    switch (step.op) {
      case 'record':
        return tracking.recordEvents({ [step.collection]: step.events });
      case 'record_one':
        return tracking.recordEvent(step.collection, step.event);
      case 'record_img':
        // keen-tracking's image beacon (browser only): resolves when the
        // GIF loads, fails when it does not.
        return new Promise((resolve, reject) => {
          tracking.recordEvent({
            collection: step.collection,
            event: step.event,
            requestType: 'img',
            callback: (err) => (err ? reject(new Error(String(err))) : resolve(true)),
          });
        });
      case 'wait_count': {
        const deadline = Date.now() + 60000;
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
        // actors), otherwise its result. keen-analysis adds the query it
        // sent as "query": the client's, not the server's.
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

  // runPlan runs every step, and answers step name -> {result} or {error}.
  async function runPlan(plan, tracking, analysis) {
    const out = {};
    for (const step of plan.steps) {
      try {
        out[step.name] = { result: await run(plan, tracking, analysis, step) };
      } catch (err) {
        // keen-analysis rejects with an Error (code, message), or in
        // browsers with the answer ({error_code, body, status}).
        const code = err.code || err.error_code || err.name || 'Error';
        const message = err.message || err.body || JSON.stringify(err);
        out[step.name] = { error: `${code}: ${message}` };
      }
    }
    return out;
  }

  return { runPlan };
}));
