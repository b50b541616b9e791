// RealtimeClient against a real orgstream daemon, over the `ws` package.
import { describe, expect, it } from 'vitest';
import { MemoryStorage, sleep, waitFor } from './daemon.js';
import { batch, daemonClients } from './follow.js';
import { range, seqs } from './recorder.js';

const { d, newOrg, follow } = daemonClients('org');

describe('RealtimeClient (real daemon)', () => {
  it('receives events in order with their seqs, topics and data', async () => {
    const org = newOrg();
    const { client, rec } = follow(org);
    const orders: number[] = [];
    const unsub = client.subscribe((e) => orders.push(e.seq), { topic: 'orders.*' });
    const exact: number[] = [];
    client.subscribe((e) => exact.push(e.seq), { topic: 'users.created' });
    expect(client.state).toBe('closed');
    client.connect();
    client.connect(); // idempotent
    await waitFor(() => client.state === 'open', 'open');
    expect(rec.welcomes).toHaveLength(1);
    expect(rec.welcomes[0]).toMatchObject({ org, user: 'alice', head: 0, resumed: false });
    expect(rec.welcomes[0]).not.toHaveProperty('type');

    await d.publish(org, batch(3));
    await d.publish(org, [{ topic: 'users.created', data: { name: 'bob' }, id: 'u-1' }]);
    await d.publish(org, batch(2, 'orders.deleted'));
    await waitFor(() => rec.events.length === 6, '6 events');

    expect(seqs(rec.events)).toEqual(range(1, 6));
    expect(rec.events[0]).toMatchObject({ seq: 1, topic: 'orders.updated', data: { i: 0, nested: { ok: true } } });
    expect(rec.events[0]).not.toHaveProperty('type');
    expect(Number.isNaN(Date.parse(rec.events[0]!.ts))).toBe(false);
    expect(rec.events[3]).toMatchObject({ seq: 4, topic: 'users.created', id: 'u-1', data: { name: 'bob' } });
    expect(orders).toEqual([1, 2, 3, 5, 6]);
    expect(exact).toEqual([4]);
    unsub();
    await d.publish(org, batch(1));
    await waitFor(() => rec.events.length === 7, '7 events');
    expect(orders).toEqual([1, 2, 3, 5, 6]);

    expect(client.position).toEqual({ epoch: rec.welcomes[0]!.epoch, lastSeq: 7, org, user: 'alice' });
    expect(client.stats).toMatchObject({ connects: 1, reconnects: 0, resumes: 0, resets: 0, gaps: 0, events: 7 });
    expect(rec.states).toEqual(['connecting', 'open']);
    expect(rec.ws.sockets).toHaveLength(1);
    expect(rec.errors).toEqual([]);

    client.close();
    expect(client.state).toBe('closed');
    expect(rec.states).toEqual(['connecting', 'open', 'closed']);
    await waitFor(() => rec.ws.sockets[0]!.readyState === rec.ws.sockets[0]!.CLOSED, 'socket closed');
    client.connect(); // final
    expect(rec.ws.sockets).toHaveLength(1);
  });

  it('starts live from head, then resumes from head after a reconnect', async () => {
    const org = newOrg();
    await d.publish(org, batch(4));
    const { client, rec } = follow(org);
    client.connect();
    await waitFor(() => client.state === 'open', 'open');
    expect(rec.welcomes[0]).toMatchObject({ head: 4, resumed: false });
    expect(client.position).toEqual({ epoch: rec.welcomes[0]!.epoch, lastSeq: 4, org, user: 'alice' });
    await d.publish(org, batch(2));
    await waitFor(() => rec.events.length === 2, '2 events');
    expect(seqs(rec.events)).toEqual([5, 6]);
  });

  it('resumes across a daemon restart (1001) with every event exactly once', async () => {
    const org = newOrg();
    const storage = new MemoryStorage();
    const { client, rec } = follow(org, { storage, storageKey: 'pos' });
    client.connect();
    await waitFor(() => client.state === 'open', 'open');
    await d.publish(org, batch(3));
    await waitFor(() => rec.events.length === 3, '3 events');

    await d.stop();
    await waitFor(() => client.state === 'resuming', 'resuming');
    expect(rec.ws.closeCodes[0]).toBe(1001);
    await d.start();
    await d.publish(org, batch(3)); // most likely before the client is back
    await waitFor(() => rec.events.length === 6, '6 events');
    await d.publish(org, batch(3));
    await waitFor(() => rec.events.length === 9, '9 events');
    await sleep(100); // nothing more comes

    expect(seqs(rec.events)).toEqual(range(1, 9));
    expect(rec.gaps).toEqual([]);
    expect(client.stats.gaps).toBe(0);
    expect(client.stats.resumes).toBeGreaterThanOrEqual(1);
    expect(client.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(rec.welcomes.at(-1)).toMatchObject({ resumed: true });
    expect(rec.states).toContain('resuming');
    expect(rec.states.at(-1)).toBe('open');

    client.close();
    const saved = JSON.parse(storage.getItem('pos')!);
    expect(saved).toEqual({ epoch: rec.welcomes[0]!.epoch, lastSeq: 9, org, user: 'alice' });

    // A "reload": a new client on the same storage resumes after 9.
    await d.publish(org, batch(2));
    const again = follow(org, { storage, storageKey: 'pos' });
    expect(again.client.position).toEqual({ epoch: rec.welcomes[0]!.epoch, lastSeq: 9, org, user: 'alice' });
    again.client.connect();
    expect(again.client.state).toBe('resuming');
    await waitFor(() => again.rec.events.length === 2, 'replay');
    expect(again.rec.welcomes[0]).toMatchObject({ resumed: true, replay: { from: 10, to: 11 } });
    expect(seqs(again.rec.events)).toEqual([10, 11]);
    expect(again.client.stats).toMatchObject({ connects: 1, resumes: 1, resets: 0 });
  });

  it('gets a reset (epoch_changed) for a stored position of another epoch', async () => {
    const org = newOrg();
    await d.publish(org, batch(5));
    const storage = new MemoryStorage();
    storage.setItem('k', JSON.stringify({ epoch: 'e-not-this-one', lastSeq: 3, org }));
    const { client, rec } = follow(org, { storage, storageKey: 'k' });
    client.connect();
    await waitFor(() => rec.resets.length === 1, 'reset');
    expect(rec.welcomes[0]).toMatchObject({ resumed: false, head: 5 });
    expect(rec.resets[0]).toMatchObject({ reason: 'epoch_changed', head: 5 });
    const epoch = rec.welcomes[0]!.epoch;
    expect(client.position).toEqual({ epoch, lastSeq: 5, org, user: 'alice' });
    expect(JSON.parse(storage.getItem('k')!)).toEqual({ epoch, lastSeq: 5, org, user: 'alice' });
    await d.publish(org, batch(1));
    await waitFor(() => rec.events.length === 1, 'event');
    expect(seqs(rec.events)).toEqual([6]);
    expect(client.stats).toMatchObject({ resets: 1, resumes: 0, gaps: 0 });
  });

  it('gets a reset (invalid_position) for a last_seq beyond head', async () => {
    const org = newOrg();
    await d.publish(org, batch(2));
    const first = follow(org);
    first.client.connect();
    await waitFor(() => first.client.state === 'open', 'open');
    const epoch = first.rec.welcomes[0]!.epoch;
    first.client.close();

    const storage = new MemoryStorage();
    storage.setItem('k', JSON.stringify({ epoch, lastSeq: 102, org }));
    const { client, rec } = follow(org, { storage, storageKey: 'k' });
    client.connect();
    await waitFor(() => rec.resets.length === 1, 'reset');
    expect(rec.resets[0]).toMatchObject({ reason: 'invalid_position', head: 2 });
    expect(client.position).toEqual({ epoch, lastSeq: 2, org, user: 'alice' });
    await d.publish(org, batch(1));
    await waitFor(() => rec.events.length === 1, 'event');
    expect(seqs(rec.events)).toEqual([3]);
  });

  it("does not resume from a stored position of another org than the token's", async () => {
    // The epoch is the store's, not the org's: the daemon would accept org A's
    // position from a client of org B and replay B's events after A's seq.
    const orgA = newOrg();
    const orgB = newOrg();
    const storage = new MemoryStorage();
    const a = follow(orgA, { storage, storageKey: 'shared' });
    a.client.connect();
    await waitFor(() => a.client.state === 'open', 'open A');
    await d.publish(orgA, batch(2));
    await waitFor(() => a.rec.events.length === 2, '2 events of A');
    a.client.close();
    expect(JSON.parse(storage.getItem('shared')!)).toEqual({ epoch: a.rec.welcomes[0]!.epoch, lastSeq: 2, org: orgA, user: 'alice' });

    await d.publish(orgB, batch(5));
    const b = follow(orgB, { storage, storageKey: 'shared' });
    expect(b.client.position).toMatchObject({ lastSeq: 2, org: orgA });
    b.client.connect();
    expect(b.client.state).toBe('connecting');
    expect(new URL(b.rec.ws.sockets[0]!.url).searchParams.has('last_seq')).toBe(false);
    await waitFor(() => b.client.state === 'open', 'open B');
    expect(b.rec.welcomes[0]).toMatchObject({ org: orgB, resumed: false, head: 5 });
    expect(b.rec.welcomes[0]).not.toHaveProperty('replay');
    const epoch = b.rec.welcomes[0]!.epoch;
    expect(b.client.position).toEqual({ epoch, lastSeq: 5, org: orgB, user: 'alice' });
    expect(JSON.parse(storage.getItem('shared')!)).toEqual({ epoch, lastSeq: 5, org: orgB, user: 'alice' });

    await d.publish(orgB, batch(1));
    await waitFor(() => b.rec.events.length === 1, 'event of B');
    expect(seqs(b.rec.events)).toEqual([6]);
    expect(b.rec.resets).toEqual([]);
    expect(b.client.stats).toMatchObject({ resets: 0, resumes: 0, gaps: 0 });
    expect(b.rec.errors).toEqual([]);
  });

  it('renews the token after 4001 and resumes without a gap', async () => {
    const org = newOrg();
    const issued: string[] = [];
    const token = async (): Promise<string> => {
      const t = d.token({ sub: 'alice', org, ttl: issued.length === 0 ? 2 : 3600 });
      issued.push(t);
      return t;
    };
    const { client, rec } = follow(org, { token });
    client.connect();
    await waitFor(() => client.state === 'open', 'open');
    await d.publish(org, batch(2));
    await waitFor(() => rec.events.length === 2, '2 events');
    await waitFor(() => client.stats.connects === 2, 'reconnect after 4001', 8_000);
    expect(rec.ws.closeCodes[0]).toBe(4001);
    expect(issued).toHaveLength(2);
    expect(rec.welcomes[1]).toMatchObject({ resumed: true });
    await d.publish(org, batch(2));
    await waitFor(() => rec.events.length === 4, '4 events');
    expect(seqs(rec.events)).toEqual(range(1, 4));
    expect(client.stats).toMatchObject({ gaps: 0, resumes: 1, reconnects: 1 });
    expect(rec.errors).toEqual([]);
  });

  it('treats a refused upgrade (401) as a failure, backs off, and never reports the token', async () => {
    const org = newOrg();
    const bad = d.token({ sub: 'alice', org, ttl: -10 });
    const { client, rec } = follow(org, { token: bad });
    client.connect();
    await waitFor(() => rec.errors.length >= 2, 'two failures');
    expect(client.state).toBe('connecting');
    expect(client.stats.connects).toBe(0);
    for (const e of rec.errors) {
      expect(e.message).toMatch(/failed before the upgrade/);
      expect(String(e.stack)).not.toContain(bad);
      expect(JSON.stringify(e)).not.toContain(bad);
    }
    client.close();
    expect(client.state).toBe('closed');
  });
});
