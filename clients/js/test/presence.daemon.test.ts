// The client on presence of a real daemon (PROTOCOL.md v2 "Presence"): the
// GET through client.presence() and fetchPresence, presence=true frames.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchPresence, HttpError, RealtimeClient, type ClientOptions, type GapInfo, type PresenceChange, type RealtimeEvent, type Welcome } from '../src/index.js';
import { countingWebSocket, Daemon, waitFor } from './daemon.js';

const d = new Daemon();
beforeAll(() => d.start());
afterAll(() => d.destroy());

let orgN = 0;
const newOrg = (): string => `presorg${++orgN}-${Date.now()}`;

const clients: RealtimeClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function follow(org: string, sub: string, opts: Partial<ClientOptions> = {}, claims: { topics?: string[] } = {}) {
  const ws = countingWebSocket();
  const rec = {
    events: [] as RealtimeEvent[],
    welcomes: [] as Welcome[],
    gaps: [] as GapInfo[],
    presence: [] as PresenceChange[],
    errors: [] as Error[],
    ws,
  };
  const client = new RealtimeClient({
    url: d.url,
    token: d.token({ sub, org, ...claims }),
    WebSocket: ws.WebSocket,
    backoff: { initialMs: 50, maxMs: 400 },
    onEvent: (e) => rec.events.push(e),
    onWelcome: (w) => rec.welcomes.push(w),
    onGap: (g) => rec.gaps.push(g),
    onPresence: (p) => rec.presence.push(p),
    onError: (err) => rec.errors.push(err),
    ...opts,
  });
  clients.push(client);
  return { client, rec };
}


describe('presence (real daemon)', () => {
  it('presence: GET lists who is online; presence=true streams get online/offline frames', async () => {
    const org = newOrg();
    const watcher = follow(org, 'alice', { presence: true });
    watcher.client.connect();
    await waitFor(() => watcher.client.state === 'open', 'open');
    const bob = follow(org, 'bob');
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
