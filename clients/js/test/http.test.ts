// The presence and history helpers' requests and error mapping, through an
// in-test fetch (a 410 needs events older than the retention; the real daemon
// is in scope.daemon.test.ts and presence.daemon.test.ts).
import { describe, expect, it } from 'vitest';
import { fetchHistory, fetchPresence, HttpError } from '../src/index.js';

function answering(status: number, body: unknown) {
  const calls: { url: string; headers: Headers }[] = [];
  const f = (async (url: string, init?: RequestInit) => {
    calls.push({ url, headers: new Headers(init?.headers) });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { f, calls };
}

describe('http helpers', () => {
  it('history: after, limit and topics in the query, the token in Authorization only', async () => {
    const { f, calls } = answering(200, { epoch: 'e-1', head: 9, first: 1, last: 9, events: [{ seq: 3, topic: 'a', ts: '', data: 1 }] });
    const page = await fetchHistory({ url: 'https://h/api/', org: 'acme', token: 'SECRET', after: 2, limit: 50, topics: ['a.*', 'b.>'], fetch: f });
    expect(page).toMatchObject({ head: 9, last: 9, events: [{ seq: 3 }] });
    expect(calls[0].url).toBe('https://h/api/v2/realtime/orgs/acme/events?after=2&limit=50&topics=a.*%2Cb.%3E');
    expect(calls[0].headers.get('authorization')).toBe('Bearer SECRET');
  });

  it('a 410 window_exceeded is an HttpError with the body (first); errors never quote the token', async () => {
    const { f } = answering(410, { error: 'after is older than the retention', code: 'window_exceeded', first: 40, head: 90 });
    const err = await fetchHistory({ url: 'http://h', org: 'acme', token: 'SECRET', after: 1, fetch: f }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 410, code: 'window_exceeded', body: { first: 40, head: 90 } });
    expect((err as Error).message).toBe('orgstream: GET events: 410 window_exceeded: after is older than the retention');
    expect((err as Error).message).not.toContain('SECRET');
  });

  it('presence: checks the answer; a non-JSON error and an unreachable daemon are HttpErrors', async () => {
    const ok = answering(200, { org: 'acme', connections: 2, users: [{ user: 'a', connections: 2 }] });
    expect(await fetchPresence({ url: 'http://h', org: 'acme', token: 't', fetch: ok.f })).toEqual({ org: 'acme', connections: 2, users: [{ user: 'a', connections: 2 }] });
    expect(ok.calls[0].url).toBe('http://h/v2/realtime/orgs/acme/presence');
    await expect(fetchPresence({ url: 'http://h', org: 'acme', token: 't', fetch: answering(200, { users: 'x' }).f })).rejects.toMatchObject({ code: 'malformed' });
    await expect(fetchPresence({ url: 'http://h', org: 'acme', token: 't', fetch: answering(502, 'Bad Gateway').f })).rejects.toMatchObject({ status: 502, code: 'http_502' });
    const down = (async () => Promise.reject(new TypeError('fetch failed'))) as unknown as typeof fetch;
    await expect(fetchPresence({ url: 'http://h', org: 'acme', token: 't', fetch: down })).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});
