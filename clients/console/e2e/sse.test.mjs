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
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const artifacts = join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const STEP = 30_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** One `orgstream serve` on a fixed port and data dir; restartable. */
class Daemon {
  constructor(bin, port, dataDir, log) {
    Object.assign(this, { bin, port, dataDir, log, proc: null, exited: null });
    this.base = `http://127.0.0.1:${port}`;
  }

  async start() {
    const proc = spawn(this.bin, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir,
      '--nats-listen', 'off', '--drain-period', '200ms', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.pipe(this.log, { end: false });
    proc.stderr.pipe(this.log, { end: false });
    this.proc = proc;
    this.exited = new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal })));
    const deadline = Date.now() + STEP;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`orgstream exited with ${proc.exitCode} before ready`);
      try {
        if ((await fetch(this.base + '/readyz')).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('orgstream not ready within 30s');
      await sleep(50);
    }
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STEP);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    this.proc = null;
    assert.equal(code, 0, `orgstream exited with ${code ?? signal} on SIGTERM`);
  }

  kill() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  token(org, sub, publish = false) {
    const args = ['token', '--org', org, '--sub', sub, '--ttl', '10m', '--data-dir', this.dataDir];
    if (publish) args.push('--publish');
    return execFileSync(this.bin, args, { encoding: 'utf8' }).trim();
  }

  async publish(token, n) {
    const events = Array.from({ length: n }, (_, i) => ({ topic: 'sse.test', data: { i } }));
    const r = await fetch(`${this.base}/v2/realtime/orgs/acme/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    return (await r.json()).seqs;
  }
}

function daemonBinary(tmp) {
  if (process.env.ORGSTREAM_BIN) return resolve(process.env.ORGSTREAM_BIN);
  const bin = join(tmp, 'orgstream');
  execFileSync('go', ['build', '-o', bin, './cmd/orgstream'], { cwd: repo, stdio: 'inherit' });
  return bin;
}

test('sse: a bare EventSource resumes across a daemon restart with no gap and no duplicate', { timeout: 180_000 }, async (t) => {
  mkdirSync(artifacts, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'orgstream-sse-e2e-'));
  const log = createWriteStream(join(artifacts, 'daemon-sse.log'));
  const daemon = new Daemon(daemonBinary(tmp), await freePort(), join(tmp, 'data'), log);
  let context = null;
  t.after(async () => {
    await context?.close().catch(() => {});
    try {
      await daemon.stop();
    } finally {
      daemon.kill();
      log.end();
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  await daemon.start();
  const sub = daemon.token('acme', 'alice');
  const pub = daemon.token('acme', 'backend', true);

  context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
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

  assert.deepEqual(await daemon.publish(pub, 5), [1, 2, 3, 4, 5]);
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
  assert.deepEqual(await daemon.publish(pub, 3), [6, 7, 8]);
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
