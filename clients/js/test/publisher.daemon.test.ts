// Publisher against a real orgstream daemon: ids on every event, a retry
// after a lost answer that does not store twice, 4xx never retried.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEventId, Publisher, PublishError, retryableStatus, type PublishAck } from '../src/index.js';
import { Daemon, sleep } from './daemon.js';

const d = new Daemon();
beforeAll(() => d.start());
afterAll(() => d.destroy());

let orgN = 0;
const newOrg = (): string => `pub${++orgN}-${Date.now()}`;

/** A fetch that counts its calls. */
function countingFetch(): { fetch: typeof fetch; calls: () => number } {
  let n = 0;
  return {
    fetch: (input, init) => {
      n++;
      return fetch(input, init);
    },
    calls: () => n,
  };
}

/**
 * A TCP proxy on loopback in front of the daemon. Its first `drops`
 * connections pass the request on, wait for the first byte of the daemon's
 * answer (sent after the append: the event is stored) and then reset the
 * client's side: the publisher sees a network error for a stored event.
 */
async function dropProxy(drops: number): Promise<{ url: string; conns: () => number; close: () => Promise<void> }> {
  let conns = 0;
  const sockets = new Set<Socket>();
  const srv: Server = createServer((c) => {
    conns++;
    const drop = drops-- > 0;
    const b = createConnection(d.port, '127.0.0.1');
    sockets.add(c).add(b);
    c.on('close', () => sockets.delete(c));
    b.on('close', () => sockets.delete(b));
    c.on('error', () => b.destroy());
    b.on('error', () => c.destroy());
    c.pipe(b);
    if (drop) {
      b.once('data', () => {
        c.resetAndDestroy();
        b.destroy();
      });
    } else {
      b.pipe(c);
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    conns: () => conns,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

const publisherFor = (url: string, org: string, extra: Partial<ConstructorParameters<typeof Publisher>[0]> = {}) =>
  new Publisher({
    url,
    org,
    token: d.token({ sub: 'pub', org, scope: 'publish' }),
    backoff: { initialMs: 5, maxMs: 50 },
    ...extra,
  });

/** The seq the org's next event gets: its head + 1, so the log holds exactly that many events before it. */
async function nextSeq(org: string): Promise<number> {
  return (await d.publish(org, [{ topic: 'probe', data: 0 }]))[0]!;
}

describe('Publisher (real daemon)', () => {
  it('gives every event a fresh id unless it has one', async () => {
    const org = newOrg();
    const p = publisherFor(d.url, org);
    const a = await p.publish({ topic: 't', data: { n: 1 } });
    const b = await p.publishBatch([
      { topic: 't', data: 1 },
      { topic: 't', data: 2, id: 'mine' },
      { topic: 't', data: 3 },
    ]);
    expect(a).toMatchObject({ seq: 1, duplicate: false, attempts: 1 });
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.seqs).toEqual([2, 3, 4]);
    expect(b.ids[1]).toBe('mine');
    expect(new Set([a.id, ...b.ids]).size).toBe(4);
    // The daemon stored the ids: publishing them again adds nothing.
    const again = await p.publishBatch([
      { topic: 't', data: 0, id: a.id },
      { topic: 't', data: 0, id: b.ids[0]! },
    ]);
    expect(again).toMatchObject({ seqs: [1, 2], duplicate: true });
    expect(await nextSeq(org)).toBe(5);
  });

  for (const n of [1, 3]) {
    it(`retries a lost answer with the same ids: stored once (${n === 1 ? 'single' : 'batch'})`, async () => {
      const org = newOrg();
      const px = await dropProxy(1);
      try {
        const p = publisherFor(px.url, org);
        let seqs: number[];
        let dup: boolean;
        let attempts: number;
        if (n === 1) {
          const a = await p.publish({ topic: 't', data: 'x' });
          [seqs, dup, attempts] = [[a.seq], a.duplicate, a.attempts];
        } else {
          const a = await p.publishBatch(Array.from({ length: n }, () => ({ topic: 't', data: 'x' })));
          [seqs, dup, attempts] = [a.seqs, a.duplicate, a.attempts];
        }
        expect({ dup, attempts, conns: px.conns() }).toEqual({ dup: true, attempts: 2, conns: 2 });
        expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(await nextSeq(org)).toBe(n + 1);
      } finally {
        await px.close();
      }
    });
  }

  const refusals: [string, (org: string) => string, { topic: string; data: unknown }, number, string][] = [
    ['bad topic', (org) => d.token({ sub: 'p', org, scope: 'publish' }), { topic: 'no spaces', data: 1 }, 400, 'invalid_topic'],
    ['subscribe token', (org) => d.token({ sub: 'p', org }), { topic: 't', data: 1 }, 403, 'forbidden'],
    ['other org', () => d.token({ sub: 'p', org: 'other', scope: 'publish' }), { topic: 't', data: 1 }, 403, 'forbidden'],
    ['bad token', () => 'not-a-jwt', { topic: 't', data: 1 }, 401, 'invalid_token'],
  ];
  for (const [name, token, msg, status, code] of refusals) {
    it(`does not retry a 4xx: ${name}`, async () => {
      const org = newOrg();
      const f = countingFetch();
      const p = publisherFor(d.url, org, { token: token(org), fetch: f.fetch });
      const err = await p.publish(msg).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishError);
      expect(err).toMatchObject({ refused: true, outcomeUnknown: false, status, code, attempts: 1 });
      expect((err as PublishError).ids).toHaveLength(1);
      expect(f.calls()).toBe(1);
      expect(await nextSeq(org)).toBe(1);
    });
  }

  it('gives up after retryForMs with the ids and an unknown outcome', async () => {
    const px = await dropProxy(1000);
    try {
      const f = countingFetch();
      const p = publisherFor(px.url, newOrg(), { fetch: f.fetch, retryForMs: 300 });
      const err = await p.publishBatch([{ topic: 't', data: 1, id: 'a' }, { topic: 't', data: 2 }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishError);
      const pe = err as PublishError;
      expect(pe).toMatchObject({ refused: false, outcomeUnknown: true, status: 0 });
      expect(pe.attempts).toBeGreaterThanOrEqual(2);
      expect(pe.attempts).toBe(f.calls());
      expect(pe.ids[0]).toBe('a');
      expect(pe.ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await px.close();
    }
  });

  it('stops retrying when the signal aborts, with the ids', async () => {
    const org = newOrg();
    const px = await dropProxy(1000); // every answer is lost
    try {
      const p = publisherFor(px.url, org);
      const err = await p.publish({ topic: 't', data: 1, id: 'k' }, { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishError);
      expect(err).toMatchObject({ refused: false, outcomeUnknown: true, ids: ['k'] });
      // Every attempt reached the daemon; the id stored the event once.
      expect(await nextSeq(org)).toBe(2);
    } finally {
      await px.close();
    }
  });
});

describe('Publisher batching (real daemon)', () => {
  it('coalesces publish() calls made while a request is in flight, in call order', async () => {
    const org = newOrg();
    const f = countingFetch();
    const p = publisherFor(d.url, org, { fetch: f.fetch, maxBatchEvents: 100 });
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => p.publish({ topic: 't', data: i })));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(Math.max(...acks.map((a) => a.batched))).toBeGreaterThan(1);
    expect(Math.max(...acks.map((a) => a.batched))).toBeLessThanOrEqual(100);
    expect(f.calls()).toBeLessThanOrEqual(30);
    expect(new Set(acks.map((a) => a.id)).size).toBe(300);
    expect(await nextSeq(org)).toBe(301);
  });

  it('fails exactly the events of a refused request; a bad topic goes alone', async () => {
    const org = newOrg();
    const good = d.token({ sub: 'pub', org, scope: 'publish' });
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFirst = new Promise<void>((r) => (entered = r));
    const f = countingFetch();
    // minBatchEvents 1: the three queued events go together.
    // The first request waits for its token while the others queue behind
    // it: [e0], [b0 b1 b2] (its token is bad: 401), [x] (400), [c].
    const p = publisherFor(d.url, org, {
      fetch: f.fetch,
      minBatchEvents: 1,
      token: async () => {
        calls++;
        if (calls === 1) {
          entered();
          await held;
        }
        return calls === 2 ? 'not-a-jwt' : good;
      },
    });
    const e0 = p.publish({ topic: 't', data: 0 });
    await inFirst;
    const bs = [1, 2, 3].map((i) => p.publish({ topic: 't', data: -i }).catch((e: unknown) => e));
    const x = p.publish({ topic: 'no spaces', data: 0 }).catch((e: unknown) => e);
    const c = p.publish({ topic: 't', data: 1 });
    release();
    expect((await e0).seq).toBe(1);
    expect((await c).seq).toBe(2);
    for (const b of await Promise.all(bs)) {
      expect(b).toMatchObject({ refused: true, status: 401, code: 'invalid_token', attempts: 1 });
      expect((b as PublishError).ids).toHaveLength(1);
    }
    expect(await x).toMatchObject({ refused: true, status: 400, code: 'invalid_topic', attempts: 1 });
    expect(f.calls()).toBe(4);
    expect(await nextSeq(org)).toBe(3);
  });

  it('sends single events one per request below minBatchEvents', async () => {
    const org = newOrg();
    const f = countingFetch();
    const p = publisherFor(d.url, org, { fetch: f.fetch, minBatchEvents: 8 });
    const acks = await Promise.all(Array.from({ length: 5 }, (_, i) => p.publish({ topic: 't', data: i })));
    expect(acks.map((a) => [a.seq, a.batched])).toEqual(Array.from({ length: 5 }, (_, i) => [i + 1, 1]));
    expect(f.calls()).toBe(5);
  });

  it('close() flushes what is queued, then refuses', async () => {
    const org = newOrg();
    const p = publisherFor(d.url, org, { maxBatchEvents: 50, lingerMs: 1000 });
    let settled = 0;
    const all = Array.from({ length: 120 }, (_, i) => p.publish({ topic: 't', data: i }).finally(() => settled++));
    await p.close();
    expect(settled).toBe(120);
    expect((await Promise.all(all)).map((a) => a.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    await expect(p.publish({ topic: 't', data: 0 })).rejects.toMatchObject({ attempts: 0, refused: false });
    expect(await nextSeq(org)).toBe(121);
  });

  it('retries across a daemon restart: every event stored once, in call order', async () => {
    const org = newOrg();
    const p = publisherFor(d.url, org, { maxBatchEvents: 10 });
    await p.publish({ topic: 't', data: 0 }); // the stream runs
    const all: Promise<PublishAck>[] = [];
    let restarted = false;
    let after = 0;
    const producer = (async () => {
      for (let i = 1; after < 100; i++) {
        all.push(p.publish({ topic: 't', data: i }));
        if (restarted) after++;
        if (i % 10 === 0) await sleep(1);
      }
    })();
    await d.stop();
    await d.start();
    restarted = true;
    await producer;
    const acks = await Promise.all(all);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: acks.length }, (_, i) => i + 2));
    expect(acks.some((a) => a.attempts > 1)).toBe(true);
    expect(await nextSeq(org)).toBe(acks.length + 2);
  });
});

describe('Publisher (no daemon)', () => {
  it('checks messages before sending', async () => {
    const f = countingFetch();
    const p = new Publisher({ url: 'http://127.0.0.1:1', org: 'a', token: 'x', fetch: f.fetch });
    for (const bad of [
      () => p.publish({ topic: '', data: 1 }),
      () => p.publish({ topic: 't', data: undefined }),
      () => p.publish({ topic: 't', data: 1, id: ' x' }),
      () => p.publishBatch([]),
      () => p.publishBatch(Array.from({ length: 1001 }, () => ({ topic: 't', data: 1 }))),
    ]) {
      await expect(bad()).rejects.toMatchObject({ attempts: 0, refused: false, outcomeUnknown: false });
    }
    expect(f.calls()).toBe(0);
    expect(() => new Publisher({ url: 'ws://h', org: 'a', token: 'x' })).toThrow(TypeError);
    expect(() => new Publisher({ url: 'http://h', org: 'a', token: 'x', retryForMs: 180_000 })).toThrow(RangeError);
  });

  it('classifies statuses', () => {
    for (const s of [400, 401, 403, 404, 413]) expect(retryableStatus(s)).toBe(false);
    for (const s of [408, 429, 500, 502, 503, 504]) expect(retryableStatus(s)).toBe(true);
  });

  it('makes distinct UUIDv4 ids', () => {
    const ids = new Set(Array.from({ length: 10_000 }, newEventId));
    expect(ids.size).toBe(10_000);
  });
});
