// Drives the Streams page in headless Chromium (Debian's package) with
// playwright-core, as e2e/streams_browser_test.go asks: sign in (a wrong key
// first), enable Kafka Outbound, post an event over HTTP to the seed's
// collection "$my collection$ %", see it listed with outbound topic
// "_my_collection___", save a screenshot. Any page error fails the run.
//
// Environment: SLUICE_URL, PROJECT_ID, MASTER_KEY, WRITE_KEY, SCREENSHOT
// (a .png path), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};
const base = env('SLUICE_URL');
const pid = env('PROJECT_ID');
const master = env('MASTER_KEY');
const writeKey = env('WRITE_KEY');
const screenshot = env('SCREENSHOT');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const collection = '$my collection$ %';
const timeout = 30_000;

const problems = [];
const step = (msg) => console.log(`step: ${msg}`);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Running as root in CI needs --no-sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A refused sign-in logs the 401 of its fetch; that one is expected.
    if (msg.type() === 'error' && !/status of 401/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });

  step('open the page');
  const resp = await page.goto(`${base}/projects/${pid}/streams`);
  if (!resp || resp.status() !== 200) throw new Error(`page answered ${resp && resp.status()}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  const pidValue = await page.getByLabel('Project id').inputValue();
  if (pidValue !== pid) throw new Error(`project id field holds ${pidValue}`);

  step('a wrong key is refused with a message');
  await page.getByLabel('Master key').fill('0'.repeat(64));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
  if (await page.locator('#dashboard').isVisible()) throw new Error('dashboard shown after a wrong key');

  step('sign in with the master key');
  await page.getByLabel('Master key').fill(master);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Kafka Outbound', exact: true }).waitFor();
  const stored = await page.evaluate(() => Object.keys(sessionStorage).length + Object.keys(localStorage).length);
  if (stored !== 1) throw new Error(`expected the key in sessionStorage only, storage holds ${stored} entries`);
  const inbound = await page.locator('#inbound-bootstrap').textContent();
  const username = await page.locator('#outbound-username').textContent();
  if (!inbound || username !== pid) throw new Error(`settings: inbound ${inbound}, username ${username}`);
  const javaSnippet = await page.locator('#snippet-0-producer').textContent();
  if (!javaSnippet.includes(`--bootstrap-server ${inbound}`) || !javaSnippet.includes(`username="${pid}"`)) {
    throw new Error(`Java snippet lacks the bootstrap or project id:\n${javaSnippet}`);
  }

  step('enable Kafka Outbound');
  const sw = page.getByRole('switch', { name: 'Stream events to Kafka Outbound' });
  if (await sw.isChecked()) throw new Error('outbound already enabled');
  await sw.click();
  await page.locator('#outbound-state', { hasText: 'Enabled' }).waitFor();
  const streams = await (await fetch(`${base}/3.0/projects/${pid}/streams/kafka`, { headers: { Authorization: master } })).json();
  if (streams.outbound.enabled !== true) throw new Error(`the API says outbound is ${streams.outbound.enabled}`);

  step('post an event over HTTP');
  const post = await fetch(`${base}/3.0/projects/${pid}/events/${encodeURIComponent(collection)}`, {
    method: 'POST',
    headers: { Authorization: writeKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ item: 'golden widget', price: 25.5 }),
  });
  const postBody = await post.text();
  if (post.status !== 201) throw new Error(`posting the event: ${post.status} ${postBody}`);

  step('the collection is listed with its sanitized topic');
  const row = page.locator('#collections-body tr', { has: page.getByRole('rowheader', { name: collection, exact: true }) });
  await row.waitFor();
  const topic = await row.locator('td').nth(0).locator('code').textContent();
  const dlq = await row.locator('td').nth(1).locator('code').textContent();
  if (topic !== '_my_collection___' || dlq !== '_my_collection___-dlq') throw new Error(`topics: ${topic}, ${dlq}`);
  // Rates appear once two samples exist.
  await page.waitForFunction(() => {
    const r = document.querySelector('#collections-body tr td.num');
    return r && r.textContent !== '…';
  });

  await page.screenshot({ path: screenshot, fullPage: true });
  step(`screenshot saved to ${screenshot}`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('streams page: ok');
