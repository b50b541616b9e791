// What the browser tests share: the daemon binary, a restartable daemon on a
// fixed port and data dir, and a session (daemon + headless Chromium + a page
// whose errors are collected) torn down after its test. Not a test file: the
// runner takes only *.test.mjs.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
export const artifacts = join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const STEP = 30_000; // one phase of a test; generous for a shared 2-core box

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

let built = null;
let buildDir = null;
/** The daemon binary: $ORGSTREAM_BIN, or built once (go build) for all tests of the file. */
export function binary() {
  if (built) return built;
  if (process.env.ORGSTREAM_BIN) return (built = resolve(process.env.ORGSTREAM_BIN));
  buildDir = mkdtempSync(join(tmpdir(), 'orgstream-console-bin-'));
  built = join(buildDir, 'orgstream');
  execFileSync('go', ['build', '-o', built, './cmd/orgstream'], { cwd: repo, stdio: 'inherit' });
  return built;
}
after(() => buildDir && rmSync(buildDir, { recursive: true, force: true }));

/** One `orgstream serve` (--dev if dev) on a fixed port and data dir; restartable. */
export class Daemon {
  constructor(bin, port, dataDir, log, logPath, dev = true) {
    Object.assign(this, { bin, port, dataDir, log, logPath, dev, proc: null, exited: null });
    this.base = `http://127.0.0.1:${port}`;
  }

  async start() {
    const proc = spawn(
      this.bin,
      ['serve', ...(this.dev ? ['--dev'] : []), '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir,
        '--nats-listen', 'off', '--drain-period', '200ms', '--log-format', 'json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout.pipe(this.log, { end: false });
    proc.stderr.pipe(this.log, { end: false });
    this.proc = proc;
    this.exited = new Promise((ok) => proc.once('exit', (code, signal) => ok({ code, signal })));
    const deadline = Date.now() + STEP;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`orgstream exited with ${proc.exitCode} before ready (see ${this.logPath})`);
      try {
        if ((await fetch(this.base + '/readyz')).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('orgstream not ready within 30s');
      await sleep(50);
    }
  }

  /** SIGTERM, as a deploy would: clients get 1001; the exit status must be 0. */
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

  /** A token from the dev endpoint (--dev only). */
  async mint(org, sub, scope) {
    const r = await fetch(this.base + '/v2/dev/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ org, sub, scope, ttl: '10m' }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    return (await r.json()).token;
  }

  /** A token from the CLI (`orgstream token`), as a user without --dev gets one. */
  token(org, sub, publish = false) {
    const args = ['token', '--org', org, '--sub', sub, '--ttl', '10m', '--data-dir', this.dataDir];
    if (publish) args.push('--publish');
    return execFileSync(this.bin, args, { encoding: 'utf8' }).trim();
  }

  /** POSTs events to org acme over HTTP; asserts 201 and returns the body. */
  async publish(token, events) {
    const r = await fetch(`${this.base}/v2/realtime/orgs/acme/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
      body: JSON.stringify({ events }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    return r.json();
  }
}

const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
};

/**
 * A started daemon (its output in artifacts/<log>) and a Chromium page, both
 * gone after test t (a screenshot to artifacts/<screenshot> first, if asked).
 * problems collects page errors and console errors but those that match
 * allowConsole (Chromium logs failed connections on its own while the daemon
 * restarts); with allowConsole null, console errors are not collected.
 * launch adds to the browser's options (e.g. permissions).
 */
export async function session(t, { log: logName, dev = true, allowConsole, screenshot, launch = {} }) {
  mkdirSync(artifacts, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'orgstream-console-e2e-'));
  const logPath = join(artifacts, logName);
  const log = createWriteStream(logPath);
  const daemon = new Daemon(binary(), await freePort(), join(tmp, 'data'), log, logPath, dev);
  const s = { daemon, tmp, context: null, page: null, problems: [] };
  t.after(async () => {
    if (s.page && screenshot) {
      const path = join(artifacts, screenshot);
      await s.page.screenshot({ path, fullPage: true }).catch((e) => console.error('screenshot failed:', e.message));
      console.log(`screenshot: ${path}`);
    }
    await s.context?.close().catch(() => {});
    try {
      await daemon.stop(); // SIGTERM again: exit 0 expected
    } finally {
      daemon.kill();
      log.end();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  await daemon.start();
  s.context = await chromium.launchPersistentContext(join(tmp, 'profile'), { ...LAUNCH, ...launch });
  const page = (s.page = s.context.pages()[0] ?? (await s.context.newPage()));
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => s.problems.push('page error: ' + e.message));
  if (allowConsole !== null) {
    page.on('console', (m) => {
      if (m.type() === 'error' && !allowConsole?.test(m.text())) s.problems.push('console: ' + m.text());
    });
  }
  return s;
}
