// The SSE transport against a real daemon (PROTOCOL.md v2 "Server-Sent
// Events"): forced, across a daemon restart, and as the fallback behind a
// real HTTP proxy that strips `Upgrade` (the daemon then answers the
// WebSocket's upgrade with 426, as behind such a corporate proxy).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, waitFor } from './daemon.js';
import { batch, daemonClients } from './follow.js';
import { range, seqs } from './recorder.js';

const { d, newOrg, follow, clients } = daemonClients('sseorg');

/**
 * An HTTP proxy in front of the daemon that drops `Upgrade` and `Connection`
 * from every request: a WebSocket upgrade reaches the daemon as a plain GET
 * (426), everything else (the SSE stream included) is piped through as it
 * comes.
 */
async function strippingProxy(target: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const t = new URL(target);
  const requests: string[] = [];
  const forward = (req: http.IncomingMessage, onResponse: (r: http.IncomingMessage) => void) => {
    const headers = { ...req.headers };
    delete headers.upgrade;
    delete headers.connection;
    requests.push(`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`);
    const out = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers }, onResponse);
    out.on('error', () => {});
    req.pipe(out);
    return out;
  };
  const server = http.createServer((req, res) => {
    const out = forward(req, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    res.on('close', () => out.destroy());
  });
  server.on('upgrade', (req, socket) => {
    forward(req, (r) => {
      let head = `HTTP/1.1 ${r.statusCode} ${r.statusMessage}\r\n`;
      for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${String(v)}\r\n`;
      socket.write(head + 'connection: close\r\n\r\n');
      r.pipe(socket);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

describe('SSE transport (real daemon)', () => {
  it("transport 'sse' receives in order and resumes across a daemon restart with every event once", async () => {
    const org = newOrg();
    const storage = new MemoryStorage();
    const { client, rec } = follow(org, { transport: 'sse', storage, storageKey: org });
    client.connect();
    await waitFor(() => client.state === 'open', 'open');
    expect(client.transport).toBe('sse');
    expect(rec.ws.sockets).toHaveLength(0);
    await d.publish(org, batch(5));
    await waitFor(() => rec.events.length === 5, '5 events');
    await d.stop();
    await waitFor(() => client.state !== 'open', 'the stream ended');
    await d.start();
    await d.publish(org, batch(4));
    await waitFor(() => rec.events.length === 9, '9 events', 20_000);
    expect(seqs(rec.events)).toEqual(range(1, 9));
    expect(rec.events[0]).toMatchObject({ topic: 'orders.updated', data: { i: 0 } });
    expect(rec.welcomes.at(-1)).toMatchObject({ resumed: true });
    expect(client.stats).toMatchObject({ gaps: 0, duplicates: 0, resets: 0 });
    expect(rec.errors.map((e) => e.message).join('\n')).not.toContain('eyJ');
  });

  it('option tickets: WebSocket and SSE URLs carry a connect ticket, never the token (PROTOCOL.md "Connect tickets")', async () => {
    const org = newOrg();
    const ws = follow(org, { tickets: true });
    ws.client.connect();
    await waitFor(() => ws.client.state === 'open', 'open over WebSocket');
    const wsURL = new URL(ws.rec.ws.sockets[0].url);
    expect(wsURL.searchParams.get('ticket')).toMatch(/^t-[A-Za-z0-9_-]{22}$/);
    expect(wsURL.searchParams.has('access_token')).toBe(false);

    const urls: string[] = [];
    const recording = ((u: string | URL | Request, init?: RequestInit) => {
      urls.push(`${init?.method ?? 'GET'} ${String(u)}`);
      return fetch(u, init);
    }) as typeof fetch;
    const sse = follow(org, { tickets: true, transport: 'sse', fetch: recording });
    sse.client.connect();
    await waitFor(() => sse.client.state === 'open', 'open over SSE');
    await d.publish(org, batch(2));
    await waitFor(() => ws.rec.events.length === 2 && sse.rec.events.length === 2, 'both got 2 events');
    expect(urls.map((u) => u.replace(/\?.*/, '').replace(d.url.replace(/\/$/, ''), ''))).toEqual([
      'POST /v2/realtime/tickets',
      'GET /v2/realtime/sse',
    ]);
    expect(urls[1]).toMatch(/[?&]ticket=t-/);
    expect(urls.join(' ')).not.toContain('access_token');
    expect(sse.rec.welcomes[0]).toMatchObject({ org, user: 'alice' });
  });

  it('auto falls back to SSE behind a proxy that strips Upgrade (426), and gets every event', async () => {
    const proxy = await strippingProxy(d.url);
    try {
      const org = newOrg();
      const { client, rec } = follow(org, { url: proxy.url });
      client.connect();
      await waitFor(() => client.state === 'open', 'open over SSE', 15_000);
      expect(client.transport).toBe('sse');
      expect(rec.ws.sockets.length).toBeGreaterThanOrEqual(2);
      expect(rec.ws.sockets.every((s) => s.readyState === s.CLOSED)).toBe(true);
      expect(proxy.requests.filter((r) => r === 'GET /v2/realtime/stream').length).toBe(rec.ws.sockets.length);
      expect(proxy.requests).toContain('GET /v2/realtime/sse');
      await d.publish(org, batch(3));
      await waitFor(() => rec.events.length === 3, '3 events');
      expect(seqs(rec.events)).toEqual([1, 2, 3]);
    } finally {
      for (const c of clients.splice(0)) c.close();
      await proxy.close();
    }
  });
});
