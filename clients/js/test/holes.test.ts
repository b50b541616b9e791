// The hole rule (PROTOCOL.md v2 "Scoped delivery"; the Go client has the
// same), presence frames, and the reconnect countdown, fed through an
// in-test WebSocket (a server that skips seqs on demand cannot be had).
import { CLIENT_NAME } from '../src/version.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { event, welcome } from './fake-socket.js';
import { fakeClient, FAKE_TOKEN } from './fake-client.js';
import { q, seqs } from './recorder.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/**
 * A fresh stream at head 10 whose first event is 12: the hole 11 is reported
 * and the client is back (timers run) with a resume from 10 to verify it.
 */
async function holeAt11() {
  const c = fakeClient();
  c.client.connect();
  c.ws.last().open(welcome({ head: 10 }), event(12));
  await vi.runOnlyPendingTimersAsync();
  return c;
}

describe('holes', () => {
  it('a scoped stream delivers holes; duplicates are still dropped', () => {
    const { client, ws, rec } = fakeClient({ topics: ['orders.*'] });
    client.connect();
    expect(q(ws.last().url)).toEqual({ access_token: FAKE_TOKEN, topics: 'orders.*', client: CLIENT_NAME });
    ws.last().open(welcome({ head: 2, scoped: true }));
    for (const n of [4, 4, 7, 5, 8, 20]) ws.last().send(event(n));
    expect(seqs(rec.events)).toEqual([4, 7, 8, 20]);
    expect(client.stats).toMatchObject({ events: 4, holes: 3, gaps: 0, duplicates: 2 });
    expect(ws.last().closedByClient).toBeNull();
    expect(client.position?.lastSeq).toBe(20);
    client.close();
  });

  it('an unscoped hole is verified once: resume from last, then the first replayed event is accepted whatever its seq', async () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    const s1 = ws.last();
    s1.open(welcome({ head: 0 }));
    s1.send(event(1));
    s1.send(event(3)); // 2 went to another user (a `to` event), or was lost
    expect(rec.gaps).toEqual([{ expected: 2, got: 3 }]);
    expect(seqs(rec.events)).toEqual([1]);
    expect(s1.closedByClient).toEqual({ code: 1000, reason: 'seq gap' });

    await vi.runOnlyPendingTimersAsync();
    const s2 = ws.last();
    expect(q(s2.url)).toMatchObject({ last_seq: '1' });
    s2.open(welcome({ head: 4, resumed: true, replay: { from: 2, to: 4 } }));
    s2.send(event(1)); // a duplicate does not use up the verification
    s2.send(event(3)); // the server's replay skips 2: it was not ours
    s2.send(event(4));
    expect(seqs(rec.events)).toEqual([1, 3, 4]);
    expect(client.stats).toMatchObject({ gaps: 1, holes: 1, events: 3, duplicates: 1 });
    expect(s2.closedByClient).toBeNull();

    // Verified once only: a later hole is verified again (one resume each, never a loop).
    s2.send(event(6));
    expect(rec.gaps).toEqual([{ expected: 2, got: 3 }, { expected: 5, got: 6 }]);
    expect(s2.closedByClient).toEqual({ code: 1000, reason: 'seq gap' });
    await vi.runOnlyPendingTimersAsync();
    ws.last().open(welcome({ head: 6, resumed: true, replay: { from: 5, to: 6 } }));
    ws.last().send(event(5)); // a lost event, repaired by the replay
    ws.last().send(event(6));
    expect(seqs(rec.events)).toEqual([1, 3, 4, 5, 6]);
    expect(client.stats).toMatchObject({ gaps: 2, holes: 1 });
    client.close();
  });

  it('the verification holds until a resumed connection delivers its first event', async () => {
    const { client, ws, rec } = await holeAt11();
    ws.last().open(welcome({ head: 12, resumed: true, replay: { from: 11, to: 12 } }));
    ws.last().serverClose(1001); // drained before the replay
    await vi.runOnlyPendingTimersAsync();
    ws.last().open(welcome({ head: 12, resumed: true, replay: { from: 11, to: 12 } }));
    ws.last().send(event(12));
    expect(seqs(rec.events)).toEqual([12]);
    expect(client.stats).toMatchObject({ gaps: 1, holes: 1 });
    client.close();
  });

  it('a fresh (not resumed) connection does not accept a hole as verified', async () => {
    const { client, ws, rec } = await holeAt11();
    ws.last().open(welcome({ epoch: 'e-2', head: 30, resumed: false }));
    ws.last().send({ type: 'reset', reason: 'epoch_changed', first: 1, head: 30 });
    ws.last().send(event(33));
    expect(seqs(rec.events)).toEqual([]);
    expect(rec.gaps).toEqual([{ expected: 11, got: 12 }, { expected: 31, got: 33 }]);
    client.close();
  });

  it('trustHoles delivers unscoped holes at once', () => {
    const { client, ws, rec } = fakeClient({ trustHoles: true });
    client.connect();
    ws.last().open(welcome({ head: 0 }));
    for (const n of [2, 5, 5, 6]) ws.last().send(event(n));
    expect(seqs(rec.events)).toEqual([2, 5, 6]);
    expect(client.stats).toMatchObject({ holes: 2, gaps: 0, duplicates: 1 });
    client.close();
  });
});

describe('presence frames', () => {
  it('asks presence=true and hands presence frames to onPresence, outside the seq order', () => {
    const { client, ws, rec } = fakeClient({ presence: true });
    client.connect();
    expect(q(ws.last().url)).toEqual({ access_token: FAKE_TOKEN, presence: 'true', client: CLIENT_NAME });
    ws.last().open(welcome({ head: 0 }));
    ws.last().send({ type: 'presence', user: 'bob', state: 'online' });
    ws.last().send(event(1));
    ws.last().send({ type: 'presence', user: 'bob', state: 'offline' });
    expect(rec.presence).toEqual([
      { user: 'bob', state: 'online' },
      { user: 'bob', state: 'offline' },
    ]);
    expect(seqs(rec.events)).toEqual([1]);
    expect(client.position?.lastSeq).toBe(1);
    client.close();
  });

  it('onPresenceChange listeners get each frame until they unsubscribe', () => {
    const { client, ws } = fakeClient({ presence: true });
    const seen: string[] = [];
    const off = client.onPresenceChange((p) => seen.push(`${p.user} ${p.state}`));
    client.connect();
    ws.last().open(welcome());
    ws.last().send({ type: 'presence', user: 'bob', state: 'online' });
    off();
    ws.last().send({ type: 'presence', user: 'bob', state: 'offline' });
    expect(seen).toEqual(['bob online']);
    client.close();
  });

  it('a malformed presence frame is a protocol error', () => {
    const { client, ws, rec } = fakeClient({ presence: true });
    client.connect();
    ws.last().open(welcome());
    ws.last().send({ type: 'presence', who: 'bob' });
    expect(rec.errors.map((e) => e.message)).toEqual(['orgstream: protocol error: malformed presence']);
    expect(ws.last().closedByClient).toEqual({ code: 1000, reason: 'protocol error' });
    client.close();
  });
});

describe('reconnect countdown', () => {
  it('nextAttemptAt says when the next attempt starts; retryNow starts it at once', async () => {
    const { client, ws } = fakeClient();
    client.connect();
    expect(client.nextAttemptAt).toBeNull();
    ws.last().fail();
    expect(client.nextAttemptAt).toBe(Date.now() + 50);
    client.retryNow();
    expect(ws.sockets).toHaveLength(2);
    expect(client.nextAttemptAt).toBeNull();
    client.retryNow(); // nothing pending: no-op
    expect(ws.sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.sockets).toHaveLength(2);
    client.close();
  });
});
