// Reconnect timing, with fake timers and an in-test WebSocket (see fake-socket.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, decideReconnect, RealtimeClient, type ClientOptions } from '../src/index.js';
import { fakeWebSocket, event, welcome } from './fake-socket.js';

describe('backoffDelay', () => {
  const opts = { initialMs: 500, maxMs: 30_000 };
  it.each([
    [0, 0.5, 250],
    [1, 0.5, 500],
    [2, 0.5, 1000],
    [5, 0.5, 8000],
    [6, 0.5, 15_000], // 500·64 = 32000 > max
    [60, 0.5, 15_000],
    [2000, 0.5, 15_000], // 2^2000 is Infinity: still max
    [3, 0, 0],
    [3, 0.999, 3996],
  ])('attempt %i, random %f → %f ms', (attempt, r, want) => {
    expect(backoffDelay(attempt, opts, () => r)).toBeCloseTo(want, 6);
  });
});

describe('decideReconnect', () => {
  it.each([
    [1001, true, 'now'],
    [4008, true, 'now'],
    [4001, true, 'now'],
    [1001, false, 'backoff'],
    [4001, false, 'backoff'],
    [4029, true, 'too-many'],
    [4029, false, 'too-many'],
    [1006, true, 'backoff'],
    [1008, true, 'backoff'],
    [1009, true, 'backoff'],
    [1000, true, 'backoff'],
  ] as const)('close %i, welcomed %s → %s', (code, welcomed, want) => {
    expect(decideReconnect(code, welcomed)).toBe(want);
  });
});

describe('reconnect scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function make(opts: Partial<ClientOptions> = {}) {
    const ws = fakeWebSocket();
    const errors: Error[] = [];
    const client = new RealtimeClient({
      url: 'http://127.0.0.1:1',
      token: 'T',
      WebSocket: ws.WebSocket,
      transport: 'websocket', // the SSE fallback has tests of its own (transport.test.ts)
      backoff: { initialMs: 100, maxMs: 1000 },
      random: () => 0.5,
      onError: (e) => errors.push(e),
      ...opts,
    });
    return { client, ws, errors };
  }

  /** Advances by ms-1 (no new socket yet), then by 1 (one new socket); returns it. */
  async function expectReconnectAfter(ws: ReturnType<typeof fakeWebSocket>, ms: number) {
    const n = ws.sockets.length;
    if (ms > 0) {
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(ws.sockets.length, `no reconnect before ${ms} ms`).toBe(n);
      await vi.advanceTimersByTimeAsync(1);
    } else {
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(ws.sockets.length, `a reconnect after ${ms} ms`).toBe(n + 1);
    return ws.last();
  }

  it('grows full-jitter waits per consecutive failure up to maxMs, and starts over after a welcome', async () => {
    const { client, ws } = make();
    client.connect();
    expect(ws.sockets).toHaveLength(1);
    for (const want of [50, 100, 200, 400, 500, 500]) {
      ws.last().fail();
      expect(client.state).toBe('connecting');
      await expectReconnectAfter(ws, want);
    }
    ws.last().accept();
    ws.last().send(welcome());
    expect(client.state).toBe('open');
    ws.last().fail(); // dropped without a close frame
    expect(client.state).toBe('resuming');
    await expectReconnectAfter(ws, 50);
    client.close();
  });

  it('reconnects at once after 1001 and 4008, resuming', async () => {
    const { client, ws, errors } = make();
    client.connect();
    for (const code of [1001, 4008]) {
      const s = ws.last();
      s.accept();
      s.send(welcome({ head: 7, resumed: ws.sockets.length > 1 }));
      s.send(event(8));
      s.serverClose(code);
      expect(client.state).toBe('resuming');
      const next = await expectReconnectAfter(ws, 0);
      expect(new URL(next.url).searchParams.get('last_seq')).toBe('8');
      expect(new URL(next.url).searchParams.get('epoch')).toBe('e-1');
    }
    expect(errors).toEqual([]);
    client.close();
  });

  it('after 4001 asks the token function again and reconnects at once', async () => {
    let n = 0;
    const { client, ws } = make({ token: () => `tok-${++n}` });
    client.connect();
    expect(new URL(ws.last().url).searchParams.get('access_token')).toBe('tok-1');
    ws.last().accept();
    ws.last().send(welcome());
    ws.last().serverClose(4001);
    const next = await expectReconnectAfter(ws, 0);
    expect(new URL(next.url).searchParams.get('access_token')).toBe('tok-2');
    // 1001 reuses the cached token (it does not expire soon: it is not a JWT).
    next.accept();
    next.send(welcome({ resumed: true }));
    next.serverClose(1001);
    const third = await expectReconnectAfter(ws, 0);
    expect(new URL(third.url).searchParams.get('access_token')).toBe('tok-2');
    // A failure asks again (a browser cannot tell a 401 refusal from other failures).
    third.fail();
    const fourth = await expectReconnectAfter(ws, 50);
    expect(new URL(fourth.url).searchParams.get('access_token')).toBe('tok-3');
    client.close();
  });

  it('backs off when 1001/4001 come before any welcome', async () => {
    const { client, ws } = make();
    client.connect();
    ws.last().accept();
    ws.last().serverClose(1001);
    await expectReconnectAfter(ws, 50);
    ws.last().accept();
    ws.last().serverClose(4001);
    await expectReconnectAfter(ws, 100);
    client.close();
  });

  it('waits at least tooManyMs after 4029 (default initialMs·20)', async () => {
    const { client, ws, errors } = make();
    client.connect();
    ws.last().accept();
    ws.last().send(welcome());
    ws.last().serverClose(4029);
    await expectReconnectAfter(ws, 2000 + 50);
    ws.last().accept();
    ws.last().serverClose(4029);
    await expectReconnectAfter(ws, 2000 + 100);
    expect(errors.map((e) => e.message)).toEqual([
      'orgstream: closed with 4029: too many connections',
      'orgstream: closed with 4029: too many connections',
    ]);
    client.close();

    const custom = make({ backoff: { initialMs: 100, maxMs: 1000, tooManyMs: 7000 }, random: () => 0 });
    custom.client.connect();
    custom.ws.last().accept();
    custom.ws.last().serverClose(4029);
    await expectReconnectAfter(custom.ws, 7000);
    custom.client.close();
  });

  it('backs off after 1008 and 1009 and reports them', async () => {
    const { client, ws, errors } = make();
    client.connect();
    ws.last().accept();
    ws.last().send(welcome());
    ws.last().serverClose(1008, 'no data frames');
    await expectReconnectAfter(ws, 50);
    ws.last().accept();
    ws.last().send(welcome({ resumed: true }));
    ws.last().serverClose(1009);
    await expectReconnectAfter(ws, 50);
    expect(errors.map((e) => e.message)).toEqual([
      'orgstream: closed with 1008 (protocol violation): no data frames',
      'orgstream: closed with 1009 (protocol violation)',
    ]);
    client.close();
  });

  it('stops reconnecting at once after 3 immediate reconnects without an event', async () => {
    const { client, ws } = make();
    client.connect();
    const cycle = () => {
      ws.last().accept();
      ws.last().send(welcome({ resumed: ws.sockets.length > 1 }));
      ws.last().serverClose(4008);
    };
    for (let i = 0; i < 3; i++) {
      cycle();
      await expectReconnectAfter(ws, 0);
    }
    cycle();
    await expectReconnectAfter(ws, 50); // attempt 0 again: the welcome reset it
    // An event makes the connection healthy: immediate again.
    ws.last().accept();
    ws.last().send(welcome({ resumed: true }));
    ws.last().send(event(1));
    ws.last().serverClose(4008);
    await expectReconnectAfter(ws, 0);
    client.close();
  });

  it('close() cancels the pending reconnect and leaves no timer', async () => {
    const storage = new Map<string, string>();
    const { client, ws } = make({
      storage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v) } as unknown as Storage,
    });
    client.connect();
    ws.last().accept();
    ws.last().send(welcome({ head: 3 }));
    ws.last().send(event(4));
    expect(vi.getTimerCount()).toBe(1); // the throttled position write
    ws.last().fail();
    expect(vi.getTimerCount()).toBe(1); // the reconnect (the position was flushed)
    client.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(client.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ws.sockets).toHaveLength(1);
    expect(JSON.parse(storage.get('orgstream:http://127.0.0.1:1')!)).toEqual({ epoch: 'e-1', lastSeq: 4, org: 'acme', user: 'alice' });
  });

  it('a token function that fails counts as a failure and is retried with backoff', async () => {
    let n = 0;
    const { client, ws, errors } = make({
      token: async () => {
        if (++n === 1) throw new Error('backend down');
        return 'ok';
      },
    });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sockets).toHaveLength(0);
    expect(errors[0]?.message).toBe('orgstream: could not get a token');
    expect((errors[0]?.cause as Error).message).toBe('backend down');
    await vi.advanceTimersByTimeAsync(49);
    expect(ws.sockets).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.sockets).toHaveLength(1);
    client.close();
  });
});
