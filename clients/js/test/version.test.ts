// Versions on the wire (PROTOCOL.md "Versions"): the client names itself in
// the query, reads the welcome's protocol, and closes for good on one it does
// not speak. A server of another version cannot be provoked on the real
// daemon, so an in-test WebSocket stands in for it.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_NAME, PROTOCOL_VERSION, ProtocolVersionError, VERSION } from '../src/index.js';
import { fakeClient } from './fake-client.js';
import { event, welcome } from './fake-socket.js';
import { q, seqs } from './recorder.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('versions', () => {
  it('the version in the code is the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    expect(CLIENT_NAME).toBe(`orgstream-js/${pkg.version}`);
  });

  it('names itself in the query and accepts its protocol or none', async () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    expect(q(ws.last().url).client).toBe(CLIENT_NAME);
    ws.last().open(welcome({ protocol: PROTOCOL_VERSION }));
    ws.last().send(event(1));
    ws.last().serverClose(1001);
    await vi.advanceTimersByTimeAsync(0);
    const { protocol: _p, ...older } = welcome({ head: 1, resumed: true, replay: { from: 2, to: 1 } });
    ws.last().open(older); // a server older than the field
    ws.last().send(event(2));
    expect(seqs(rec.events)).toEqual([1, 2]);
    expect(rec.errors).toEqual([]);
    client.close();
  });

  it('closes for good on a protocol it does not speak', async () => {
    const { client, ws, rec } = fakeClient();
    client.connect();
    const s = ws.last();
    s.open(welcome({ protocol: '3' }));
    s.send(event(1));
    expect(rec.events).toEqual([]);
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]).toBeInstanceOf(ProtocolVersionError);
    expect(client.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ws.sockets).toHaveLength(1); // no reconnect
  });
});
