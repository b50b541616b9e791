// @vitest-environment jsdom
// The React provider against the real daemon: one WebSocket per tab however
// many hooks and StrictMode's double mounting, closed after the last unmount.
import { Component, StrictMode, useState, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ORPHAN_CLOSE_MS,
  RealtimeProvider,
  sharedClientCount,
  useConnectionState,
  useRealtime,
  useRealtimeClient,
  useRealtimeStats,
} from '../src/react.js';
import type { RealtimeClient } from '../src/index.js';
import { countingWebSocket, Daemon, MemoryStorage, sleep, waitFor } from './daemon.js';

const d = new Daemon();
beforeAll(() => d.start());
afterAll(() => d.destroy());

// Renders are scheduled by React itself: no act() around socket events.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;

let root: Root | null = null;
let container: HTMLElement;
function render(node: React.ReactNode): void {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  root.render(node);
}
const text = (id: string): string | null | undefined => container.querySelector(`#${id}`)?.textContent;

afterEach(async () => {
  root?.unmount();
  root = null;
  container?.remove();
  await waitFor(() => sharedClientCount() === 0, 'registry empty');
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

async function waitConnections(n: number): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const m = await d.metrics();
    if (m.connections === n) return;
    if (Date.now() > end) throw new Error(`daemon connections ${m.connections}, want ${n}`);
    await sleep(25);
  }
}

describe('RealtimeProvider (real daemon, jsdom)', () => {
  it('opens one socket under StrictMode, feeds every hook, and closes it after unmount', async () => {
    const org = 'react-strict';
    const ws = countingWebSocket();
    vi.stubGlobal('WebSocket', ws.WebSocket);
    const a: number[] = [];
    const b: number[] = [];
    const clients = new Set<RealtimeClient>();

    function StateView() {
      const s = useConnectionState();
      clients.add(useRealtimeClient());
      useRealtime((e) => a.push(e.seq));
      return <p id="state">{s}</p>;
    }
    function OrdersView() {
      const [last, setLast] = useState(0);
      useRealtime<{ i: number }>(
        (e) => {
          b.push(e.seq);
          setLast(e.seq);
        },
        { topic: 'orders.*' },
      );
      const stats = useRealtimeStats(20);
      return (
        <>
          <p id="last">{last}</p>
          <p id="events">{stats.events}</p>
        </>
      );
    }

    render(
      <StrictMode>
        <RealtimeProvider url={d.url} token={() => d.token({ sub: 'alice', org })}>
          <StateView />
          <OrdersView />
        </RealtimeProvider>
      </StrictMode>,
    );
    await waitFor(() => text('state') === 'open', 'state open');
    expect(ws.sockets).toHaveLength(1);
    await waitConnections(1);
    expect(clients.size).toBe(1);
    expect(sharedClientCount()).toBe(1);

    await d.publish(org, [
      { topic: 'orders.updated', data: { i: 1 } },
      { topic: 'users.created', data: { i: 2 } },
      { topic: 'orders.deleted', data: { i: 3 } },
    ]);
    await waitFor(() => text('last') === '3' && text('events') === '3', 'rendered events');
    expect(a).toEqual([1, 2, 3]); // once each, despite StrictMode's double effects
    expect(b).toEqual([1, 3]);
    expect(ws.sockets).toHaveLength(1);

    root!.unmount();
    root = null;
    await waitConnections(0);
    await waitFor(() => ws.sockets[0]!.readyState === ws.sockets[0]!.CLOSED, 'socket closed');
    expect(sharedClientCount()).toBe(0);
    const [client] = clients;
    expect(client!.state).toBe('closed');
    expect(ws.sockets).toHaveLength(1);
  });

  it('shares one socket between providers of the same url and storage key; a remount resumes from storage', async () => {
    const org = 'react-shared';
    const ws = countingWebSocket();
    vi.stubGlobal('WebSocket', ws.WebSocket);
    const storage = new MemoryStorage();
    const token = d.token({ sub: 'bob', org });
    const got: number[][] = [[], [], []];

    function Sink({ n }: { n: 0 | 1 | 2 }) {
      useRealtime((e) => got[n]!.push(e.seq));
      return <p id={`s${n}`}>{useConnectionState()}</p>;
    }
    function App({ show }: { show: boolean }) {
      return (
        <>
          <RealtimeProvider url={d.url} token={token} storage={storage}>
            <Sink n={0} />
          </RealtimeProvider>
          {show && (
            <RealtimeProvider url={d.url} token={token} storage={storage}>
              <Sink n={1} />
            </RealtimeProvider>
          )}
          <RealtimeProvider url={d.url} token={token} storageKey="other">
            <Sink n={2} />
          </RealtimeProvider>
        </>
      );
    }
    render(<App show />);
    await waitFor(() => text('s0') === 'open' && text('s1') === 'open' && text('s2') === 'open', 'all open');
    expect(ws.sockets).toHaveLength(2); // one per (url, storage key)
    await waitConnections(2);
    expect(sharedClientCount()).toBe(2);

    await d.publish(org, [{ topic: 't', data: 1 }]);
    await waitFor(() => got.every((g) => g.length === 1), 'event everywhere');

    // Unmounting one of two users of the shared client keeps it open.
    root!.render(<App show={false} />);
    await sleep(50);
    await waitConnections(2);
    await d.publish(org, [{ topic: 't', data: 2 }]);
    await waitFor(() => got[0]!.length === 2 && got[2]!.length === 2, 'second event');
    expect(ws.sockets).toHaveLength(2);

    root!.unmount();
    root = null;
    await waitConnections(0);
    expect(JSON.parse(storage.getItem(`orgstream:${d.url}`)!)).toMatchObject({ lastSeq: 2 });

    // A remount (a "reload") resumes from the stored position.
    await d.publish(org, [{ topic: 't', data: 3 }]);
    render(
      <RealtimeProvider url={d.url} token={token} storage={storage}>
        <Sink n={1} />
      </RealtimeProvider>,
    );
    await waitFor(() => got[1]!.includes(3), 'replayed event');
    expect(got[1]).toEqual([1, 3]);
    expect(ws.sockets).toHaveLength(3);
  });

  it('does not ask an inline token function again on each render; the newest one is asked when a token is needed', async () => {
    const org = 'react-inline-token';
    const ws = countingWebSocket();
    vi.stubGlobal('WebSocket', ws.WebSocket);
    const calls: number[] = [];
    let client: RealtimeClient | null = null;

    function Sink() {
      client = useRealtimeClient();
      return <p id="state">{useConnectionState()}</p>;
    }
    function App({ n }: { n: number }) {
      return (
        <RealtimeProvider
          url={d.url}
          token={() => {
            calls.push(n);
            // The first token expires soon (the daemon closes with 4001 within
            // 1-3 s); the ones after it do not.
            return d.token({ sub: 'carol', org, ttl: calls.length === 1 ? 2 : 3600 });
          }}
        >
          <p id="n">{n}</p>
          <Sink />
        </RealtimeProvider>
      );
    }
    render(<App n={1} />);
    await waitFor(() => text('state') === 'open', 'open');
    expect(calls).toEqual([1]);
    for (const n of [2, 3]) {
      root!.render(<App n={n} />);
      await waitFor(() => text('n') === String(n), `render ${n}`);
    }
    await sleep(50); // the token effect of the last render has run
    expect(calls).toEqual([1]);

    // A reconnect that needs a token asks the newest function: the daemon
    // closes the first stream with 4001 when its token expires (nothing here
    // closes it).
    expect(client!.stats.connects).toBe(1);
    await waitFor(() => client!.stats.connects === 2 && text('state') === 'open', 'reconnect after 4001', 8_000);
    expect(ws.closeCodes[0]).toBe(4001);
    expect(calls).toEqual([1, 3]);

    // A reconnect that can keep its token (1001 after the welcome; the daemon
    // echoes the code of a close the client starts) does not ask for one.
    // (It comes second: the client does not reuse a token that expires within
    // TOKEN_MIN_TTL_MS, so a 1001 before the 4001 would need a token living
    // over 5 s and make the test that slow.)
    ws.sockets[1]!.close(1001);
    await waitFor(() => client!.stats.connects === 3 && text('state') === 'open', 'reconnect after 1001');
    expect(ws.closeCodes[1]).toBe(1001);
    expect(calls).toEqual([1, 3]);
    expect(ws.sockets).toHaveLength(3);
    expect(sharedClientCount()).toBe(1);
  });

  it('keys shared clients by the org of a string token and never resumes in one org from another', async () => {
    const ws = countingWebSocket();
    vi.stubGlobal('WebSocket', ws.WebSocket);
    const storage = new MemoryStorage();
    const a1 = d.token({ sub: 'dave', org: 'react-org-a' });
    const a2 = d.token({ sub: 'erin', org: 'react-org-a' });
    const b = d.token({ sub: 'dave', org: 'react-org-b' });
    const clients: RealtimeClient[] = [];
    const got: number[] = [];

    function Sink() {
      const c = useRealtimeClient();
      if (!clients.includes(c)) clients.push(c);
      useRealtime((e) => got.push(e.seq));
      return <p id="state">{useConnectionState()}</p>;
    }
    const App = ({ token }: { token: string }) => (
      <RealtimeProvider url={d.url} token={token} storage={storage}>
        <Sink />
      </RealtimeProvider>
    );
    const param = (i: number, name: string) => new URL(ws.sockets[i]!.url).searchParams.get(name);

    await d.publish('react-org-a', [{ topic: 't', data: 1 }]);
    await d.publish('react-org-b', [1, 2, 3].map((data) => ({ topic: 't', data })));
    render(<App token={a1} />);
    await waitFor(() => text('state') === 'open', 'open A');
    await d.publish('react-org-a', [{ topic: 't', data: 2 }]);
    await waitFor(() => got.length === 1, 'event of A');
    expect(got).toEqual([2]);

    // Another token of the same org: the same client, which uses it from the next connection on.
    root!.render(<App token={a2} />);
    await sleep(50);
    expect(ws.sockets).toHaveLength(1);
    ws.sockets[0]!.close(1001);
    await waitFor(() => ws.sockets.length === 2 && text('state') === 'open' && clients[0]!.stats.connects === 2, 'reconnect');
    expect(param(1, 'access_token')).toBe(a2);
    expect(param(1, 'last_seq')).toBe('2');
    expect(clients).toHaveLength(1);

    // A token of another org: another client, which does not resume from org A's position
    // (stored under the same storage key).
    root!.render(<App token={b} />);
    await waitFor(() => clients.length === 2 && text('state') === 'open' && clients[1]!.stats.connects === 1, 'client of B');
    expect(ws.sockets).toHaveLength(3);
    expect(param(2, 'access_token')).toBe(b);
    expect(param(2, 'last_seq')).toBeNull();
    expect(clients[1]!.stats).toMatchObject({ resumes: 0, resets: 0 });
    expect(clients[1]!.position).toMatchObject({ org: 'react-org-b', lastSeq: 3 });
    await waitFor(() => clients[0]!.state === 'closed', 'client of A closed');
    await waitConnections(1);
    expect(sharedClientCount()).toBe(1);
  });

  it('closes the client of a render React discarded (no effect ever ran)', async () => {
    const ws = countingWebSocket();
    vi.stubGlobal('WebSocket', ws.WebSocket);
    vi.spyOn(console, 'error').mockImplementation(() => {}); // React reports the caught error
    class Boundary extends Component<{ children: ReactNode }, { failed: boolean }> {
      override state = { failed: false };
      static getDerivedStateFromError() {
        return { failed: true };
      }
      override render() {
        return this.state.failed ? <p id="failed">failed</p> : this.props.children;
      }
    }
    function Boom(): never {
      throw new Error('boom');
    }
    let seen: RealtimeClient | null = null;
    function Spy() {
      seen = useRealtimeClient();
      return <Boom />;
    }
    render(
      <Boundary>
        <RealtimeProvider url={d.url} token="never-used" storageKey="discarded">
          <Spy />
        </RealtimeProvider>
      </Boundary>,
    );
    await waitFor(() => text('failed') === 'failed', 'the error boundary');
    expect(seen).not.toBeNull();
    // The discarded render registered its client (peek), which waits
    // ORPHAN_CLOSE_MS for an effect that never comes.
    expect(sharedClientCount()).toBe(1);
    await waitFor(() => sharedClientCount() === 0, 'the orphan closed', ORPHAN_CLOSE_MS + 5_000);
    expect(seen!.state).toBe('closed');
    expect(ws.sockets).toHaveLength(0);
  });
});
