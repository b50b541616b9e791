// Which transport a connection attempt uses: the WebSocket stream, or the
// Server-Sent Events fallback (PROTOCOL.md "Server-Sent Events").

/** The `transport` option: 'auto' (default) falls back to SSE, the others are forced. */
export type TransportMode = 'auto' | 'websocket' | 'sse';

/** The transport of one connection attempt. */
export type Transport = 'websocket' | 'sse';

/**
 * In 'auto', this many WebSocket attempts in a row that end before the open
 * (the upgrade failed: a proxy that strips `Upgrade` makes the server answer
 * 426, which a browser only sees as a failed socket) switch the client to SSE,
 * unless a WebSocket of this client has opened before (then the failures are
 * the server's being away, not the path's lack of WebSocket support).
 */
export const WS_FAILURES_BEFORE_SSE = 2;

/** What the choice depends on. */
export interface TransportState {
  mode: TransportMode;
  /** The transport of the previous attempt (null before the first). */
  current: Transport | null;
  /** A WebSocket of this client has opened (reached onopen) at least once. */
  wsOpened: boolean;
  /** WebSocket attempts in a row that ended before the open. */
  wsFailures: number;
  /** A WebSocket implementation is there (globalThis.WebSocket or the option). */
  hasWebSocket: boolean;
}

/**
 * chooseTransport picks the next attempt's transport. Forced modes are kept
 * as they are. In 'auto': no WebSocket implementation → SSE; once on SSE the
 * client stays there (its path to the server has shown it needs it; SSE
 * carries everything but is receive-only, which is all the stream is);
 * a WebSocket that has opened once keeps being used; otherwise
 * WS_FAILURES_BEFORE_SSE failures before the open switch to SSE.
 */
export function chooseTransport(s: TransportState): Transport {
  if (s.mode === 'websocket' || s.mode === 'sse') return s.mode;
  if (!s.hasWebSocket) return 'sse';
  if (s.current === 'sse') return 'sse';
  if (s.wsOpened) return 'websocket';
  return s.wsFailures >= WS_FAILURES_BEFORE_SSE ? 'sse' : 'websocket';
}
