// One real daemon per test file and clients of it with everything they report
// recorded: the setup every *.daemon.test.ts file shares.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RealtimeClient, type ClientOptions } from '../src/index.js';
import { countingWebSocket, Daemon, type TokenClaims } from './daemon.js';
import { recorder } from './recorder.js';

/** n events of topic, data { i, nested }: a batch to publish. */
export const batch = (n: number, topic = 'orders.updated') =>
  Array.from({ length: n }, (_, i) => ({ topic, data: { i, nested: { ok: true } } }));

/**
 * Registers the file's hooks: the daemon starts before its tests and is
 * destroyed after them; the clients follow made are closed after each test.
 * orgPrefix names the orgs newOrg makes, each new (a test has its own log).
 */
export function daemonClients(orgPrefix: string) {
  const d = new Daemon();
  beforeAll(() => d.start());
  afterAll(() => d.destroy());
  const clients: RealtimeClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  let orgN = 0;
  const newOrg = (): string => `${orgPrefix}${++orgN}-${Date.now()}`;

  /**
   * A client of org on the daemon (opts.url may point it elsewhere, e.g. a
   * proxy), over a counting `ws`, with a token for user alice unless claims
   * say otherwise; not connected yet.
   */
  function follow(org: string, opts: Partial<ClientOptions> = {}, claims: Partial<TokenClaims> = {}) {
    const ws = countingWebSocket();
    const { rec, callbacks } = recorder();
    const client = new RealtimeClient({
      url: d.url,
      token: d.token({ sub: 'alice', org, ...claims }),
      WebSocket: ws.WebSocket,
      backoff: { initialMs: 50, maxMs: 400 },
      ...callbacks,
      ...opts,
    });
    clients.push(client);
    return { client, rec: { ...rec, ws } };
  }

  return { d, newOrg, follow, clients };
}
