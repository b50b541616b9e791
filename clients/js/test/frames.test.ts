// Frame handling and hole detection, fed through an in-test WebSocket (a
// server that skips a seq cannot be provoked on the real daemon).
import { CLIENT_NAME } from '../src/version.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientOptions, ConnectionState } from '../src/index.js';
import { MemoryStorage } from './daemon.js';
import { fakeClient } from './fake-client.js';
import { event, jwt, reset, welcome } from './fake-socket.js';
import { q, seqs } from './recorder.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('frames', () => {
  it('builds the stream URL and asks to resume only with a position', async () => {
    const { client, ws } = fakeClient();
    client.connect();
    expect(ws.last().url).toBe('wss://rt.example.test/base/v2/realtime/stream?access_token=T0K3N-secret&client=orgstream-js%2F0.1.0');
    ws.last().open(welcome({ head: 5, epoch: 'e/1 x' }));
    ws.last().serverClose(1001);
    await vi.advanceTimersByTimeAsync(0);
    expect(q(ws.last().url)).toEqual({ access_token: 'T0K3N-secret', last_seq: '5', epoch: 'e/1 x', client: CLIENT_NAME });
    expect(ws.last().url).toContain('epoch=e%2F1+x');
    client.close();
  });

  it('detects a hole: reports it, does not deliver past it, and resumes from the last seq', async () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    const s1 = ws.last();
    s1.open(welcome({ head: 0 }));
    s1.send(event(1));
    s1.send(event(2));
    s1.send(event(2)); // duplicate: dropped silently
    s1.send(event(1)); // duplicate
    expect(client.stats.duplicates).toBe(2);
    s1.send(event(4)); // hole: 3 is missing
    expect(rec.gaps).toEqual([{ expected: 3, got: 4 }]);
    expect(client.stats.gaps).toBe(1);
    expect(seqs(rec.events)).toEqual([1, 2]);
    expect(s1.closedByClient).toEqual({ code: 1000, reason: 'seq gap' });
    expect(client.state).toBe('resuming');
    s1.send(event(5)); // the old socket is detached
    expect(seqs(rec.events)).toEqual([1, 2]);

    await vi.advanceTimersByTimeAsync(50);
    const s2 = ws.last();
    expect(s2).not.toBe(s1);
    expect(q(s2.url)).toMatchObject({ last_seq: '2', epoch: 'e-1' });
    s2.open(welcome({ head: 5, resumed: true, replay: { from: 3, to: 5 } }));
    for (const n of [3, 4, 5]) s2.send(event(n));
    expect(seqs(rec.events)).toEqual([1, 2, 3, 4, 5]);
    expect(client.stats).toMatchObject({ events: 5, gaps: 1, duplicates: 2, connects: 2, reconnects: 1, resumes: 1 });
    expect(rec.states).toEqual(['connecting', 'open', 'resuming', 'open']);
    client.close();
  });

  it('checks the first event after a fresh welcome against head', async () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    ws.last().open(welcome({ head: 10 }));
    expect(client.position).toEqual({ epoch: 'e-1', lastSeq: 10, org: 'acme', user: 'alice' });
    ws.last().send(event(9)); // before head: a duplicate
    ws.last().send(event(12));
    expect(rec.gaps).toEqual([{ expected: 11, got: 12 }]);
    expect(rec.events).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(q(ws.last().url)).toMatchObject({ last_seq: '10', epoch: 'e-1' });
    client.close();
  });

  it('keeps the position over a refused resume until the reset, then adopts head and the new epoch', async () => {
    const storage = new MemoryStorage();
    storage.setItem('orgstream:https://rt.example.test/base/', JSON.stringify({ epoch: 'e-old', lastSeq: 40, org: 'acme' }));
    const { client, ws, rec } = fakeClient({ storage });
    expect(client.position).toEqual({ epoch: 'e-old', lastSeq: 40, org: 'acme' });
    client.connect();
    expect(rec.states).toEqual(['resuming']);
    expect(q(ws.last().url)).toMatchObject({ last_seq: '40', epoch: 'e-old' });
    ws.last().open(welcome({ epoch: 'e-new', head: 3, resumed: false }));
    expect(client.position).toEqual({ epoch: 'e-old', lastSeq: 40, org: 'acme', user: 'alice' });
    ws.last().serverClose(1001); // ends before the reset: ask again
    await vi.advanceTimersByTimeAsync(0);
    expect(q(ws.last().url)).toMatchObject({ last_seq: '40', epoch: 'e-old' });
    ws.last().open(welcome({ epoch: 'e-new', head: 3, resumed: false }));
    ws.last().send(reset('epoch_changed', 1, 3));
    expect(rec.resets).toEqual([{ reason: 'epoch_changed', first: 1, head: 3 }]);
    expect(client.position).toEqual({ epoch: 'e-new', lastSeq: 3, org: 'acme', user: 'alice' });
    expect(JSON.parse(storage.getItem('orgstream:https://rt.example.test/base/')!)).toEqual({ epoch: 'e-new', lastSeq: 3, org: 'acme', user: 'alice' });
    ws.last().send(event(4));
    expect(seqs(rec.events)).toEqual([4]);
    expect(client.stats).toMatchObject({ resets: 1, resumes: 0, connects: 2 });
    client.close();
  });

  it.each([
    ['malformed JSON', ['{nope']],
    ['not an object', ['[1,2]']],
    ['event before the welcome', [event(1)]],
    ['a second welcome', [welcome(), welcome()]],
    ['malformed event', [welcome(), { type: 'event', seq: '1', topic: 't' }]],
    ['malformed welcome', [{ type: 'welcome', org: 'acme', epoch: 'e', head: -1, resumed: false }]],
    ['welcome without org', [{ type: 'welcome', epoch: 'e', head: 0, resumed: false }]],
    ['reset before the welcome', [reset('window_exceeded', 1, 2)]],
  ])('drops the connection on a protocol error: %s', async (_name, frames) => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    const s = ws.last();
    s.accept();
    for (const f of frames) s.send(f as object | string);
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]!.name).toBe('ProtocolError');
    expect(s.closedByClient).toEqual({ code: 1000, reason: 'protocol error' });
    await vi.advanceTimersByTimeAsync(50);
    expect(ws.sockets).toHaveLength(2);
    client.close();
  });

  it('refuses events after a refused resume that got no reset', async () => {
    const storage = new MemoryStorage();
    storage.setItem('k', JSON.stringify({ epoch: 'e-1', lastSeq: 4, org: 'acme' }));
    const { client, ws, rec } = fakeClient({ storage, storageKey: 'k' });
    client.connect();
    ws.last().open(welcome({ resumed: false, head: 9 }));
    ws.last().send(event(10));
    expect(rec.events).toEqual([]);
    expect(rec.errors[0]!.message).toMatch(/after a refused resume without a reset/);
    client.close();
  });

  it('ignores unknown frame types and decodes binary frames', () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    ws.last().open(welcome());
    ws.last().send({ type: 'a-later-type', who: 'bob' });
    ws.last().onmessage?.({ data: new TextEncoder().encode(JSON.stringify(event(1))).buffer });
    expect(seqs(rec.events)).toEqual([1]);
    expect(rec.errors).toEqual([]);
    client.close();
  });

  it('keeps the stream going when a handler throws, and reports the exception', () => {
    const { client, ws, rec } = fakeClient({
      onEvent: (e) => {
        rec.events.push(e);
        if (e.seq === 1) throw new Error('handler bug');
      },
    });
    const got: number[] = [];
    client.subscribe(() => {
      throw new Error('subscriber bug');
    });
    client.subscribe((e) => got.push(e.seq));
    client.connect();
    ws.last().open(welcome());
    ws.last().send(event(1));
    ws.last().send(event(2));
    expect(seqs(rec.events)).toEqual([1, 2]);
    expect(got).toEqual([1, 2]);
    expect(rec.errors.map((e) => e.message)).toEqual(['handler bug', 'subscriber bug', 'subscriber bug']);
    expect(client.position?.lastSeq).toBe(2);
    client.close();
  });

  it('an unsubscribe during delivery takes effect at once', () => {
    const { client, ws } = fakeClient();
    const got: string[] = [];
    let offB = (): void => {};
    client.subscribe((e) => {
      got.push(`a${e.seq}`);
      offB();
    });
    offB = client.subscribe((e) => got.push(`b${e.seq}`));
    client.connect();
    ws.last().open(welcome());
    ws.last().send(event(1));
    expect(got).toEqual(['a1']);
    client.close();
  });

  it('throttles position writes while events flow', async () => {
    const storage = new MemoryStorage();
    const { client, ws } = fakeClient({ storage, storageKey: 'p' });
    client.connect();
    ws.last().open(welcome({ head: 0 }));
    expect(JSON.parse(storage.getItem('p')!)).toEqual({ epoch: 'e-1', lastSeq: 0, org: 'acme', user: 'alice' });
    for (let n = 1; n <= 10; n++) ws.last().send(event(n));
    expect(JSON.parse(storage.getItem('p')!)).toEqual({ epoch: 'e-1', lastSeq: 0, org: 'acme', user: 'alice' });
    await vi.advanceTimersByTimeAsync(250);
    expect(JSON.parse(storage.getItem('p')!)).toEqual({ epoch: 'e-1', lastSeq: 10, org: 'acme', user: 'alice' });
    ws.last().send(event(11));
    client.close();
    expect(JSON.parse(storage.getItem('p')!)).toEqual({ epoch: 'e-1', lastSeq: 11, org: 'acme', user: 'alice' });
  });

  it('ignores a garbage stored position, and one without org (an older version)', () => {
    for (const raw of [
      'nope',
      '{}',
      'null',
      '{"epoch":"","lastSeq":1,"org":"acme"}',
      '{"epoch":"e","lastSeq":-1,"org":"acme"}',
      '{"epoch":"e","lastSeq":1.5,"org":"acme"}',
      '{"epoch":"e","lastSeq":1,"org":""}',
      '{"epoch":"e","lastSeq":1,"org":7}',
      '{"epoch":"e","lastSeq":1}',
    ]) {
      const storage = new MemoryStorage();
      storage.setItem('k', raw);
      const { client } = fakeClient({ storage, storageKey: 'k' });
      expect(client.position, raw).toBeNull();
    }
    const storage = new MemoryStorage();
    storage.setItem('k', '{"epoch":"e","lastSeq":1,"org":"acme","user":7}');
    expect(fakeClient({ storage, storageKey: 'k' }).client.position).toEqual({ epoch: 'e', lastSeq: 1, org: 'acme' });
  });

  it('never puts the token into an error', () => {
    const token = 'T0K3N-secret';
    const Throwing = class {
      constructor(url: string) {
        throw new SyntaxError(`bad url ${url}`);
      }
    };
    const { client, rec } = fakeClient({ WebSocket: Throwing as unknown as ClientOptions['WebSocket'] });
    client.connect();
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]!.message).toBe('orgstream: could not open a WebSocket');
    expect(String(rec.errors[0]!.stack)).not.toContain(token);
    client.close();
  });

  it('reports each state change once', async () => {
    const { client, ws, rec } = fakeClient();
    expect(client.state).toBe('closed');
    const seen: ConnectionState[] = [];
    const off = client.onState((s) => seen.push(s));
    client.connect();
    ws.last().fail();
    await vi.advanceTimersByTimeAsync(50);
    ws.last().fail();
    await vi.advanceTimersByTimeAsync(100);
    ws.last().open(welcome());
    off();
    client.close();
    expect(rec.states).toEqual(['connecting', 'open', 'closed']);
    expect(seen).toEqual(['connecting', 'open']);
  });

  it('stats returns one snapshot until a counter changes', () => {
    const { client, ws } = fakeClient();
    let calls = 0;
    client.onStats(() => calls++);
    const a = client.stats;
    expect(client.stats).toBe(a);
    client.connect();
    ws.last().open(welcome());
    const b = client.stats;
    expect(b).not.toBe(a);
    expect(b.connects).toBe(1);
    expect(Object.isFrozen(b)).toBe(true);
    expect(calls).toBe(1);
    client.close();
  });
});

describe('close() from a callback', () => {
  it('is final even in the middle of a welcome', () => {
    const { client, ws, rec } = fakeClient();
    client.onStats(() => client.close());
    client.connect();
    ws.last().open(welcome());
    expect(client.state).toBe('closed');
    expect(rec.states).toEqual(['connecting', 'closed']);
    expect(ws.last().closedByClient).toEqual({ code: 1000, reason: undefined });
  });
});

describe('the position belongs to an org', () => {
  const key = 'orgstream:https://rt.example.test/base/';
  const stored = (org?: string): MemoryStorage => {
    const storage = new MemoryStorage();
    storage.setItem(key, JSON.stringify({ epoch: 'e-1', lastSeq: 40, org, user: 'alice' }));
    return storage;
  };

  it("resumes from a stored position of the token's org", () => {
    const { client, ws, rec } = fakeClient({ storage: stored('acme'), token: jwt({ sub: 'bob', org: 'acme' }) });
    client.connect();
    expect(rec.states).toEqual(['resuming']);
    expect(q(ws.last().url)).toMatchObject({ last_seq: '40', epoch: 'e-1' });
    client.close();
  });

  it("does not resume from a stored position of another org than the token's", () => {
    const storage = stored('acme');
    const { client, ws, rec } = fakeClient({ storage, token: jwt({ sub: 'alice', org: 'other' }) });
    expect(client.position).toEqual({ epoch: 'e-1', lastSeq: 40, org: 'acme', user: 'alice' });
    client.connect();
    expect(rec.states).toEqual(['connecting']);
    expect(q(ws.last().url)).not.toHaveProperty('last_seq');
    expect(q(ws.last().url)).not.toHaveProperty('epoch');
    expect(client.position).toBeNull();
    ws.last().open(welcome({ org: 'other', head: 7 }));
    expect(client.position).toEqual({ epoch: 'e-1', lastSeq: 7, org: 'other', user: 'alice' });
    expect(JSON.parse(storage.getItem(key)!)).toEqual({ epoch: 'e-1', lastSeq: 7, org: 'other', user: 'alice' });
    ws.last().send(event(8));
    expect(seqs(rec.events)).toEqual([8]);
    expect(client.stats).toMatchObject({ resumes: 0, resets: 0, gaps: 0 });
    client.close();
  });

  it('checks the org of a token function once it has the token', async () => {
    const { client, ws, rec } = fakeClient({ storage: stored('acme'), token: async () => jwt({ sub: 'alice', org: 'other' }) });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.states).toEqual(['resuming', 'connecting']);
    expect(q(ws.last().url)).not.toHaveProperty('last_seq');
    client.close();
  });

  it('starts fresh after setToken() with a token of another org', async () => {
    const { client, ws } = fakeClient({ token: jwt({ sub: 'alice', org: 'acme' }) });
    client.connect();
    ws.last().open(welcome({ org: 'acme', head: 3 }));
    ws.last().send(event(4));
    client.setToken(jwt({ sub: 'alice', org: 'acme' }));
    ws.last().serverClose(1001);
    await vi.advanceTimersByTimeAsync(0);
    expect(q(ws.last().url)).toMatchObject({ last_seq: '4', epoch: 'e-1' }); // same org: resumes
    ws.last().open(welcome({ org: 'acme', head: 4, resumed: true }));
    client.setToken(jwt({ sub: 'alice', org: 'other' }));
    ws.last().serverClose(1001);
    await vi.advanceTimersByTimeAsync(0);
    expect(q(ws.last().url)).not.toHaveProperty('last_seq');
    expect(client.state).toBe('connecting');
    client.close();
  });

  it('drops a resume that the welcome says is of another org (the token had no readable org) and starts fresh', async () => {
    const { client, ws, rec } = fakeClient({ storage: stored('acme') }); // token 'T0K3N-secret': not a JWT
    client.connect();
    expect(q(ws.last().url)).toMatchObject({ last_seq: '40' });
    const s1 = ws.last();
    s1.open(welcome({ org: 'other', head: 50, resumed: true, replay: { from: 41, to: 50 } }));
    s1.send(event(41));
    expect(rec.events).toEqual([]);
    expect(rec.errors[0]!.name).toBe('ProtocolError');
    expect(s1.closedByClient).toEqual({ code: 1000, reason: 'protocol error' });
    expect(client.position).toBeNull();
    await vi.advanceTimersByTimeAsync(50);
    expect(ws.last()).not.toBe(s1);
    expect(q(ws.last().url)).not.toHaveProperty('last_seq');
    client.close();
  });
});
