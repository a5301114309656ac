// Runs Keen's official browser clients — keen-tracking's and keen-analysis's
// browser builds, as a web page loads them — in headless Chromium (Debian's
// package) against sluice, for e2e/keen_clients_test.go. The page comes
// from another origin than sluice's API, so every call is a cross-origin
// request: CORS must let it through.
//
// Chromium trusts sluice's certificate by its public key only (SPKI: the
// base64 SHA-256 of it), as a certificate pin: not by turning certificate
// checks off.
//
// Environment: SPKI, PAGE_URL (the page, which loads both builds and
// e2e/clients/keen/steps.js), PLAN (the plan of e2e/clients/keen/keen.js,
// JSON), SCREENSHOT (a .png path), CHROMIUM
// (default /usr/bin/chromium). Prints the answers (JSON) on stdout; any page
// error fails the run (an error answer is an answer, checked by the test).
import { chromium } from 'playwright-core';

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const pageURL = env('PAGE_URL');
const plan = JSON.parse(env('PLAN'));
const screenshot = env('SCREENSHOT');
const spki = env('SPKI');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');

const problems = [];
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', `--ignore-certificate-errors-spki-list=${spki}`],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A refused request logs its status; its answer is checked by the
    // test, as every other.
    if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of/.test(msg.text())) {
      problems.push(`console error: ${msg.text()}`);
    }
  });
  const resp = await page.goto(pageURL);
  if (!resp || resp.status() !== 200) throw new Error(`page answered ${resp && resp.status()}`);
  const answers = await page.evaluate(async (plan) => {
    const tracking = new window.KeenTracking({
      projectId: plan.project_id, writeKey: plan.write_key, host: plan.tracking.host, protocol: plan.tracking.protocol,
    });
    const analysis = new window.KeenAnalysis({
      projectId: plan.project_id, readKey: plan.read_key, masterKey: plan.master_key,
      host: plan.analysis.host, protocol: plan.analysis.protocol,
    });
    const out = await window.keenSteps.runPlan(plan, tracking, analysis);
    document.body.textContent = JSON.stringify(out, null, 1);
    return out;
  }, plan);
  await page.screenshot({ path: screenshot, fullPage: true });
  if (problems.length) throw new Error(problems.join('\n'));
  process.stdout.write(JSON.stringify(answers));
} finally {
  await browser.close();
}
