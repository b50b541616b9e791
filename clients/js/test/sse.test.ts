// The SSE parser and the fetch-based SSE transport, fed through an in-test
// fetch (chunk boundaries, refusals and a silent stream cannot be chosen on
// the real daemon; the real daemon is in sse.daemon.test.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SseParser, SseSocket, type SseCloseEvent, type SseMessage } from '../src/index.js';

const parse = (...chunks: string[]) => {
  const p = new SseParser();
  const out: SseMessage[] = [];
  for (const c of chunks) out.push(...p.push(c));
  return { out, p };
};

describe('SseParser', () => {
  it.each<[string, string, SseMessage[]]>([
    ['one message', 'event: welcome\ndata: {"a":1}\n\n', [{ event: 'welcome', data: '{"a":1}', id: '' }]],
    ['no event field', 'data: x\n\n', [{ event: 'message', data: 'x', id: '' }]],
    ['multi-line data', 'data: a\ndata:b\ndata:  c\n\n', [{ event: 'message', data: 'a\nb\n c', id: '' }]],
    ['CRLF and CR', 'event: e\r\ndata: 1\r\rdata: 2\r\n\r\n', [{ event: 'e', data: '1', id: '' }, { event: 'message', data: '2', id: '' }]],
    ['id carries over', 'id: e-1:5\ndata: a\n\ndata: b\n\n', [{ event: 'message', data: 'a', id: 'e-1:5' }, { event: 'message', data: 'b', id: 'e-1:5' }]],
    ['id with NUL ignored', 'id: a\0b\ndata: a\n\n', [{ event: 'message', data: 'a', id: '' }]],
    ['comments only', ': ping\n\n: ping\n\n', []],
    ['event without data is not dispatched, and its type does not leak', 'event: x\n\ndata: y\n\n', [{ event: 'message', data: 'y', id: '' }]],
    ['unfinished message is held', 'data: a\n', []],
    ['field without colon', 'data\n\n', [{ event: 'message', data: '', id: '' }]],
    ['BOM at the start', '\ufeffdata: a\n\n', [{ event: 'message', data: 'a', id: '' }]],
    ['unknown fields ignored', 'foo: bar\ndata: a\n\n', [{ event: 'message', data: 'a', id: '' }]],
  ])('%s', (_name, input, want) => {
    expect(parse(input).out).toEqual(want);
  });

  it('reads retry (digits only) and counts comments', () => {
    const { p } = parse(': hi\nretry: 1500\n\nretry: 12x\n\n: ping\n');
    expect(p.retry).toBe(1500);
    expect(p.comments).toBe(2);
  });

  it('gives the same messages however the stream is cut', () => {
    const stream =
      '\ufeff: ping\r\nevent: welcome\r\ndata: {"type":"welcome"}\r\n\r\nid: e:1\nevent: event\ndata: {"seq":1}\n\n: ping\r\rretry: 700\revent: event\rdata: {"seq":2}\r\r';
    const whole = parse(stream).out;
    expect(whole.map((m) => m.data)).toEqual(['{"type":"welcome"}', '{"seq":1}', '{"seq":2}']);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 7) {
        const { out, p } = parse(stream.slice(0, i), stream.slice(i, j), stream.slice(j));
        expect(out, `cut at ${i}, ${j}`).toEqual(whole);
        expect(p.retry).toBe(700);
      }
    }
  });
});

/** A fetch answering once with status, headers and a body the test writes to. */
function streamingFetch(status = 200, type = 'text/event-stream') {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
  const calls: { url: string; init?: RequestInit }[] = [];
  const f = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    init?.signal?.addEventListener('abort', () => {
      try {
        ctrl.error(new Error('aborted'));
      } catch {
        // closed already
      }
    });
    return new Response(body, { status, headers: { 'Content-Type': type } });
  }) as unknown as typeof fetch;
  const enc = new TextEncoder();
  return { fetch: f, calls, write: (s: string) => ctrl.enqueue(enc.encode(s)), end: () => ctrl.close() };
}

function watch(s: SseSocket) {
  const rec = { opened: 0, messages: [] as string[], closes: [] as SseCloseEvent[] };
  s.onopen = () => rec.opened++;
  s.onmessage = (ev) => rec.messages.push(ev.data);
  s.onclose = (ev) => rec.closes.push(ev);
  return rec;
}

const until = (cond: () => boolean) => vi.waitFor(() => expect(cond()).toBe(true), { timeout: 2000, interval: 2 });

describe('SseSocket', () => {
  afterEach(() => vi.useRealTimers());

  it('opens on 200, hands each message data over, and closes with 1001 and the retry when the stream ends', async () => {
    const f = streamingFetch();
    const s = new SseSocket('http://h/v2/realtime/sse?access_token=T', { fetch: f.fetch });
    const rec = watch(s);
    await until(() => rec.opened === 1);
    expect(f.calls[0].url).toBe('http://h/v2/realtime/sse?access_token=T');
    expect(new Headers(f.calls[0].init?.headers).get('accept')).toBe('text/event-stream');
    f.write('retry: 1234\nevent: welcome\ndata: {"type":"welcome"}\n\n: ping\n\nevent: event\nid: e:1\ndata: {"type":"event",');
    f.write('"seq":1}\n\n');
    await until(() => rec.messages.length === 2);
    expect(rec.messages).toEqual(['{"type":"welcome"}', '{"type":"event","seq":1}']);
    f.end();
    await until(() => rec.closes.length === 1);
    expect(rec.closes[0]).toEqual({ code: 1001, reason: 'sse: the server ended the stream', retryMs: 1234 });
    expect(s.readyState).toBe(3);
  });

  it.each([
    [401, '{"error":"invalid token","code":"invalid_token"}', 1006, 'sse: 401 invalid_token'],
    [429, '{"error":"too many","code":"too_many_connections"}', 4029, 'sse: 429 too_many_connections'],
    [404, 'not found', 1006, 'sse: 404'],
  ])('a refusal %s closes before any open with %s: %s', async (status, text, code, reason) => {
    const f = (async () => new Response(text, { status })) as unknown as typeof fetch;
    const rec = watch(new SseSocket('http://h/sse?access_token=SECRET', { fetch: f }));
    await until(() => rec.closes.length === 1);
    expect(rec.opened).toBe(0);
    expect(rec.closes[0]).toEqual({ code, reason });
  });

  it('refuses a 200 that is not an event stream (a proxy page), and an unreachable server', async () => {
    const html = watch(new SseSocket('http://h/sse', { fetch: (async () => new Response('<html>', { status: 200, headers: { 'Content-Type': 'text/html' } })) as unknown as typeof fetch }));
    const down = watch(new SseSocket('http://h/sse', { fetch: (async () => Promise.reject(new TypeError('fetch failed'))) as unknown as typeof fetch }));
    await until(() => html.closes.length === 1 && down.closes.length === 1);
    expect(html.closes[0]).toEqual({ code: 1006, reason: 'sse: not an event stream (text/html)' });
    expect(down.closes[0]).toEqual({ code: 1006, reason: 'sse: unreachable' });
    expect(html.opened + down.opened).toBe(0);
  });

  it('closes a silent stream with 1006 after idleMs; any byte (a ping) restarts the wait', async () => {
    const f = streamingFetch();
    const s = new SseSocket('http://h/sse', { fetch: f.fetch, idleMs: 150 });
    const rec = watch(s);
    await until(() => rec.opened === 1);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 60));
      f.write(': ping\n');
    }
    expect(rec.closes).toEqual([]);
    await until(() => rec.closes.length === 1);
    expect(rec.closes[0]).toEqual({ code: 1006, reason: 'sse: nothing received for too long' });
  });

  it('close() stops reading and reports nothing more', async () => {
    const f = streamingFetch();
    const s = new SseSocket('http://h/sse', { fetch: f.fetch });
    const rec = watch(s);
    await until(() => rec.opened === 1);
    s.close();
    expect(() => f.write('data: late\n\n')).toThrow(); // the body was cancelled
    await new Promise((r) => setTimeout(r, 20));
    expect(rec.messages).toEqual([]);
    expect(rec.closes).toEqual([]);
    expect(s.readyState).toBe(3);
  });
});
