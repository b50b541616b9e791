// Browser end-to-end test of GET /v2/realtime/sse with nothing but a bare
// EventSource (no library): a real daemon, a real headless Chromium.
//
//   npm run test:e2e          (builds the daemon with go build, or uses $ORGSTREAM_BIN)
//
// The page opens an EventSource with a token in the URL and no position,
// receives events 1..5 live, then the daemon restarts (SIGTERM: the stream
// ends; the same port and data dir), events 6..8 are published before the
// browser is back, and the EventSource reconnects on its own with
// Last-Event-ID: the daemon resumes it (welcome resumed, replay from 6),
// and the page holds 1..8 once each, with ids <epoch>:<seq>, no reset. The
// stream is gzip (Chromium accepts it) and its retry is in [1000, 3000) ms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { session, STEP } from './harness.mjs';

/** n events of topic sse.test. */
const batch = (n) => Array.from({ length: n }, (_, i) => ({ topic: 'sse.test', data: { i } }));

test('sse: a bare EventSource resumes across a daemon restart with no gap and no duplicate', { timeout: 180_000 }, async (t) => {
  // No console check: an EventSource's failed reconnects are what this test provokes.
  const { daemon, page, problems } = await session(t, { log: 'daemon-eventsource.log', dev: false, allowConsole: null });
  const sub = daemon.token('acme', 'alice');
  const pub = daemon.token('acme', 'backend', true);

  const encodings = []; // Content-Encoding of each SSE response
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/v2/realtime/sse') encodings.push(`${r.status()} ${r.headers()['content-encoding'] ?? ''}`);
  });
  // A page of the daemon's origin, so that the EventSource is same-origin.
  await page.goto(daemon.base + '/healthz');
  await page.evaluate((url) => {
    const s = (window.sse = { events: [], welcomes: [], resets: [], errors: 0 });
    const es = new EventSource(url);
    window.es = es;
    es.addEventListener('welcome', (e) => s.welcomes.push(JSON.parse(e.data)));
    es.addEventListener('reset', (e) => s.resets.push(JSON.parse(e.data)));
    es.addEventListener('event', (e) => s.events.push({ id: e.lastEventId, seq: JSON.parse(e.data).seq }));
    es.onerror = () => s.errors++;
  }, `/v2/realtime/sse?access_token=${encodeURIComponent(sub)}`);
  const state = () => page.evaluate(() => ({ ...window.sse, readyState: window.es.readyState }));
  await page.waitForFunction(() => window.sse.welcomes.length === 1);

  assert.deepEqual((await daemon.publish(pub, batch(5))).seqs, [1, 2, 3, 4, 5]);
  await page.waitForFunction(() => window.sse.events.length === 5);

  // The restart: SIGTERM ends the stream (1001); events published while the
  // browser waits to reconnect come with the resume.
  await daemon.stop();
  // The daemon listens before it is ready and answers 503 meanwhile, which
  // an EventSource takes as final: restart it right after a failed attempt
  // (connection refused), so that the next one, retry ms (1-3 s) later,
  // finds it ready.
  await page.waitForFunction(() => window.sse.errors >= 2);
  await daemon.start();
  assert.deepEqual((await daemon.publish(pub, batch(3))).seqs, [6, 7, 8]);
  await page.waitForFunction(() => window.sse.events.length >= 8 || window.es.readyState === 2, null, { timeout: STEP });

  const s = await state();
  assert.notEqual(s.readyState, 2, `the EventSource gave up: ${JSON.stringify(s)}`);
  const epoch = s.welcomes[0].epoch;
  assert.deepEqual(s.events.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8], 'no gap, no duplicate');
  for (const e of s.events) assert.equal(e.id, `${epoch}:${e.seq}`);
  assert.equal(s.welcomes.length, 2);
  assert.equal(s.welcomes[0].resumed, false);
  assert.equal(s.welcomes[1].resumed, true, JSON.stringify(s.welcomes[1]));
  assert.equal(s.welcomes[1].replay?.from, 6, 'resumed after the last id it saw');
  assert.deepEqual(s.resets, []);
  assert.ok(encodings.length >= 2 && encodings.every((e) => e === '200 gzip'), `responses: ${encodings}`);
  assert.deepEqual(problems, []);
});
