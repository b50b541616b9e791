// Public types of the orgstream client (PROTOCOL.md "Subscribing: the stream").
import type { TransportMode } from './transport.js';

/**
 * Where a client is in its life; `onStateChange`/`onState` report each change once.
 *
 * - `connecting`: opening a socket without a position (the first connection of a
 *   client that has nothing stored), or waiting to.
 * - `resuming`: opening a socket that asks to resume after a known position
 *   (`last_seq` and `epoch`), or backing off before that.
 * - `open`: the welcome arrived; events flow.
 * - `closed`: before `connect()` and after `close()`.
 */
export type ConnectionState = 'connecting' | 'open' | 'resuming' | 'closed';

/** One event of the org, as the server sent it (without `type`). */
export interface RealtimeEvent<T = unknown> {
  /** The org's sequence number: 1, 2, 3… without holes. */
  seq: number;
  topic: string;
  /** When orgstream accepted the event (RFC 3339, UTC). */
  ts: string;
  /** The publisher's idempotency key, when it gave one. */
  id?: string;
  /** The publisher's JSON, parsed. */
  data: T;
}

/** The first frame of every connection. */
export interface Welcome {
  conn_id: string;
  org: string;
  user: string;
  /** The generation of the org's log; old seqs mean nothing in another epoch. */
  epoch: string;
  /** The org's newest seq when the connection opened (0 if none). */
  head: number;
  /** True when the server continues after the client's last_seq. */
  resumed: boolean;
  /** The replayed range of a resume (from > to when empty). */
  replay?: { from: number; to: number };
  /**
   * The stream has a topic scope (token `topics` or the `topics` option): it
   * sees only some seqs, and the client delivers holes without verifying them.
   */
  scoped?: boolean;
  /** The version of the wire contract the server speaks ("2"; absent from servers older than the field). */
  protocol?: string;
}

/** A presence frame (option `presence: true`): no seq, never replayed. */
export interface PresenceChange {
  user: string;
  state: 'online' | 'offline' | string;
}

/**
 * The client's position could not be served: the events after it up to `head`
 * will not be delivered (fetch them from your own backend if you need them).
 */
export interface ResetInfo {
  reason: 'window_exceeded' | 'epoch_changed' | 'invalid_position' | string;
  /** The oldest seq still retained. */
  first: number;
  head: number;
}

/**
 * A hole in the seqs that the client verifies by resuming (see the tracker's
 * hole rule): `expected` should have come, `got` came.
 */
export interface GapInfo {
  expected: number;
  got: number;
}

/**
 * The epoch of the org's log and the seq of the last event delivered (or the
 * head of the last fresh welcome or reset), with the org (and user) of the
 * welcome that set it: a seq means something only in its org, so a client
 * whose token is for another org does not resume from it.
 */
export interface Position {
  epoch: string;
  lastSeq: number;
  /** The org of the stream (the welcome's `org`). */
  org: string;
  /** The user of the last welcome (informative: a position is valid for every user of its org). */
  user?: string;
}

/** A client's counters since it was constructed. */
export interface ClientStats {
  /** Welcomes received (successful connections). */
  connects: number;
  /** Welcomes after the first. */
  reconnects: number;
  /** Welcomes with `resumed: true`. */
  resumes: number;
  /** Reset frames received. */
  resets: number;
  /** Holes on an unscoped stream that made the client resume to verify them (each reported to onGap). */
  gaps: number;
  /** Holes delivered as legitimate: on a scoped stream, with trustHoles, or confirmed by a resume. */
  holes: number;
  /** Events delivered. */
  events: number;
  /** Events dropped because their seq was not after the last delivered one. */
  duplicates: number;
}

/**
 * A token, or a function that returns one. A function is called for the first
 * connection, again after a close with 4001 (token expired), after every failed
 * attempt (a browser cannot see why an upgrade was refused: 401 looks like any
 * other failure), and when the token it gave last expires within 5 s (read from
 * the JWT's `exp`, unverified). Keep it cheap or cache inside it.
 */
export type TokenSource = string | (() => string | Promise<string>);

/** A WebSocket event as far as the client reads it. */
export interface WebSocketEventLike {
  data?: unknown;
  code?: number;
  reason?: string;
}

/** The part of the browser's WebSocket the client uses (the `ws` package's fits too). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((ev: any) => unknown) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((ev: any) => unknown) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((ev: any) => unknown) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((ev: any) => unknown) | null;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or the `ws` package's in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /**
   * Base URL of the daemon: 'http://host:port', 'https://…', 'ws://…' or 'wss://…'
   * (the path /v2/realtime/stream is appended to its path), or the full
   * …/v2/realtime/stream URL. A path-only URL ('/' or '/api') is resolved
   * against `location` in a browser. http becomes ws and https wss.
   */
  url: string;
  /** See TokenSource for when a function is called. */
  token: TokenSource;
  /**
   * Where the position is persisted (JSON `{epoch,lastSeq,org,user}` under
   * storageKey), e.g. sessionStorage, so that a reload resumes. Read at
   * construction (an entry without `org`, from an older version, is ignored);
   * written on welcome and reset, at most every 250 ms while events flow, on
   * close() and on pagehide. Default null: memory only. A position (stored or
   * in memory) of another org than the token's `org` claim is dropped when a
   * connection opens: that connection starts fresh, without `last_seq`.
   */
  storage?: Storage | null;
  /** Default 'orgstream:' + url (the same for every org: pass one per org to keep each org's position). */
  storageKey?: string;
  /** Default globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /**
   * Reconnect waits. After a failure: full jitter, random()·min(maxMs, initialMs·2^attempt),
   * attempt counting consecutive failures and starting over after a welcome.
   * After a close with 4029: tooManyMs plus that. Defaults 500, 30000, initialMs·20.
   */
  backoff?: { initialMs?: number; maxMs?: number; tooManyMs?: number };
  /** Default Math.random (tests pass a fixed one). */
  random?: () => number;
  /**
   * Topic patterns (`orders.*`, `billing.>`): the stream carries only the
   * events of these topics (query `topics=`, within the token's own `topics`
   * or a 403 refusal). Such a stream sees holes in the seqs, which are delivered.
   */
  topics?: readonly string[];
  /** presence=true: presence frames come to onPresence (and onPresence subscribers). */
  presence?: boolean;
  /**
   * Deliver a hole on an unscoped stream at once instead of verifying it with
   * one resume (orgs that publish `to` named users a lot). Default false.
   */
  trustHoles?: boolean;
  /**
   * 'auto' (default): WebSocket, falling back to Server-Sent Events when the
   * WebSocket cannot connect (see chooseTransport); 'websocket' or 'sse' force one.
   */
  transport?: TransportMode;
  /**
   * Connect tickets (PROTOCOL.md "Connect tickets"): before each WebSocket or
   * SSE attempt, POST the token (Authorization header) to /v2/realtime/tickets
   * beside `url` and put `ticket=` in the stream's URL instead of
   * `access_token`, so the token never appears in a URL (browser consoles
   * print the URL of every failed connect). An attempt with a ticket that
   * fails before the open (a used or expired ticket is a 401 the browser does
   * not show) is retried at once with a new ticket, once. Default false.
   */
  tickets?: boolean;
  /** The fetch of the SSE transport, the tickets and the presence/history helpers; default globalThis.fetch. */
  fetch?: typeof fetch;
  onEvent?: (e: RealtimeEvent) => void;
  onPresence?: (p: PresenceChange) => void;
  onReset?: (r: ResetInfo) => void;
  onGap?: (g: GapInfo) => void;
  onWelcome?: (w: Welcome) => void;
  onStateChange?: (s: ConnectionState) => void;
  /** Refusals, unexpected closes, protocol errors, throwing handlers. Never carries the token. */
  onError?: (err: Error) => void;
}
