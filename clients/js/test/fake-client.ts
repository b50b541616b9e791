// A RealtimeClient on the in-test WebSocket (fake-socket.ts), with everything
// it reports recorded: the frame-handling tests (frames, holes) start from it.
import { RealtimeClient, type ClientOptions } from '../src/index.js';
import { fakeWebSocket } from './fake-socket.js';
import { recorder } from './recorder.js';

/** The URL and token fakeClient connects with, unless opts say otherwise. */
export const FAKE_URL = 'https://rt.example.test/base/';
export const FAKE_TOKEN = 'T0K3N-secret';

/**
 * A client over a fake WebSocket, transport 'websocket' (the SSE fallback has
 * tests of its own, transport.test.ts), with a fixed backoff and jitter so
 * that fake timers know when it retries.
 */
export function fakeClient(opts: Partial<ClientOptions> = {}) {
  const ws = fakeWebSocket();
  const { rec, callbacks } = recorder();
  const client = new RealtimeClient({
    url: FAKE_URL,
    token: FAKE_TOKEN,
    WebSocket: ws.WebSocket,
    transport: 'websocket',
    backoff: { initialMs: 100, maxMs: 1000 },
    random: () => 0.5,
    ...callbacks,
    ...opts,
  });
  return { client, ws, rec };
}
