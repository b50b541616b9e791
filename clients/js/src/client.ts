import { backoffDelay, CloseCode, decideReconnect, type ReconnectAction } from './backoff.js';
import { loadPosition, savePosition } from './position.js';
import { tokenExpiresWithin, tokenOrg } from './token.js';
import { topicMatches } from './topic.js';
import { fetchHistory, fetchPresence, fetchTicket, type HistoryPage, type PresenceInfo } from './http.js';
import { SseSocket, type SseCloseEvent } from './sse-socket.js';
import { ProtocolError, Tracker } from './tracker.js';
import { chooseTransport, type Transport } from './transport.js';
import type {
  ClientOptions,
  ClientStats,
  ConnectionState,
  Position,
  PresenceChange,
  RealtimeEvent,
  ResetInfo,
  TokenSource,
  Welcome,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
import { sseBase, streamBase, streamURL } from './url.js';
import { PROTOCOL_VERSION, ProtocolVersionError } from './version.js';

/** Defaults of ClientOptions.backoff. */
export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;
/** How often the position is written to storage at most while events flow. */
export const PERSIST_INTERVAL_MS = 250;
/** A cached token that expires sooner than this is not reused: the token function is asked again. */
export const TOKEN_MIN_TTL_MS = 5_000;
/**
 * At most this many reconnections in a row are immediate (after 1001, 4008,
 * 4001); then the client backs off until an event is delivered, so that a
 * server that welcomes and closes at once cannot make it loop hot.
 */
export const MAX_IMMEDIATE_RECONNECTS = 3;

interface Subscription {
  handler: (e: RealtimeEvent) => void;
  topic: string | undefined;
  active: boolean;
}

type MutableStats = { -readonly [K in keyof ClientStats]: ClientStats[K] };

const noop = (): void => {};

/**
 * RealtimeClient follows one org's stream over one WebSocket: it connects,
 * hands each event to onEvent and the subscribers in seq order, and
 * reconnects resuming after the last event it delivered, so that every seq is
 * seen once, or a reset says which will not be. See README.md for the
 * behaviour per close code. All callbacks run on the event loop, one at a
 * time; an exception in one is reported to onError and does not stop the
 * stream.
 */
export class RealtimeClient {
  private readonly opts: ClientOptions;
  private readonly base: URL;
  private readonly storage: Storage | null;
  private readonly storageKey: string;
  private readonly backoff: { initialMs: number; maxMs: number; tooManyMs: number };
  private readonly random: () => number;
  private readonly tracker: Tracker;

  private tokenSource: TokenSource;
  private token: string | null = null;
  private tokenStale = true;

  private _state: ConnectionState = 'closed';
  private started = false;
  private final = false;
  /** Incremented per attempt and by close(): an async token for an old one is dropped. */
  private gen = 0;
  private sock: WebSocketLike | null = null;
  private opened = false;
  private welcomed = false;
  private welcomedAt = 0;
  private delivered = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextAt: number | null = null;
  /** The token of the current attempt. */
  private dialed = '';
  /** The current attempt went with a connect ticket (option tickets). */
  private dialedTicket = false;
  /** A failed ticket attempt was retried at once since the last welcome. */
  private ticketRetried = false;
  private _transport: Transport | null = null;
  private wsOpened = false;
  private wsFailures = 0;
  private attempt = 0;
  private immediate = 0;

  private persistTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly subs = new Set<Subscription>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private readonly statsListeners = new Set<() => void>();
  private readonly presenceListeners = new Set<(p: PresenceChange) => void>();
  private readonly counters: MutableStats = {
    connects: 0,
    reconnects: 0,
    resumes: 0,
    resets: 0,
    gaps: 0,
    holes: 0,
    events: 0,
    duplicates: 0,
  };
  private statsSnapshot: ClientStats | null = null;
  private windowListeners: (() => void) | null = null;

  /** Throws on a url it cannot use or a missing token. Reads the stored position. */
  constructor(opts: ClientOptions) {
    if (!opts || typeof opts.url !== 'string' || opts.url === '') throw new Error('orgstream: url is required');
    if (typeof opts.token !== 'string' && typeof opts.token !== 'function') {
      throw new Error('orgstream: token must be a string or a function');
    }
    this.opts = opts;
    this.base = streamBase(opts.url);
    this.tokenSource = opts.token;
    this.storage = opts.storage ?? null;
    this.storageKey = opts.storageKey ?? 'orgstream:' + opts.url;
    const initialMs = opts.backoff?.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.backoff = {
      initialMs,
      maxMs: Math.max(opts.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs, initialMs),
      tooManyMs: opts.backoff?.tooManyMs ?? initialMs * 20,
    };
    this.random = opts.random ?? Math.random;
    this.tracker = new Tracker(loadPosition(this.storage, this.storageKey), { trustHoles: opts.trustHoles === true });
  }

  /** The current state; 'closed' before connect() and after close(). */
  get state(): ConnectionState {
    return this._state;
  }

  /** The position a reconnect resumes from, or null before the first welcome (and nothing stored). */
  get position(): Position | null {
    return this.tracker.position;
  }

  /** The transport of the current (or last) attempt; null before the first. */
  get transport(): Transport | null {
    return this._transport;
  }

  /** When the pending reconnect attempt starts (ms since the epoch), or null if none is pending. */
  get nextAttemptAt(): number | null {
    return this.timer !== null ? this.nextAt : null;
  }

  /** Starts the pending reconnect attempt now (a "retry now" button); a no-op if none is pending. */
  retryNow(): void {
    if (this.timer === null || this.final) return;
    clearTimeout(this.timer);
    this.open();
  }

  /**
   * Who is online in the org (GET …/presence with the client's token, in a
   * header). The org is the token's, else the last welcome's.
   */
  async presence(signal?: AbortSignal): Promise<PresenceInfo> {
    const { org, token } = await this.httpAuth();
    return fetchPresence({ url: this.opts.url, org, token, fetch: this.opts.fetch, signal });
  }

  /** The org's events after seq `after` (GET …/events), filtered by the token's scope and the `topics` option. */
  async history(after: number, limit?: number, signal?: AbortSignal): Promise<HistoryPage> {
    const { org, token } = await this.httpAuth();
    return fetchHistory({ url: this.opts.url, org, token, after, limit, topics: this.opts.topics, fetch: this.opts.fetch, signal });
  }

  private async httpAuth(): Promise<{ org: string; token: string }> {
    const token = await this.nextToken();
    const org = tokenOrg(token) ?? (this.tracker.org || null);
    if (org === null) throw new Error('orgstream: the org is not known (the token has no readable org claim and no welcome came yet)');
    return { org, token };
  }

  /** A snapshot of the counters: the same object until one of them changes. */
  get stats(): ClientStats {
    this.statsSnapshot ??= Object.freeze({ ...this.counters });
    return this.statsSnapshot;
  }

  /** Starts connecting; idempotent, and a no-op after close(). */
  connect(): void {
    if (this.started || this.final) return;
    this.started = true;
    this.listenToWindow();
    this.open();
  }

  /** Final: closes the socket (1000), cancels timers, saves the position; state 'closed'. */
  close(): void {
    if (this.final) return;
    this.final = true;
    this.gen++;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.flushPosition();
    this.windowListeners?.();
    this.windowListeners = null;
    const s = this.sock;
    if (s) {
      this.detach(s);
      try {
        s.close(CloseCode.Normal);
      } catch {
        // Already closing.
      }
    }
    this.setState('closed');
  }

  /**
   * Replaces the token source; the next attempt uses it (an open connection
   * keeps going until its token expires).
   */
  setToken(token: TokenSource): void {
    this.tokenSource = token;
    this.token = null;
    this.tokenStale = true;
  }

  /**
   * Calls handler for each event whose topic matches (see topicMatches: exact,
   * or a prefix pattern ending in '*'; none = all). Returns the unsubscribe.
   */
  subscribe(handler: (e: RealtimeEvent) => void, opts?: { topic?: string }): () => void {
    const sub: Subscription = { handler, topic: opts?.topic, active: true };
    this.subs.add(sub);
    return () => {
      sub.active = false;
      this.subs.delete(sub);
    };
  }

  /** Calls listener on each state change; returns the unsubscribe. */
  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Calls listener with each presence frame (option presence); returns the unsubscribe. */
  onPresenceChange(listener: (p: PresenceChange) => void): () => void {
    this.presenceListeners.add(listener);
    return () => this.presenceListeners.delete(listener);
  }

  /** Calls listener after each change of the counters (once per event: throttle on your side). */
  onStats(listener: () => void): () => void {
    this.statsListeners.add(listener);
    return () => this.statsListeners.delete(listener);
  }

  // --- connection attempts ---

  private open(): void {
    this.timer = null;
    this.nextAt = null;
    if (this.final) return;
    const gen = ++this.gen;
    let tok: string | Promise<string>;
    try {
      tok = this.nextToken();
    } catch (err) {
      this.tokenFailed(gen, err);
      return;
    }
    if (typeof tok === 'string') {
      this.withTicket(gen, tok);
    } else {
      // Until the token comes, whether the position is of its org is not known.
      this.setState(this.tracker.known ? 'resuming' : 'connecting');
      tok.then(
        (t) => this.withTicket(gen, t),
        (err: unknown) => this.tokenFailed(gen, err),
      );
    }
  }

  /** Dials with the token, or (option tickets) with a connect ticket for it. */
  private withTicket(gen: number, token: string): void {
    if (!this.opts.tickets) {
      this.dial(gen, token);
      return;
    }
    if (gen !== this.gen || this.final) return;
    this.setState(this.tracker.known ? 'resuming' : 'connecting');
    fetchTicket({ url: this.opts.url, token, fetch: this.opts.fetch }).then(
      (ticket) => this.dial(gen, token, ticket),
      (err: unknown) => {
        if (gen !== this.gen || this.final) return;
        this.tokenStale = true;
        this.report(new Error('orgstream: could not get a connect ticket', { cause: err }));
        this.schedule('backoff');
      },
    );
  }

  /** The token for this attempt: the cached one, or a new one from the function. */
  private nextToken(): string | Promise<string> {
    const src = this.tokenSource;
    if (typeof src === 'string') return src;
    if (!this.tokenStale && this.token !== null && !tokenExpiresWithin(this.token, TOKEN_MIN_TTL_MS)) {
      return this.token;
    }
    const got = src();
    const keep = (t: unknown): string => {
      if (typeof t !== 'string' || t === '') throw new Error('orgstream: the token function returned no token');
      if (src === this.tokenSource) {
        this.token = t;
        this.tokenStale = false;
      }
      return t;
    };
    return typeof got === 'string' ? keep(got) : Promise.resolve(got).then(keep);
  }

  private tokenFailed(gen: number, err: unknown): void {
    if (gen !== this.gen || this.final) return;
    this.report(new Error('orgstream: could not get a token', { cause: err }));
    this.schedule('backoff');
  }

  private dial(gen: number, token: string, ticket?: string): void {
    if (gen !== this.gen || this.final) return;
    // A position of another org than the token's means nothing in the token's
    // org (and the epoch is the store's, not the org's, so the server could
    // accept it and replay the wrong range): this connection starts fresh.
    this.tracker.forgetUnless(tokenOrg(token));
    const resume = this.tracker.connect();
    this.setState(resume ? 'resuming' : 'connecting');
    this.dialed = token;
    this.dialedTicket = ticket !== undefined;
    const WS: WebSocketConstructor | undefined =
      this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const transport = chooseTransport({
      mode: this.opts.transport ?? 'auto',
      current: this._transport,
      wsOpened: this.wsOpened,
      wsFailures: this.wsFailures,
      hasWebSocket: WS !== undefined,
    });
    this._transport = transport;
    const query = { topics: this.opts.topics, presence: this.opts.presence };
    let sock: WebSocketLike;
    if (transport === 'sse') {
      const f = this.opts.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
      if (!f) {
        this.report(new Error('orgstream: no fetch implementation for the SSE transport (pass options.fetch)'));
        this.schedule('backoff');
        return;
      }
      sock = new SseSocket(streamURL(sseBase(this.base), token, resume, query, ticket), { fetch: f });
    } else {
      if (!WS) {
        this.report(new Error('orgstream: no WebSocket implementation (pass options.WebSocket)'));
        this.schedule('backoff');
        return;
      }
      try {
        sock = new WS(streamURL(this.base, token, resume, query, ticket));
      } catch {
        // The constructor's error may quote the URL, which carries the token.
        this.report(new Error('orgstream: could not open a WebSocket'));
        this.schedule('backoff');
        return;
      }
    }
    try {
      sock.binaryType = 'arraybuffer';
    } catch {
      // Not settable on this implementation: text frames are all there is.
    }
    this.sock = sock;
    this.opened = false;
    this.welcomed = false;
    this.delivered = false;
    sock.onopen = () => {
      if (sock === this.sock) this.opened = true;
    };
    sock.onmessage = (ev: { data?: unknown }) => {
      if (sock === this.sock) this.frame(ev.data);
    };
    // The close event that follows says all there is to know (and a browser's error event says nothing).
    sock.onerror = noop;
    sock.onclose = (ev: SseCloseEvent | { code?: number; reason?: string }) => {
      if (sock === this.sock) this.ended(ev.code ?? CloseCode.Abnormal, ev.reason ?? '', (ev as SseCloseEvent).retryMs);
    };
  }

  /** The socket closed (not by us). retryMs: an SSE stream's `retry:`. */
  private ended(code: number, reason: string, retryMs?: number): void {
    const s = this.sock;
    if (s) this.detach(s);
    this.flushPosition();
    const sse = this._transport === 'sse';
    if (!sse) {
      if (this.opened) {
        this.wsOpened = true;
        this.wsFailures = 0;
      } else {
        this.wsFailures++;
      }
    }
    // An SSE stream just ends, whatever the cause: one whose token has run
    // out ended as a WebSocket would with 4001.
    if (sse && code === CloseCode.GoingAway && tokenExpiresWithin(this.dialed, 1_000)) code = CloseCode.TokenExpired;
    if (code === CloseCode.TokenExpired) this.tokenStale = true;
    if (!this.opened && this.dialedTicket && !this.ticketRetried) {
      // Most likely the ticket was refused (used, or expired on the way):
      // a new one, at once, once.
      this.ticketRetried = true;
      this.schedule('now');
      return;
    }
    if (!this.opened) {
      // An SSE refusal's reason is its status and code (never the URL).
      const why = sse && reason ? ` (${reason})` : '';
      this.report(new Error(`orgstream: connection failed before the upgrade (refused, unreachable or not ready)${why}`));
    } else if (code === CloseCode.TokenExpired && typeof this.tokenSource === 'string') {
      this.report(new Error('orgstream: closed with 4001: the token expired and the token option is a fixed string'));
    } else if (code === CloseCode.Policy || code === CloseCode.TooBig) {
      this.report(new Error(`orgstream: closed with ${code} (protocol violation)${reason ? ': ' + reason : ''}`));
    } else if (code === CloseCode.TooMany) {
      this.report(new Error('orgstream: closed with 4029: too many connections'));
    } else if (code !== CloseCode.GoingAway && code !== CloseCode.SlowConsumer && code !== CloseCode.TokenExpired) {
      this.report(new Error(`orgstream: connection closed unexpectedly (${code}${reason ? ' ' + reason : ''})`));
    }
    this.schedule(decideReconnect(code, this.welcomed), sse ? retryMs : undefined);
  }

  /**
   * Schedules the next attempt after an ending. hintMs (an SSE stream's
   * `retry:`, jittered by the server) delays an immediate reconnect, so that a
   * drained fleet of SSE clients does not come back at once.
   */
  private schedule(action: ReconnectAction, hintMs?: number): void {
    if (this.final) return;
    const healthy = this.delivered || (this.welcomed && Date.now() - this.welcomedAt >= this.backoff.maxMs);
    if (healthy) this.immediate = 0;
    let delay = 0;
    if (action === 'now' && this.immediate < MAX_IMMEDIATE_RECONNECTS) {
      this.immediate++;
      if (hintMs !== undefined) delay = Math.min(hintMs, this.backoff.maxMs);
    } else {
      // A failure: a function token is asked again (a refusal with 401 cannot be told apart).
      this.tokenStale = true;
      delay = backoffDelay(this.attempt, this.backoff, this.random);
      if (action === 'too-many') delay += this.backoff.tooManyMs;
      this.attempt++;
    }
    this.welcomed = false;
    this.delivered = false;
    this.setState(this.tracker.known ? 'resuming' : 'connecting');
    this.nextAt = Date.now() + delay;
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** Drops the current socket from our side (gap, protocol error) and backs off. */
  private drop(reason: string): void {
    const s = this.sock;
    if (!s) return;
    this.detach(s);
    try {
      s.close(CloseCode.Normal, reason);
    } catch {
      // Already closing.
    }
    this.flushPosition();
    this.schedule('backoff');
  }

  private detach(s: WebSocketLike): void {
    s.onopen = null;
    s.onmessage = null;
    s.onclose = null;
    // Keep a listener: Node's `ws` throws an 'error' event that has none.
    s.onerror = noop;
    if (this.sock === s) this.sock = null;
  }

  // --- frames ---

  private frame(data: unknown): void {
    let f: Record<string, unknown>;
    try {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer);
      const v: unknown = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      f = v as Record<string, unknown>;
    } catch {
      this.protocolError(new ProtocolError('malformed frame'));
      return;
    }
    try {
      switch (f.type) {
        case 'event':
          this.onEventFrame(f);
          break;
        case 'welcome':
          this.onWelcomeFrame(f);
          break;
        case 'reset':
          this.onResetFrame(f);
          break;
        case 'presence':
          this.onPresenceFrame(f);
          break;
        // Unknown types are ignored (later versions may add some).
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.protocolError(err);
      else throw err;
    }
  }

  private protocolError(err: ProtocolError): void {
    this.report(err);
    this.drop('protocol error');
  }

  private onWelcomeFrame(f: Record<string, unknown>): void {
    if (
      typeof f.epoch !== 'string' ||
      typeof f.org !== 'string' ||
      f.org === '' ||
      !isSeq(f.head) ||
      typeof f.resumed !== 'boolean' ||
      (f.scoped !== undefined && typeof f.scoped !== 'boolean') ||
      (f.protocol !== undefined && typeof f.protocol !== 'string')
    ) {
      throw new ProtocolError('malformed welcome');
    }
    if (f.protocol !== undefined && f.protocol !== PROTOCOL_VERSION) {
      // Reading on could misread its frames, and reconnecting cannot help.
      this.report(new ProtocolVersionError(f.protocol as string));
      this.close();
      return;
    }
    const { type: _type, ...rest } = f;
    const w = rest as unknown as Welcome;
    this.tracker.welcome(w);
    this.welcomed = true;
    this.ticketRetried = false;
    this.welcomedAt = Date.now();
    this.attempt = 0;
    this.counters.connects++;
    if (this.counters.connects > 1) this.counters.reconnects++;
    if (w.resumed && this.tracker.resuming) this.counters.resumes++;
    this.statsChanged();
    this.flushPosition();
    this.setState('open');
    this.call(this.opts.onWelcome, w);
  }

  private onResetFrame(f: Record<string, unknown>): void {
    if (typeof f.reason !== 'string' || !isSeq(f.first) || !isSeq(f.head)) {
      throw new ProtocolError('malformed reset');
    }
    const r: ResetInfo = { reason: f.reason, first: f.first, head: f.head };
    this.tracker.reset(r);
    this.counters.resets++;
    this.statsChanged();
    this.flushPosition();
    this.call(this.opts.onReset, r);
  }

  private onPresenceFrame(f: Record<string, unknown>): void {
    if (typeof f.user !== 'string' || typeof f.state !== 'string') throw new ProtocolError('malformed presence');
    if (!this.welcomed) throw new ProtocolError('presence before the welcome');
    const p: PresenceChange = { user: f.user, state: f.state };
    this.call(this.opts.onPresence, p);
    for (const l of Array.from(this.presenceListeners)) this.call(l, p);
  }

  private onEventFrame(f: Record<string, unknown>): void {
    const seq = f.seq;
    if (!isSeq(seq) || typeof f.topic !== 'string') throw new ProtocolError('malformed event');
    const v = this.tracker.event(seq);
    if (v.verdict === 'duplicate') {
      this.counters.duplicates++;
      this.statsChanged();
      return;
    }
    if (v.verdict === 'gap') {
      this.counters.gaps++;
      this.statsChanged();
      this.call(this.opts.onGap, { expected: v.expected, got: seq });
      this.drop('seq gap');
      return;
    }
    const e: RealtimeEvent = { seq, topic: f.topic, ts: typeof f.ts === 'string' ? f.ts : '', data: f.data };
    if (typeof f.id === 'string') e.id = f.id;
    this.delivered = true;
    this.immediate = 0;
    if (v.verdict === 'hole') this.counters.holes++;
    this.counters.events++;
    this.statsChanged();
    this.positionChanged();
    this.call(this.opts.onEvent, e);
    for (const sub of Array.from(this.subs)) {
      if (sub.active && topicMatches(sub.topic, e.topic)) this.call(sub.handler, e);
    }
  }

  // --- state, stats, position ---

  private setState(s: ConnectionState): void {
    // A callback may have called close() while a frame was being handled.
    if (s === this._state || (this.final && s !== 'closed')) return;
    this._state = s;
    this.call(this.opts.onStateChange, s);
    for (const l of Array.from(this.stateListeners)) this.call(l, s);
  }

  private statsChanged(): void {
    this.statsSnapshot = null;
    for (const l of Array.from(this.statsListeners)) this.call(l, undefined);
  }

  private positionChanged(): void {
    if (!this.storage || this.persistTimer !== null) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      savePosition(this.storage, this.storageKey, this.tracker.position);
    }, PERSIST_INTERVAL_MS);
  }

  private flushPosition(): void {
    if (this.persistTimer !== null) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    savePosition(this.storage, this.storageKey, this.tracker.position);
  }

  /** Saves the position on pagehide; reconnects at once when the browser comes back online. */
  private listenToWindow(): void {
    const w = (globalThis as { window?: Window }).window;
    if (!w || typeof w.addEventListener !== 'function') return;
    const pagehide = (): void => this.flushPosition();
    const online = (): void => {
      if (this.timer !== null && !this.final) {
        clearTimeout(this.timer);
        this.open();
      }
    };
    w.addEventListener('pagehide', pagehide);
    w.addEventListener('online', online);
    this.windowListeners = () => {
      w.removeEventListener('pagehide', pagehide);
      w.removeEventListener('online', online);
    };
  }

  // --- callbacks ---

  /** Calls a user callback; an exception is reported, never propagated into the stream. */
  private call<A>(fn: ((a: A) => void) | undefined, arg: A): void {
    if (!fn) return;
    try {
      fn(arg);
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)), true);
    }
  }

  /**
   * Hands err to onError. Without onError, only exceptions thrown by the
   * application's own callbacks (loud) go to console.error: connection
   * failures are routine and retried.
   */
  private report(err: Error, loud = false): void {
    const onError = this.opts.onError;
    if (onError) {
      try {
        onError(err);
        return;
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e));
        loud = true;
      }
    }
    if (loud) console.error(err);
  }
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
