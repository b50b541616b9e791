// Connect tickets (PROTOCOL.md "Connect tickets", option tickets), fed
// through an in-test WebSocket and fetch: the token goes in the POST's
// Authorization header, never in a stream URL; a refused ticket (which a
// browser only sees as a failed socket) is replaced at once, once. Against
// the real daemon: sse.daemon.test.ts.
import { CLIENT_NAME } from '../src/version.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fetchTicket, HttpError, ticketsURL } from '../src/index.js';
import { welcome } from './fake-socket.js';
import { fakeClient, FAKE_TOKEN, FAKE_URL } from './fake-client.js';
import { q } from './recorder.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** A fetch answering the tickets route with t-1, t-2, … (or with status/body when given), recording the requests. */
function ticketFetch(answer?: { status: number; body: object }) {
  const calls: { url: string; method?: string; auth?: string }[] = [];
  let n = 0;
  const f = (async (url: string, init?: RequestInit) => {
    const h = new Headers(init?.headers);
    calls.push({ url, method: init?.method, auth: h.get('Authorization') ?? undefined });
    if (answer) return new Response(JSON.stringify(answer.body), { status: answer.status });
    n++;
    return new Response(JSON.stringify({ ticket: `t-${n}`, expires_in: 30 }), { status: 201 });
  }) as unknown as typeof fetch;
  return { fetch: f, calls };
}

describe('tickets', () => {
  it('ticketsURL is the route beside the stream', () => {
    expect(ticketsURL(FAKE_URL)).toBe('https://rt.example.test/base/v2/realtime/tickets');
    expect(ticketsURL('ws://h:1/v2/realtime/stream?access_token=x')).toBe('http://h:1/v2/realtime/tickets');
  });

  it('each attempt POSTs the token for a ticket; the URL carries the ticket, never the token', async () => {
    const tf = ticketFetch();
    const { client, ws } = fakeClient({ tickets: true, fetch: tf.fetch });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(tf.calls).toEqual([{ url: 'https://rt.example.test/base/v2/realtime/tickets', method: 'POST', auth: 'Bearer ' + FAKE_TOKEN }]);
    expect(q(ws.last().url)).toEqual({ ticket: 't-1', client: CLIENT_NAME });
    expect(ws.last().url).not.toContain(FAKE_TOKEN);
    ws.last().open(welcome({ head: 3 }));
    ws.last().serverClose(1001, 'draining');
    await vi.runOnlyPendingTimersAsync();
    expect(tf.calls).toHaveLength(2);
    expect(q(ws.last().url)).toEqual({ ticket: 't-2', last_seq: '3', epoch: 'e-1', client: CLIENT_NAME });
    client.close();
  });

  it('a ticket refused before the open is replaced at once, once; then the usual backoff', async () => {
    const tf = ticketFetch();
    const { client, ws, rec } = fakeClient({ tickets: true, fetch: tf.fetch });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    ws.last().fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sockets).toHaveLength(2);
    expect(q(ws.last().url)).toEqual({ ticket: 't-2', client: CLIENT_NAME });
    expect(rec.errors).toHaveLength(0);
    ws.last().fail(); // not a ticket problem after all: back off, and say so
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sockets).toHaveLength(2);
    expect(rec.errors).toHaveLength(1);
    expect(String(rec.errors[0])).not.toContain(FAKE_TOKEN);
    await vi.runOnlyPendingTimersAsync();
    expect(q(ws.last().url)).toEqual({ ticket: 't-3', client: CLIENT_NAME });
    client.close();
  });

  it('a refused POST is reported without the token and retried after a backoff', async () => {
    const tf = ticketFetch({ status: 401, body: { error: 'invalid token', code: 'invalid_token' } });
    const { client, ws, rec } = fakeClient({ tickets: true, fetch: tf.fetch });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(ws.sockets).toHaveLength(0);
    expect(rec.errors).toHaveLength(1);
    const cause = (rec.errors[0] as Error).cause;
    expect(cause).toBeInstanceOf(HttpError);
    expect((cause as HttpError).code).toBe('invalid_token');
    expect(JSON.stringify(rec.errors) + String(cause)).not.toContain(FAKE_TOKEN);
    await vi.runOnlyPendingTimersAsync();
    expect(tf.calls).toHaveLength(2);
    client.close();
  });

  it('fetchTicket refuses an answer without a ticket', async () => {
    const tf = ticketFetch({ status: 201, body: { expires_in: 30 } });
    await expect(fetchTicket({ url: FAKE_URL, token: FAKE_TOKEN, fetch: tf.fetch })).rejects.toMatchObject({ code: 'malformed' });
  });
});
