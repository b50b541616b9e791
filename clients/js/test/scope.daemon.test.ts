// The client on scoped delivery and history of a real daemon (PROTOCOL.md
// v2 "Scoped delivery", "History over HTTP"): topic scopes and their holes,
// events sent `to` named users (a hole verified by one resume), history pages.
import { describe, expect, it } from 'vitest';
import { fetchHistory, HttpError } from '../src/index.js';
import { waitFor } from './daemon.js';
import { daemonClients } from './follow.js';
import { seqs } from './recorder.js';

const { d, newOrg, follow } = daemonClients('scopeorg');

const topics = ['orders.created', 'billing.paid', 'orders.updated', 'audit.login', 'orders.created'];

describe('scoped delivery and history (real daemon)', () => {
  it('a topics option scopes the stream: only those topics, holes delivered, resume exact', async () => {
    const org = newOrg();
    const { client, rec } = follow(org, { topics: ['orders.*'] });
    client.connect();
    await waitFor(() => client.state === 'open', 'open');
    expect(rec.welcomes[0].scoped).toBe(true);
    expect(await d.publish(org, topics.map((topic, i) => ({ topic, data: { i } })))).toEqual([1, 2, 3, 4, 5]);
    await waitFor(() => rec.events.length === 3, '3 events');
    expect(seqs(rec.events)).toEqual([1, 3, 5]);
    expect(client.stats).toMatchObject({ holes: 2, gaps: 0 });

    // A drop and a resume: what the scope allows after seq 5, once.
    // The drop is seen in the recorded states: the client may be open
    // again (backoff from 0 ms) before a poll of client.state.
    const before = rec.states.length;
    rec.ws.sockets.at(-1)!.terminate();
    await waitFor(() => rec.states.slice(before).some((s) => s !== 'open'), 'dropped');
    await d.publish(org, topics.map((topic, i) => ({ topic, data: { i } })));
    await waitFor(() => client.state === 'open' && rec.events.length === 6, '6 events');
    expect(seqs(rec.events)).toEqual([1, 3, 5, 6, 8, 10]);
    expect(rec.welcomes.at(-1)).toMatchObject({ resumed: true, scoped: true });
    expect(client.stats).toMatchObject({ gaps: 0, duplicates: 0 });
  });

  it("a topics option beyond the token's topics is refused (a failed attempt), within them it connects", async () => {
    const org = newOrg();
    const bad = follow(org, { topics: ['billing.*'], transport: 'websocket' }, { topics: ['orders.>'] });
    bad.client.connect();
    await waitFor(() => bad.rec.errors.length >= 1, 'refused');
    expect(bad.rec.welcomes).toEqual([]);
    expect(bad.rec.errors[0].message).toMatch(/failed before the upgrade/);
    const ok = follow(org, { topics: ['orders.eu.*'] }, { topics: ['orders.>'] });
    ok.client.connect();
    await waitFor(() => ok.client.state === 'open', 'open');
    await d.publish(org, [{ topic: 'orders.us.new', data: 1 }, { topic: 'orders.eu.new', data: 2 }]);
    await waitFor(() => ok.rec.events.length === 1, '1 event');
    expect(seqs(ok.rec.events)).toEqual([2]);
  });

  it('an event `to` other users is a hole on an unscoped stream: verified by one resume, then delivered past', async () => {
    const org = newOrg();
    const alice = follow(org);
    const bob = follow(org, {}, { sub: 'bob' });
    alice.client.connect();
    bob.client.connect();
    await waitFor(() => alice.client.state === 'open' && bob.client.state === 'open', 'open');
    await d.publish(org, [
      { topic: 't', data: 1 },
      { topic: 't', data: 2, to: ['bob'] },
      { topic: 't', data: 3 },
      { topic: 't', data: 4, to: ['alice', 'carol'] },
    ]);
    await waitFor(() => alice.rec.events.length === 3 && bob.rec.events.length === 3, 'events');
    expect(seqs(alice.rec.events)).toEqual([1, 3, 4]);
    expect(seqs(bob.rec.events)).toEqual([1, 2, 3]);
    expect(alice.rec.gaps).toEqual([{ expected: 2, got: 3 }]);
    expect(alice.client.stats).toMatchObject({ gaps: 1, holes: 1, resumes: 1, duplicates: 0 });
    expect(bob.client.stats).toMatchObject({ gaps: 0, holes: 0 });
  });

  it('history: the events after a seq, as the token may see them; a bad org is an HttpError', async () => {
    const org = newOrg();
    await d.publish(org, topics.map((topic, i) => ({ topic, data: { i } })));
    const { client } = follow(org, {}, { topics: ['orders.*'] });
    const page = await client.history(1, 10);
    expect(page.head).toBe(5);
    expect(seqs(page.events)).toEqual([3, 5]);
    expect(page.events[0]).toMatchObject({ seq: 3, topic: 'orders.updated', data: { i: 2 } });
    // Paging: a page of 1 ends at its event; the next starts after it.
    const p1 = await client.history(0, 1);
    expect(seqs(p1.events)).toEqual([1]);
    const p2 = await client.history(p1.last ?? p1.events[0].seq, 10);
    expect(seqs(p2.events)).toEqual([3, 5]);
    // The topics option narrows further.
    const { client: narrow } = follow(org, { topics: ['orders.created'] }, { topics: ['orders.*'] });
    expect(seqs((await narrow.history(0)).events)).toEqual([1, 5]);
    // A token of another org: 403, as an HttpError with the daemon's code.
    const err = await fetchHistory({ url: d.url, org, token: d.token({ sub: 'a', org: newOrg() }), after: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 403 });
    expect((err as Error).message).not.toContain('eyJ');
  });
});
