// Browser end-to-end test of the console: a real daemon (--dev), a real
// headless Chromium, the page as the daemon serves it.
//
//   npm run test:e2e          (builds the daemon with go build, or uses $ORGSTREAM_BIN)
//
// It mints a token with the page's dev button, connects, publishes from the
// page's form, sees seq 1; restarts the daemon (SIGTERM: the page's client
// gets 1001) on the same port and data dir; publishes more from the page and
// over HTTP; then checks that the page resumed, saw no gap and no reset, and
// lists seqs N..1 (newest first) once each. A screenshot goes to e2e/artifacts/console.png,
// on failure too, and the daemon's log to e2e/artifacts/daemon.log.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { artifacts, session, sleep, STEP } from './harness.mjs';

/**
 * Chromium logs these on its own while the daemon is away: failed
 * reconnects and presence GETs, refused while it is down, and 503 (not
 * ready) in the moment its port is open before its log is (the ticket POST
 * the console sends before each connect can hit it).
 */
const DAEMON_AWAY = /WebSocket connection to .* failed|Failed to load resource: net::ERR_CONNECTION_REFUSED|Failed to load resource: the server responded with a status of 503/;

/** The seqs of the event rows the page lists. */
const listedSeqs = (page) =>
  page.$$eval('[data-testid="event-row"]', (rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));

const counter = async (page, name) => Number(await page.getByTestId(`count-${name}`).textContent());

/** Publishes from the page's form and returns the seq it shows. */
async function publishFromPage(page, data) {
  await page.getByTestId('publish-data').fill(data);
  const before = await page.evaluate(() => document.querySelector('[data-testid="publish-result"]')?.textContent ?? '');
  await page.getByTestId('publish').click();
  const result = page.getByTestId('publish-result');
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('[data-testid="publish-result"]');
      return el && el.textContent !== prev;
    },
    before,
    { timeout: STEP },
  );
  const text = await result.textContent();
  const m = /^→ 201 \{"seq":(\d+)\}$/.exec(text.trim());
  assert.ok(m, `publish from the page answered ${text}`);
  return Number(m[1]);
}

/** Mints a subscribe token with the page's dev button (for org, if given, else the page's default). */
async function mintOnPage(page, sub, org) {
  if (org) await page.getByTestId('mint-org').fill(org);
  await page.getByTestId('mint-sub').fill(sub);
  await page.getByTestId('mint-token').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="token-input"]').value.startsWith('eyJ'));
}

/** Mints a publish token with the page's dev button. */
async function mintPublishOnPage(page) {
  await page.getByTestId('mint-publish-token').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="publish-token"]').value.startsWith('eyJ'));
}

/** Waits until the page's connection state is state. */
const stateIs = (page, state, opts) => page.locator(`[data-testid="state"][data-state="${state}"]`).waitFor(opts);

test('console: mint, connect, publish, survive a daemon restart with a resume', { timeout: 240_000 }, async (t) => {
  const { daemon, page, problems } = await session(t, { log: 'daemon.log', screenshot: 'console.png', allowConsole: DAEMON_AWAY });
  const sockets = []; // WebSocket URLs the page opened (tickets stripped)
  const cfg = await (await fetch(daemon.base + '/v2/console/config')).json();
  assert.deepEqual(cfg, { dev: true });
  page.on('websocket', (ws) => {
    // An assert here would throw into Playwright's emitter, not the test:
    // record the problem, the end of the test asserts there is none.
    // Connect tickets: a ticket in the URL, never the token.
    const u = new URL(ws.url());
    if (u.searchParams.has('access_token')) problems.push(`stream URL with a token: ${u.pathname}`);
    if (!/^t-[A-Za-z0-9_-]{22}$/.test(u.searchParams.get('ticket') ?? '')) problems.push(`stream URL without a ticket: ${u.pathname}`);
    u.searchParams.delete('ticket');
    sockets.push(u.pathname + u.search);
  });

  // Mint (dev button) and connect.
  await page.goto(daemon.base + '/');
  await page.getByTestId('dev-badge').waitFor();
  await mintOnPage(page, 'alice', 'acme');
  assert.match(await page.getByTestId('token-claims').textContent(), /org acme · user alice · subscribe/);
  await page.getByTestId('connect').click();
  await stateIs(page, 'open');

  // Publish seq 1 from the form, with a minted publish token.
  await mintPublishOnPage(page);
  await page.getByTestId('publish-topic').fill('e2e.before');
  assert.equal(await publishFromPage(page, '{"n":1}'), 1);
  await page.locator('[data-testid="event-row"][data-seq="1"]').waitFor();

  // Restart the daemon: SIGTERM closes the page's stream with 1001.
  await daemon.stop();
  await page.locator('[data-testid="state"]:not([data-state="open"])').waitFor();
  await daemon.start();
  await stateIs(page, 'open', { timeout: 60_000 });
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="count-resumes"]').textContent) >= 1);

  // More events: from the page (its publish token is still valid: same
  // secret in the same data dir), then a batch over HTTP.
  await page.getByTestId('publish-topic').fill('e2e.after');
  for (let i = 2; i <= 4; i++) assert.equal(await publishFromPage(page, `{"n":${i}}`), i);
  const pub = await daemon.mint('acme', 'e2e-backend', 'publish');
  const events = [5, 6, 7, 8].map((n) => ({ topic: 'e2e.http', data: { n } }));
  assert.deepEqual(await daemon.publish(pub, events), { seqs: [5, 6, 7, 8] });
  const N = 8;
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="event-row"]').length >= n, N);
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="count-events"]').textContent) === n, N);

  // As shown: newest first, each seq once (which the exact list implies).
  const seqs = await listedSeqs(page);
  assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => N - i), `listed seqs ${seqs}`);
  assert.equal(new Set(seqs).size, seqs.length, `duplicates in ${seqs}`);
  assert.ok((await counter(page, 'resumes')) >= 1, 'resumes');
  assert.ok((await counter(page, 'reconnects')) >= 1, 'reconnects');
  assert.equal(await counter(page, 'gaps'), 0, 'gaps');
  assert.equal(await counter(page, 'resets'), 0, 'resets');
  assert.equal(await page.locator('[data-testid="reset-row"], [data-testid="gap-row"]').count(), 0);
  assert.match(await page.getByTestId('welcome').textContent(), /resumed after seq 1, nothing missed/);
  assert.match(await page.getByTestId('position').textContent(), new RegExp(`last seq ${N}$`));

  // The rate chart counts the batch of 4 (one second) once that second is over.
  await page.waitForFunction(() => {
    const m = /peak (\d+) ev\/s/.exec(document.querySelector('[data-testid="rate-now"]').textContent);
    return m && Number(m[1]) >= 4;
  });
  assert.equal(await page.locator('[data-testid="rate-chart"] rect').count(), 60);

  // The first stream started fresh; the one that got through after the
  // restart resumed after seq 1 in the same epoch.
  assert.ok(sockets.length >= 2, `sockets ${sockets}`);
  assert.ok(sockets.every((s) => s.startsWith('/v2/realtime/stream')), `sockets ${sockets}`);
  assert.doesNotMatch(sockets[0], /last_seq/);
  assert.match(sockets[sockets.length - 1], /last_seq=1&epoch=/);
  assert.deepEqual(problems, []);
});

test('console without --dev: no mint buttons; a pasted token connects; refusals are shown', { timeout: 120_000 }, async (t) => {
  // The refused publish below is a 403 the browser reports on its own.
  const { daemon, page, problems } = await session(t, { log: 'daemon-nodev.log', dev: false, allowConsole: /status of 403/ });
  assert.deepEqual(await (await fetch(daemon.base + '/v2/console/config')).json(), { dev: false });
  assert.equal((await fetch(daemon.base + '/v2/dev/tokens', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 404);
  // A token from the CLI, as a user without --dev gets one.
  const token = daemon.token('acme', 'bob');

  await page.goto(daemon.base + '/');
  await page.getByTestId('connect').waitFor();
  assert.equal(await page.getByTestId('dev-badge').count(), 0);
  assert.equal(await page.getByTestId('mint-token').count(), 0);
  assert.equal(await page.getByTestId('mint-publish-token').count(), 0);

  await page.getByTestId('token-input').fill(token);
  assert.match(await page.getByTestId('token-claims').textContent(), /org acme · user bob · subscribe/);
  await page.getByTestId('connect').click();
  await stateIs(page, 'open');
  assert.match(await page.getByTestId('welcome').textContent(), /acme\/bob .* head 0 · not resumed/);

  // A subscribe token may not publish: the form shows the daemon's refusal.
  await page.getByTestId('publish-token').fill(token);
  await page.getByTestId('publish').click();
  await page.getByTestId('publish-result').waitFor();
  assert.equal(await page.getByTestId('publish-result').textContent(), '→ 403 forbidden: the token may not publish to this org');
  await page.getByTestId('publish-data').fill('{not json');
  await page.getByTestId('publish').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="publish-result"]').textContent === '→ data is not valid JSON');

  await page.getByTestId('disconnect').click();
  await stateIs(page, 'closed');
  assert.deepEqual(problems, []);
});

/** The pretty-printed JSON the page shows for the event row of seq. */
const eventJSON = async (page, seq) => {
  const row = page.locator(`[data-testid="event-row"][data-seq="${seq}"]`);
  if ((await row.getByTestId('event-json').count()) === 0) await row.getByTestId('event-toggle').click();
  return row.getByTestId('event-json').textContent();
};

const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());

test('console panels: full event JSON with copy, filter, page-life counters, resume markers, retry now, token copy, org warning, phone layout', { timeout: 240_000 }, async (t) => {
  const { daemon, page, problems } = await session(t, {
    log: 'daemon-panels.log',
    screenshot: 'console-panels.png',
    allowConsole: DAEMON_AWAY,
    launch: { permissions: ['clipboard-read', 'clipboard-write'] },
  });
  // Connection attempts: each starts with a ticket request (connect
  // tickets), which is all an attempt gets to while the daemon is away.
  const attempts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/v2/realtime/tickets') attempts.push(r.url());
  });

  await page.goto(daemon.base + '/');
  await mintOnPage(page, 'alice', 'acme');
  const token = await page.getByTestId('token-input').inputValue();

  // Copy buttons for tokens.
  await page.getByTestId('copy-token').click();
  await page.locator('[data-testid="copy-token"][data-copied="copied"]').waitFor();
  assert.equal(await clipboard(page), token);

  await page.getByTestId('connect').click();
  await stateIs(page, 'open');
  await page.locator('[data-testid="transport"][data-transport="websocket"]').waitFor();
  assert.match(await page.getByTestId('welcome').textContent(), /^as of connect \(.*\): acme\/alice · .* head 0 · not resumed/);
  await page.locator('[data-testid="connect-row"]').waitFor();

  await mintPublishOnPage(page);
  await page.getByTestId('copy-publish-token').click();
  assert.equal(await clipboard(page), await page.getByTestId('publish-token').inputValue());

  // A long event: the row is cut, the expanded row is the whole event, pretty-printed, and copies.
  const long = { text: 'x'.repeat(600), nested: { list: [1, 2, 3], ok: true } };
  await page.getByTestId('publish-topic').fill('orders.created');
  assert.equal(await publishFromPage(page, JSON.stringify(long)), 1);
  await page.getByTestId('publish-topic').fill('billing.paid');
  assert.equal(await publishFromPage(page, '{"invoice":"inv-42"}'), 2);
  await page.locator('[data-testid="event-row"][data-seq="2"]').waitFor();
  const row1 = page.locator('[data-testid="event-row"][data-seq="1"]');
  assert.ok((await row1.locator('code.data').textContent()).endsWith('…'));
  const json = await eventJSON(page, 1);
  const shown = JSON.parse(json);
  assert.deepEqual({ seq: shown.seq, topic: shown.topic, data: shown.data }, { seq: 1, topic: 'orders.created', data: long });
  assert.match(json, /\n {2}"data": \{\n {4}"text": "x{600}",/);
  await row1.getByTestId('copy-event').click();
  assert.equal(await clipboard(page), json);

  // The filter box narrows the list on the page.
  await page.getByTestId('event-filter').fill('inv-42');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-row"]').length === 1);
  assert.deepEqual(await listedSeqs(page), [2]);
  assert.equal(await page.getByTestId('filter-count').textContent(), '1 of 2 shown');
  await page.getByTestId('event-filter').fill('orders');
  await page.waitForFunction(() => document.querySelector('[data-testid="event-row"]')?.getAttribute('data-seq') === '1');
  // A word with * or > is a topic pattern, as the server's topics are.
  for (const [pattern, want] of [['billing.*', [2]], ['*.created', [1]], ['>', [2, 1]], ['orders', [1]], ['orders.created.*', []]]) {
    await page.getByTestId('event-filter').fill(pattern);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="event-row"]').length === n, want.length);
    assert.deepEqual(await listedSeqs(page), want, pattern);
  }
  await page.getByTestId('event-filter').fill('');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-row"]').length === 2);

  // The publish org differs from the connected one: a warning.
  assert.equal(await page.getByTestId('publish-org-warning').count(), 0);
  await page.getByTestId('publish-org').fill('other-org');
  await page.getByTestId('publish-org-warning').waitFor();
  await page.getByTestId('publish-org').fill('acme');
  await page.getByTestId('publish-org-warning').waitFor({ state: 'detached' });

  // Counters run for the page's life: Disconnect → Connect keeps them, and the resume leaves a marker row.
  await page.waitForFunction(() => document.querySelector('[data-testid="count-events"]').textContent === '2');
  await page.getByTestId('disconnect').click();
  await stateIs(page, 'closed');
  assert.equal(await counter(page, 'events'), 2);
  await page.getByTestId('publish-topic').fill('while.away');
  assert.equal(await publishFromPage(page, '{"n":3}'), 3);
  await page.getByTestId('connect').click();
  await stateIs(page, 'open');
  await page.locator('[data-testid="event-row"][data-seq="3"]').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="count-events"]').textContent === '3');
  assert.equal(await counter(page, 'resumes'), 1);
  assert.match(await page.locator('[data-testid="resume-row"]').first().textContent(), /connected, resumed after seq 2: replayed 3…3 \(WebSocket\)/);
  assert.match(await page.getByTestId('welcome').textContent(), /^as of connect .* resumed after seq 2, replayed 3…3/);

  // The daemon goes away: a countdown and "retry now", which starts an attempt at once.
  await daemon.stop();
  await page.getByTestId('retry-countdown').waitFor();
  assert.match(await page.getByTestId('retry-countdown').textContent(), /^reconnecting in \d+\.\d s$/);
  // Wait for a pending attempt at least 2 s away, so that one within the next second is the button's.
  await page.waitForFunction(() => {
    const m = /in (\d+\.\d) s/.exec(document.querySelector('[data-testid="retry-countdown"]')?.textContent ?? '');
    return m && Number(m[1]) >= 2;
  }, null, { timeout: 60_000 });
  const before = attempts.length;
  await page.getByTestId('retry-now').click();
  for (const until = Date.now() + 1_000; attempts.length === before && Date.now() < until; ) await sleep(20);
  assert.equal(attempts.length, before + 1, 'retry now opened no new attempt at once');
  await daemon.start();
  await page.getByTestId('retry-now').click({ timeout: 2_000 }).catch(() => {}); // the backoff may be long by now
  await stateIs(page, 'open');
  assert.equal(await page.getByTestId('retry').count(), 0);
  await page.waitForFunction(() => document.querySelector('[data-testid="count-resumes"]').textContent === '2');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="resume-row"]').length === 2);

  // The presence panel: the GET lists alice; another user's stream shows as
  // a presence frame (presence=true) and in the next GET, and its close as offline.
  await page.locator('[data-testid="presence-user"][data-user="alice"]').waitFor();
  const bobToken = await daemon.mint('acme', 'bob', 'subscribe');
  await page.evaluate(
    ([url, tok]) => {
      window.bob = new WebSocket(`${url.replace('http', 'ws')}/v2/realtime/stream?access_token=${tok}`);
    },
    [daemon.base, bobToken],
  );
  await page.locator('[data-testid="presence-frame"]', { hasText: 'bob online' }).waitFor();
  await page.locator('[data-testid="presence-user"][data-user="bob"]').waitFor();
  assert.match(await page.getByTestId('presence-summary').textContent(), /^2 users · 2 connections/);
  await page.evaluate(() => window.bob.close());
  await page.locator('[data-testid="presence-frame"]', { hasText: 'bob offline' }).waitFor();
  await page.locator('[data-testid="presence-user"][data-user="bob"]').waitFor({ state: 'detached' });

  // Screenshots: desktop (1280 px) with a row open, then phone (390 px) without sideways scrolling.
  await eventJSON(page, 2);
  await page.screenshot({ path: join(artifacts, 'console-desktop.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => document.scrollingElement.scrollWidth <= 390);
  const layout = await page.evaluate(() => ({
    scroll: document.scrollingElement.scrollWidth,
    data: document.querySelector('[data-testid="event-row"] code.data').getBoundingClientRect().width,
    counters: document.querySelector('.counters').getBoundingClientRect().right,
  }));
  assert.ok(layout.scroll <= 390, `scrollWidth ${layout.scroll}`);
  assert.ok(layout.counters <= 390, `counters end at ${layout.counters}`);
  assert.ok(layout.data >= 250, `data column ${layout.data} px wide`);
  await page.screenshot({ path: join(artifacts, 'console-phone.png'), fullPage: true });
  for (const name of ['console-desktop.png', 'console-phone.png']) {
    if (process.env.ORGSTREAM_SCREENSHOTS) copyFileSync(join(artifacts, name), join(resolve(process.env.ORGSTREAM_SCREENSHOTS), name));
  }
  assert.deepEqual(problems, []);
});

test('console scope: the topics field narrows the stream on the server; holes are counted, not gaps', { timeout: 120_000 }, async (t) => {
  const { daemon, page, problems } = await session(t, { log: 'daemon-scope.log' });
  await page.goto(daemon.base + '/');
  await mintOnPage(page, 'alice');
  await page.getByTestId('connect-topics').fill('orders.*');
  await page.getByTestId('connect').click();
  await stateIs(page, 'open');
  assert.match(await page.getByTestId('welcome').textContent(), / · scoped · /);

  const pub = await daemon.mint('acme', 'backend', 'publish');
  await daemon.publish(pub, [
    { topic: 'orders.created', data: { n: 1 } },
    { topic: 'billing.paid', data: { n: 2 } },
    { topic: 'orders.updated', data: { n: 3 }, to: ['bob'] },
    { topic: 'orders.updated', data: { n: 4 }, to: ['alice'] },
  ]);
  await page.locator('[data-testid="event-row"][data-seq="4"]').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="count-events"]').textContent === '2');
  assert.deepEqual(await listedSeqs(page), [4, 1]);
  assert.equal(await counter(page, 'holes'), 1);
  assert.equal(await counter(page, 'gaps'), 0);
  assert.equal(await page.locator('[data-testid="gap-row"]').count(), 0);
  assert.deepEqual(problems, []);
});

test('console over SSE: the transport switch, events, a daemon restart resumed without a gap', { timeout: 120_000 }, async (t) => {
  // While the daemon restarts the SSE fetch fails: Chromium logs it.
  const { daemon, page, problems } = await session(t, { log: 'daemon-sse.log', allowConsole: /Failed to load resource: net::ERR_CONNECTION_REFUSED/ });
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(daemon.base + '/');
  await mintOnPage(page, 'sse-user');
  await page.getByTestId('connect-transport').selectOption('sse');
  await page.getByTestId('connect').click();
  await stateIs(page, 'open');
  await page.locator('[data-testid="transport"][data-transport="sse"]').waitFor();
  await mintPublishOnPage(page);
  assert.equal(await publishFromPage(page, '{"n":1}'), 1);
  await page.locator('[data-testid="event-row"][data-seq="1"]').waitFor();
  await daemon.stop();
  await page.locator('[data-testid="state"]:not([data-state="open"])').waitFor();
  await daemon.start();
  await page.getByTestId('retry-now').click({ timeout: 2_000 }).catch(() => {}); // skip what is left of the backoff
  await stateIs(page, 'open', { timeout: 60_000 });
  for (let i = 2; i <= 3; i++) assert.equal(await publishFromPage(page, `{"n":${i}}`), i);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-row"]').length === 3);
  assert.deepEqual(await listedSeqs(page), [3, 2, 1]);
  assert.equal(await counter(page, 'gaps'), 0);
  assert.equal(await counter(page, 'resets'), 0);
  assert.ok((await counter(page, 'resumes')) >= 1);
  assert.match(await page.locator('[data-testid="resume-row"]').first().textContent(), /resumed after seq 1: nothing missed \(SSE\)/);
  assert.deepEqual(sockets, [], 'no WebSocket with transport sse');
  assert.deepEqual(problems, []);
});
