// The client on presence of a real daemon (PROTOCOL.md v2 "Presence"): the
// GET through client.presence() and fetchPresence, presence=true frames.
import { describe, expect, it } from 'vitest';
import { fetchPresence, HttpError } from '../src/index.js';
import { waitFor } from './daemon.js';
import { daemonClients } from './follow.js';

const { d, newOrg, follow } = daemonClients('presorg');

describe('presence (real daemon)', () => {
  it('presence: GET lists who is online; presence=true streams get online/offline frames', async () => {
    const org = newOrg();
    const watcher = follow(org, { presence: true });
    watcher.client.connect();
    await waitFor(() => watcher.client.state === 'open', 'open');
    const bob = follow(org, {}, { sub: 'bob' });
    bob.client.connect();
    await waitFor(() => watcher.rec.presence.some((p) => p.user === 'bob' && p.state === 'online'), 'bob online', 15_000);
    const p = await watcher.client.presence();
    expect(p.org).toBe(org);
    expect(p.users.map((u) => u.user).sort()).toEqual(['alice', 'bob']);
    expect(p.connections).toBe(2);
    bob.client.close();
    await waitFor(() => watcher.rec.presence.some((x) => x.user === 'bob' && x.state === 'offline'), 'bob offline', 15_000);
    expect(watcher.client.position?.lastSeq).toBe(0);
  });

  it('fetchPresence with a token of another org is a 403 HttpError that does not quote the token', async () => {
    const err = await fetchPresence({ url: d.url, org: newOrg(), token: d.token({ sub: 'a', org: newOrg() }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 403 });
    expect((err as Error).message).not.toContain('eyJ');
  });
});
