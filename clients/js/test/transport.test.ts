// The SSE fallback decision (pure), and the client's switch to SSE when the
// WebSocket cannot connect, fed through an in-test WebSocket and fetch.
import { CLIENT_NAME } from '../src/version.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chooseTransport, RealtimeClient, WS_FAILURES_BEFORE_SSE, type RealtimeEvent, type TransportState } from '../src/index.js';
import { event, fakeWebSocket, welcome } from './fake-socket.js';

describe('chooseTransport', () => {
  const base: TransportState = { mode: 'auto', current: null, wsOpened: false, wsFailures: 0, hasWebSocket: true };
  it.each<[string, Partial<TransportState>, 'websocket' | 'sse']>([
    ['auto starts on WebSocket', {}, 'websocket'],
    ['one failure before the open: still WebSocket', { current: 'websocket', wsFailures: 1 }, 'websocket'],
    [`${WS_FAILURES_BEFORE_SSE} failures before the open: SSE`, { current: 'websocket', wsFailures: WS_FAILURES_BEFORE_SSE }, 'sse'],
    ['a WebSocket opened once: failures are the server being away', { current: 'websocket', wsOpened: true, wsFailures: 9 }, 'websocket'],
    ['once on SSE, stays', { current: 'sse', wsFailures: 0 }, 'sse'],
    ['no WebSocket implementation: SSE', { hasWebSocket: false }, 'sse'],
    ['forced websocket never falls back', { mode: 'websocket', wsFailures: 50 }, 'websocket'],
    ['forced sse', { mode: 'sse' }, 'sse'],
  ])('%s', (_name, s, want) => {
    expect(chooseTransport({ ...base, ...s })).toBe(want);
  });
});

/** A fetch that records the URLs it was asked for and answers each with a stream the test writes to. */
function sseServer() {
  const enc = new TextEncoder();
  const streams: { url: string; headers: Headers; write(s: string): void; end(): void }[] = [];
  const f = (async (url: string, init?: RequestInit) => {
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
    init?.signal?.addEventListener('abort', () => {
      try {
        ctrl.error(new Error('aborted'));
      } catch {
        // ended
      }
    });
    streams.push({
      url,
      headers: new Headers(init?.headers),
      write: (s) => ctrl.enqueue(enc.encode(s)),
      end: () => ctrl.close(),
    });
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }) as unknown as typeof fetch;
  return { fetch: f, streams };
}

const msg = (type: string, frame: object) => `event: ${type}\ndata: ${JSON.stringify(frame)}\n\n`;
const q = (url: string) => Object.fromEntries(new URL(url).searchParams);

describe('SSE fallback', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function make(transport?: 'auto' | 'websocket' | 'sse') {
    const ws = fakeWebSocket();
    const sse = sseServer();
    const events: RealtimeEvent[] = [];
    const errors: Error[] = [];
    const client = new RealtimeClient({
      url: 'https://rt.example.test/api',
      token: 'TOKEN',
      WebSocket: ws.WebSocket,
      fetch: sse.fetch,
      transport,
      topics: ['orders.*', 'billing.>'],
      backoff: { initialMs: 100, maxMs: 1000 },
      random: () => 0.5,
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    return { client, ws, sse, events, errors };
  }

  it('switches to SSE after WebSocket attempts that fail before the open, with the same query, tracker and resume', async () => {
    const { client, ws, sse, events, errors } = make();
    client.connect();
    expect(client.transport).toBe('websocket');
    for (let i = 0; i < WS_FAILURES_BEFORE_SSE; i++) {
      ws.last().fail(); // a proxy stripped Upgrade: the server said 426, the browser sees a failed socket
      await vi.runOnlyPendingTimersAsync();
    }
    expect(ws.sockets).toHaveLength(WS_FAILURES_BEFORE_SSE);
    expect(client.transport).toBe('sse');
    expect(sse.streams).toHaveLength(1);
    const s1 = sse.streams[0];
    expect(s1.url).toBe('https://rt.example.test/api/v2/realtime/sse?access_token=TOKEN&topics=orders.*%2Cbilling.%3E&client=orgstream-js%2F0.1.0');
    s1.write(msg('welcome', welcome({ head: 3, scoped: true })) + msg('event', event(5)) + ': ping\n\n' + 'retry: 300\n\n' + msg('event', event(9)));
    await vi.waitFor(() => expect(events.map((e) => e.seq)).toEqual([5, 9]));
    expect(client.state).toBe('open');
    expect(client.stats).toMatchObject({ holes: 2, gaps: 0, events: 2 });

    // The server ends the stream (a drain): the client resumes after 9, on SSE, after the server's retry.
    const endedAt = Date.now();
    s1.end();
    await vi.waitFor(() => expect(client.nextAttemptAt).not.toBeNull(), { interval: 1 });
    const delay = client.nextAttemptAt! - endedAt; // endedAt + the waitFor's 1 ms steps + 300
    expect(delay).toBeGreaterThanOrEqual(300);
    expect(delay).toBeLessThan(320);
    expect(sse.streams).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(client.nextAttemptAt! - Date.now());
    expect(sse.streams).toHaveLength(2);
    expect(q(sse.streams[1].url)).toEqual({ access_token: 'TOKEN', last_seq: '9', epoch: 'e-1', topics: 'orders.*,billing.>', client: CLIENT_NAME });
    expect(ws.sockets).toHaveLength(WS_FAILURES_BEFORE_SSE);
    expect(errors.map((e) => e.message).join('\n')).not.toContain('TOKEN');
    client.close();
  });

  it('keeps the WebSocket once one has opened, and never falls back when forced to websocket', async () => {
    for (const transport of ['auto', 'websocket'] as const) {
      const { client, ws, sse } = make(transport);
      client.connect();
      if (transport === 'auto') {
        ws.last().accept();
        ws.last().send(welcome());
        ws.last().serverClose(1001);
      }
      for (let i = 0; i < 4; i++) {
        await vi.runOnlyPendingTimersAsync();
        ws.last().fail();
      }
      await vi.runOnlyPendingTimersAsync();
      expect(sse.streams, transport).toHaveLength(0);
      expect(client.transport).toBe('websocket');
      client.close();
    }
  });

  it("transport 'sse' never opens a WebSocket", async () => {
    const { client, ws, sse } = make('sse');
    client.connect();
    await vi.waitFor(() => expect(sse.streams).toHaveLength(1));
    expect(ws.sockets).toHaveLength(0);
    expect(new URL(sse.streams[0].url).pathname).toBe('/api/v2/realtime/sse');
    client.close();
  });
});
