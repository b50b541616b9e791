// An in-test WebSocket for the unit tests of timing and frame handling only
// (close codes like 4029 and holes cannot be provoked on the real daemon).
// Everything else is tested against the real daemon.
import type { WebSocketConstructor, WebSocketLike } from '../src/index.js';

export interface FakeSocket extends WebSocketLike {
  readonly url: string;
  /** What the client passed to close(), if it closed the socket. */
  closedByClient: { code?: number; reason?: string } | null;
  /** The server side: */
  accept(): void;
  send(frame: object | string): void;
  /** accept, then send each frame (a welcome first, as the server does). */
  open(...frames: (object | string)[]): void;
  serverClose(code: number, reason?: string): void;
  /** A refused or broken connection: error, then close 1006 without an open. */
  fail(): void;
}

export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  class Fake implements FakeSocket {
    readyState = 0;
    binaryType = 'blob';
    onopen: ((ev: unknown) => unknown) | null = null;
    onmessage: ((ev: unknown) => unknown) | null = null;
    onclose: ((ev: unknown) => unknown) | null = null;
    onerror: ((ev: unknown) => unknown) | null = null;
    closedByClient: { code?: number; reason?: string } | null = null;
    constructor(readonly url: string) {
      sockets.push(this);
    }
    close(code?: number, reason?: string): void {
      this.closedByClient = { code, reason };
      this.readyState = 3;
    }
    accept(): void {
      this.readyState = 1;
      this.onopen?.({});
    }
    send(frame: object | string): void {
      this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }
    open(...frames: (object | string)[]): void {
      this.accept();
      for (const f of frames) this.send(f);
    }
    serverClose(code: number, reason = ''): void {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: true });
    }
    fail(): void {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: '', wasClean: false });
    }
  }
  return {
    WebSocket: Fake,
    sockets,
    last: () => {
      const s = sockets.at(-1);
      if (!s) throw new Error('no socket');
      return s;
    },
  };
}

export const welcome = (
  o: Partial<{ org: string; user: string; epoch: string; head: number; resumed: boolean; replay: { from: number; to: number }; scoped: boolean; protocol: string }> = {},
) => ({
  type: 'welcome',
  conn_id: 'c-1',
  org: 'acme',
  user: 'alice',
  epoch: 'e-1',
  head: 0,
  resumed: false,
  protocol: '2',
  ...o,
});

export const event = (seq: number, topic = 't', data: unknown = { n: seq }) => ({
  type: 'event',
  seq,
  topic,
  ts: '2026-11-28T10:00:00.123456Z',
  data,
});

export const reset = (reason: string, first: number, head: number) => ({ type: 'reset', reason, first, head });

/** An unsigned JWT with these claims (the client reads exp and org without verifying). */
export const jwt = (claims: Record<string, unknown>): string => {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
};
