// A real orgstream daemon for the tests: started on a free loopback port with
// a temporary data dir, stopped (SIGTERM, then SIGKILL after 5 s) after.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import WS from 'ws';
import type { WebSocketConstructor } from '../src/index.js';

/** Every daemon process started by this test worker, killed if the worker exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** waitFor polls cond every 20 ms until it holds, or throws after timeoutMs with what. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface TokenClaims {
  sub: string;
  org: string;
  scope?: 'subscribe' | 'publish';
  /** Seconds from now; default 3600. */
  ttl?: number;
  /** The v2 claim `topics` (topic patterns). */
  topics?: string[];
}

export function mintToken(secret: string, c: TokenClaims): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({
    sub: c.sub,
    org: c.org,
    exp: Math.floor(Date.now() / 1000) + (c.ttl ?? 3600),
    scope: c.scope ?? 'subscribe',
    ...(c.topics ? { topics: c.topics } : {}),
  });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export interface Metrics {
  connections: number;
  [k: string]: unknown;
}

export class Daemon {
  readonly secret = randomBytes(32).toString('hex');
  readonly dataDir = mkdtempSync(join(tmpdir(), 'orgstream-js-data-'));
  port = 0;
  private proc: ChildProcess | null = null;
  private output = '';

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the daemon (on the same port and data dir as before, after a stop) and waits for /readyz. */
  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const bin = inject('orgstreamBin');
    const env = { ...process.env, ORGSTREAM_JWT_SECRET: this.secret };
    const proc = spawn(
      bin,
      [
        'serve',
        '--listen', `127.0.0.1:${this.port}`,
        '--data-dir', this.dataDir,
        '--nats-listen', 'off',
        '--drain-period', '200ms',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(proc);
    this.proc = proc;
    this.output = '';
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    proc.on('exit', () => {
      exited = true;
      live.delete(proc);
    });
    const end = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`orgstream exited at start:\n${this.output}`);
      try {
        const r = await fetch(`${this.url}/readyz`);
        if (r.status === 200) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > end) throw new Error(`orgstream not ready after 30 s:\n${this.output}`);
      await sleep(25);
    }
  }

  /** SIGTERM (the daemon drains: clients get 1001), SIGKILL after 5 s; resolves once it exited. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** stop, and remove the data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  token(c: TokenClaims): string {
    return mintToken(this.secret, c);
  }

  /** POSTs events (topic, data) to the org; returns their seqs. */
  async publish(org: string, events: { topic: string; data: unknown; id?: string; to?: string[] }[]): Promise<number[]> {
    const r = await fetch(`${this.url}/v2/realtime/orgs/${org}/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.token({ sub: 'publisher', org, scope: 'publish' })}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ events }),
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`publish: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as { seqs: number[] };
    return body.seqs;
  }

  async metrics(): Promise<Metrics> {
    const r = await fetch(`${this.url}/v2/realtime/metrics`);
    return (await r.json()) as Metrics;
  }
}

/** The `ws` package as the client's WebSocket, counting constructions and recording close codes. */
export function countingWebSocket(): { WebSocket: WebSocketConstructor; sockets: WS[]; closeCodes: number[] } {
  const sockets: WS[] = [];
  const closeCodes: number[] = [];
  class Counting extends WS {
    constructor(url: string) {
      super(url);
      sockets.push(this);
      this.on('close', (code: number) => closeCodes.push(code));
    }
  }
  return { WebSocket: Counting, sockets, closeCodes };
}

/** A Storage in memory (Node has none). */
export class MemoryStorage implements Storage {
  private readonly m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
  getItem(key: string): string | null {
    return this.m.get(key) ?? null;
  }
  key(i: number): string | null {
    return Array.from(this.m.keys())[i] ?? null;
  }
  removeItem(key: string): void {
    this.m.delete(key);
  }
  setItem(key: string, value: string): void {
    this.m.set(key, String(value));
  }
  [name: string]: unknown;
}
