// @vitest-environment jsdom
// The React provider against the real daemon: one WebSocket per tab however
// many hooks and StrictMode's double mounting, closed after the last unmount.
import { StrictMode, useState } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
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
});
