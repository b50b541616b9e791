// Publisher: the way to publish from TypeScript (PROTOCOL.md "Publishing").
// Every event it sends carries an id, so retrying a failed request is always
// safe: the daemon answers a known id with its first seq (200) instead of
// storing it again.
import { backoffDelay } from './backoff.js';

/** The most events one request may carry. */
export const MAX_BATCH = 1000;

/** The default of PublisherOptions.minBatchEvents. */
export const DEFAULT_MIN_BATCH_EVENTS = 32;

/** The largest request body the daemon takes (413 body_too_large past it). */
export const MAX_BODY_BYTES = 1 << 20;

/**
 * The longest `retryForMs`. The daemon forgets an id after its dedup window
 * (2 minutes, or --retention if shorter); a retry after that could store an
 * event twice.
 */
export const MAX_RETRY_FOR_MS = 90_000;

export interface PublisherOptions {
  /** The daemon's base URL, http(s)://host:port. */
  url: string;
  /** The org published to. */
  org: string;
  /** A publish token (scope "publish"), or a function asked before every attempt. */
  token: string | (() => string | Promise<string>);
  /** The fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Bound of one request, ms. Default 15000 (the daemon's own publish timeout is 10 s). */
  attemptTimeoutMs?: number;
  /** How long failed attempts are retried, counted from the first, ms. Default 60000, at most MAX_RETRY_FOR_MS. */
  retryForMs?: number;
  /** Full-jitter backoff between attempts. Default {initialMs: 100, maxMs: 5000}. */
  backoff?: { initialMs: number; maxMs: number };
  /** Random numbers in [0, 1) for the jitter; default Math.random. */
  random?: () => number;
  /**
   * Most events in one request. The events handed over while a request is in
   * flight (or during lingerMs) go together in the next one, up to this many
   * and a 1 MiB body. Default MAX_BATCH; 1 turns coalescing off.
   */
  maxBatchEvents?: number;
  /**
   * The fewest events queued for which the events of several publish() calls
   * go together; with fewer, they go one per request. The daemon stores a
   * request of several events as one atomic batch, which costs more than a
   * single append (on an R1 log today 10 to 100 of them: a staging store and
   * an fsync), so coalescing pays only past that many; under load the queue
   * grows past it while a request is in flight. Default
   * DEFAULT_MIN_BATCH_EVENTS (32); 1 coalesces whatever is queued.
   */
  minBatchEvents?: number;
  /**
   * Requests in flight at once. Default 1, which keeps the order of calls;
   * more overlaps requests for throughput and gives up that order (the daemon
   * serializes them as they arrive).
   */
  maxInFlight?: number;
  /** How long a request waits for more events before it is sent, ms. Default 0: events coalesce only while requests are in flight. */
  lingerMs?: number;
}

/** One event to publish. */
export interface PublishMessage {
  topic: string;
  /** Any JSON-serializable value (not undefined). */
  data: unknown;
  /**
   * The idempotency key. Without it the Publisher assigns a fresh one
   * (newEventId). Give your own when the event has a natural key: then even a
   * publish repeated after a restart is stored once, within the dedup window.
   */
  id?: string;
}

export interface PublishAck {
  /** The id the event was sent with. */
  id: string;
  seq: number;
  /** The daemon already had this id (200), e.g. an earlier attempt's answer was lost; seq is the first seq. */
  duplicate: boolean;
  /** Requests sent. */
  attempts: number;
  /** Events in the request that carried this one (1 when it went alone). */
  batched: number;
}

export interface BatchAck {
  ids: string[];
  /** One per event, in order. */
  seqs: number[];
  /** Every event of the batch was already stored (200). */
  duplicate: boolean;
  attempts: number;
}

/**
 * A failed publish. `refused`: a 4xx, not retried (fix the request or the
 * token). Otherwise the outcome is unknown (retries ran out, or the signal
 * aborted): the events may or may not be stored; publish them again with the
 * same `ids` to store them at most once. `attempts` is 0 when nothing was sent
 * (an invalid message, or the token function failed first).
 */
export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(
    message: string,
    readonly ids: string[],
    readonly attempts: number,
    readonly refused: boolean,
    /** The last answer's HTTP status, 0 if it got none (network error, timeout). */
    readonly status = 0,
    /** The last answer's `code`. */
    readonly code = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when the events may or may not be stored. */
  get outcomeUnknown(): boolean {
    return !this.refused && this.attempts > 0;
  }
}

/**
 * retryableStatus: 503 (the daemon's "retry with the same ids": log_unavailable,
 * not_ready, draining, outcome_unknown), other 5xx (from proxies), 408, 429.
 * Every other 4xx is permanent.
 */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * newEventId is a random UUIDv4 (122 random bits from crypto.getRandomValues,
 * which unlike crypto.randomUUID also exists on plain-http pages).
 */
export function newEventId(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Answer {
  seq?: number;
  seqs?: number[];
  error?: string;
  code?: string;
}

/** One call's events, encoded, as they wait in the queue: never split. */
interface Group {
  evs: string[];
  ids: string[];
  bytes: number;
  /** One event of publish(): a request of it alone uses the one-event form. */
  single: boolean;
  /** The daemon would refuse it as we can tell (a bad topic, too big): it goes alone, so its 4xx fails no neighbour. */
  alone: boolean;
  signal?: AbortSignal;
  /** The request carrying it, once sent: its attempts so far. */
  req?: { attempts: number };
  settled: boolean;
  resolve: (r: { status: number; seqs: number[]; attempts: number; batched: number }) => void;
  reject: (e: unknown) => void;
}

const TOPIC = /^[A-Za-z0-9_.-]{1,256}$/;
const utf8 = new TextEncoder();
const BATCH_OPEN = '{"events":[';
const BATCH_CLOSE = ']}';

/**
 * Publisher publishes to one org over HTTP, pipelined and batched: calls
 * queue their events, and a request carries what was queued (up to
 * maxBatchEvents and a 1 MiB body), so that the events handed over while a
 * request is in flight go together in the next one. Call publish() without
 * awaiting each (collect the promises) to publish at batch speed. A caller's
 * publishBatch is never split (all or nothing). An event the daemon would
 * refuse as the client can tell (a bad topic, too big) goes alone, so its 4xx
 * fails no neighbour; another 4xx (a bad token) fails exactly the events of
 * its request.
 *
 * Every event carries an id, so transient failures (503, other 5xx, 408,
 * 429, network errors, timeouts) are retried with the same body, ids
 * included, and full-jitter backoff; another 4xx never is.
 *
 * Order: with maxInFlight 1 (the default) events get seqs in the order of the
 * calls. close() flushes what is queued and resolves once it is answered.
 */
export class Publisher {
  private readonly endpoint: string;
  private readonly fetch: typeof fetch;
  private readonly attemptTimeoutMs: number;
  private readonly retryForMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;
  private readonly maxBatchEvents: number;
  private readonly maxInFlight: number;
  private readonly minBatchEvents: number;
  private readonly lingerMs: number;
  private queue: Group[] = [];
  /** Events in queue. */
  private queued = 0;
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** Ends the lingering of the senders (close, or maxBatchEvents queued). */
  private lingerAbort = new AbortController();

  constructor(private readonly opts: PublisherOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new TypeError('Publisher: url must be http(s)://host:port');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('Publisher: url must be http(s)://host:port');
    if (!opts.org) throw new TypeError('Publisher: org is empty');
    if (!opts.token) throw new TypeError('Publisher: no token');
    this.retryForMs = opts.retryForMs ?? 60_000;
    if (this.retryForMs < 0 || this.retryForMs > MAX_RETRY_FOR_MS) {
      throw new RangeError(`Publisher: retryForMs must be 0…${MAX_RETRY_FOR_MS} (the daemon's dedup window is 2 minutes)`);
    }
    this.maxBatchEvents = opts.maxBatchEvents ?? MAX_BATCH;
    if (!Number.isInteger(this.maxBatchEvents) || this.maxBatchEvents < 1 || this.maxBatchEvents > MAX_BATCH) {
      throw new RangeError(`Publisher: maxBatchEvents must be 1…${MAX_BATCH}`);
    }
    this.minBatchEvents = opts.minBatchEvents ?? DEFAULT_MIN_BATCH_EVENTS;
    if (!Number.isInteger(this.minBatchEvents) || this.minBatchEvents < 1) throw new RangeError('Publisher: minBatchEvents must be ≥ 1');
    this.maxInFlight = opts.maxInFlight ?? 1;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError('Publisher: maxInFlight must be ≥ 1');
    this.lingerMs = opts.lingerMs ?? 0;
    if (!(this.lingerMs >= 0)) throw new RangeError('Publisher: lingerMs must be ≥ 0');
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/v2/realtime/orgs/${encodeURIComponent(opts.org)}/events`;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 15_000;
    this.backoff = opts.backoff ?? { initialMs: 100, maxMs: 5_000 };
    this.random = opts.random ?? Math.random;
  }

  /**
   * Publishes one event; resolves once the daemon has stored it. The signal
   * ends the publish: an event not yet sent is dropped (attempts 0), one in a
   * request is no longer waited for (outcome unknown), and a request stops
   * retrying once every caller in it has aborted.
   */
  async publish(msg: PublishMessage, opts: { signal?: AbortSignal } = {}): Promise<PublishAck> {
    const ev = wire(msg);
    const r = await this.enqueue([ev], true, opts.signal);
    return { id: ev.id, seq: r.seqs[0]!, duplicate: r.status === 200, attempts: r.attempts, batched: r.batched };
  }

  /** Publishes 1 to MAX_BATCH events as one all-or-nothing unit; resolves once all are stored (consecutive seqs). */
  async publishBatch(msgs: PublishMessage[], opts: { signal?: AbortSignal } = {}): Promise<BatchAck> {
    if (msgs.length === 0 || msgs.length > MAX_BATCH) {
      throw new PublishError(`publish: a batch holds 1 to ${MAX_BATCH} events, not ${msgs.length}`, [], 0, false);
    }
    const evs = msgs.map((m, i) => {
      try {
        return wire(m);
      } catch (err) {
        throw new PublishError(`events[${i}]: ${(err as Error).message}`, [], 0, false);
      }
    });
    const r = await this.enqueue(evs, false, opts.signal);
    return { ids: evs.map((e) => e.id), seqs: r.seqs, duplicate: r.status === 200, attempts: r.attempts };
  }

  /** Resolves once nothing is queued or in flight. */
  flush(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Refuses new publishes (PublishError, attempts 0), sends what is queued and resolves once it is answered. */
  close(): Promise<void> {
    this.closed = true;
    this.wakeLingering();
    return this.flush();
  }

  private enqueue(
    evs: WireEvent[],
    single: boolean,
    signal?: AbortSignal,
  ): Promise<{ status: number; seqs: number[]; attempts: number; batched: number }> {
    const ids = evs.map((e) => e.id);
    if (this.closed) return Promise.reject(new PublishError('publish: the publisher is closed', ids, 0, false));
    if (signal?.aborted) return Promise.reject(new PublishError('publish: aborted before sending', ids, 0, false, 0, '', { cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const json = evs.map((e) => JSON.stringify(e));
      const bytes = json.reduce((n, s) => n + utf8.encode(s).length + 1, 0);
      const g: Group = {
        evs: json,
        ids,
        bytes,
        single,
        alone: evs.some((e) => !TOPIC.test(e.topic)) || bytes + BATCH_OPEN.length + BATCH_CLOSE.length > MAX_BODY_BYTES,
        signal,
        settled: false,
        resolve: (r) => {
          if (!g.settled) (g.settled = true), signal?.removeEventListener('abort', onAbort), resolve(r);
        },
        reject: (e) => {
          if (!g.settled) (g.settled = true), signal?.removeEventListener('abort', onAbort), reject(e);
        },
      };
      const onAbort = (): void => {
        const attempts = g.req?.attempts ?? 0;
        if (!g.req) {
          this.queue = this.queue.filter((q) => q !== g);
          this.queued -= g.evs.length;
        }
        g.reject(
          new PublishError(
            attempts > 0 ? `publish outcome unknown after ${attempts} attempt${attempts === 1 ? '' : 's'} (aborted)` : 'publish: aborted before sending',
            ids, attempts, false, 0, '', { cause: signal?.reason },
          ),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(g);
      this.queued += g.evs.length;
      if (this.inFlight < this.maxInFlight) {
        this.inFlight++;
        void this.run();
      } else if (this.lingerMs > 0 && this.queuedEvents() >= this.maxBatchEvents) {
        this.wakeLingering();
      }
    });
  }

  /** A sender: sends what is queued, one request at a time, until the queue is empty. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.lingerMs > 0 && this.queuedEvents() < this.maxBatchEvents && !this.closed) {
          await sleep(this.lingerMs, this.lingerAbort.signal);
        }
        const gs = this.take();
        if (gs.length === 0) return;
        await this.sendGroups(gs);
      }
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.queue.length === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const r of w) r();
      }
    }
  }

  private wakeLingering(): void {
    this.lingerAbort.abort();
    this.lingerAbort = new AbortController();
  }

  private queuedEvents(): number {
    return this.queued;
  }

  /**
   * The next request's groups: the first queued, and after it whole groups
   * while they fit, none alone, provided minBatchEvents are queued when the
   * first is a single event.
   */
  private take(): Group[] {
    const gs: Group[] = [];
    let n = 0;
    let bytes = BATCH_OPEN.length + BATCH_CLOSE.length;
    const queued = this.queued;
    while (this.queue.length > 0) {
      const g = this.queue[0]!;
      if (
        gs.length > 0 &&
        (g.alone ||
          gs[0]!.alone ||
          n + g.evs.length > this.maxBatchEvents ||
          bytes + g.bytes > MAX_BODY_BYTES ||
          (gs[0]!.single && queued < this.minBatchEvents))
      ) {
        break;
      }
      this.queue.shift();
      this.queued -= g.evs.length;
      gs.push(g);
      n += g.evs.length;
      bytes += g.bytes;
    }
    return gs;
  }

  /** Sends gs as one request, with retries, and settles each with its part of the answer. */
  private async sendGroups(gs: Group[]): Promise<void> {
    const req = { attempts: 0 };
    for (const g of gs) g.req = req;
    const evs = gs.flatMap((g) => g.evs);
    const ids = gs.flatMap((g) => g.ids);
    const oneEvent = gs.length === 1 && gs[0]!.single;
    const body = oneEvent ? evs[0]! : `${BATCH_OPEN}${evs.join(',')}${BATCH_CLOSE}`;
    // The request stops once every caller in it aborted (none without a signal).
    const ctl = new AbortController();
    const signals = gs.map((g) => g.signal);
    const offs: Array<() => void> = [];
    if (signals.every((s) => s !== undefined)) {
      const check = (): void => {
        if (signals.every((s) => s!.aborted)) ctl.abort(signals[0]!.reason);
      };
      for (const s of signals) {
        s!.addEventListener('abort', check);
        offs.push(() => s!.removeEventListener('abort', check));
      }
      check();
    }
    try {
      const { status, answer, attempts } = await this.send(body, ids, ctl.signal, req);
      const seqs = oneEvent && typeof answer.seq === 'number' ? [answer.seq] : answer.seqs;
      if (!Array.isArray(seqs) || seqs.length !== evs.length) {
        const err = new PublishError(`publish: ${status} without ${evs.length} seqs`, ids, attempts, false, status);
        for (const g of gs) g.reject(withIds(err, g.ids));
        return;
      }
      let k = 0;
      for (const g of gs) {
        g.resolve({ status, seqs: seqs.slice(k, k + g.evs.length), attempts, batched: evs.length });
        k += g.evs.length;
      }
    } catch (err) {
      for (const g of gs) g.reject(err instanceof PublishError ? withIds(err, g.ids) : err);
    } finally {
      for (const off of offs) off();
    }
  }

  private async send(
    body: string,
    ids: string[],
    signal: AbortSignal | undefined,
    req: { attempts: number },
  ): Promise<{ status: number; answer: Answer; attempts: number }> {
    const deadline = Date.now() + this.retryForMs;
    let last: { status: number; code: string; message: string; cause?: unknown } = { status: 0, code: '', message: '' };
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = typeof this.opts.token === 'string' ? this.opts.token : await this.opts.token();
      } catch (err) {
        throw new PublishError(`publish: token: ${(err as Error).message}`, ids, attempt, false, last.status, last.code, { cause: err });
      }
      req.attempts = attempt + 1;
      const r = await this.attempt(body, token, signal);
      const sent = attempt + 1;
      if ('status' in r && r.status >= 200 && r.status < 300) return { status: r.status, answer: r.answer, attempts: sent };
      if ('status' in r) {
        last = { status: r.status, code: r.answer.code ?? '', message: r.answer.error ?? '' };
        if (!retryableStatus(r.status)) {
          throw new PublishError(
            `publish refused: ${r.status}${last.code ? ` ${last.code}` : ''}${last.message ? `: ${last.message}` : ''}`,
            ids, sent, true, r.status, last.code,
          );
        }
      } else {
        last = { status: 0, code: '', message: '', cause: r.error };
      }
      const unknown = (why: string): PublishError =>
        new PublishError(
          `publish outcome unknown after ${sent} attempt${sent === 1 ? '' : 's'} (${why}): ${last.status ? `${last.status} ${last.code}` : String((last.cause as Error)?.message ?? last.cause)}`,
          ids, sent, false, last.status, last.code, { cause: last.cause },
        );
      if (signal?.aborted) throw unknown('aborted');
      const wait = backoffDelay(attempt, this.backoff, this.random);
      if (Date.now() + wait > deadline) throw unknown('retries ran out');
      if (!(await sleep(wait, signal))) throw unknown('aborted');
    }
  }

  /** One request: its status and JSON answer, or the network error / timeout. */
  private async attempt(
    body: string,
    token: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; answer: Answer } | { error: unknown }> {
    const ctl = new AbortController();
    const onAbort = (): void => ctl.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) ctl.abort(signal.reason);
    const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${this.attemptTimeoutMs} ms`)), this.attemptTimeoutMs);
    try {
      const res = await this.fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: ctl.signal,
      });
      // A 2xx whose body is lost lost its seqs: count it as no answer (the retry gets them, 200).
      const text = await res.text();
      let answer: Answer = {};
      try {
        answer = JSON.parse(text) as Answer;
      } catch {
        if (res.status >= 200 && res.status < 300) return { error: new Error(`${res.status} answer is not JSON`) };
      }
      return { status: res.status, answer };
    } catch (error) {
      return { error: ctl.signal.aborted && ctl.signal.reason ? ctl.signal.reason : error };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

type WireEvent = { topic: string; data: unknown; id: string };

/** withIds is err with the ids of one caller's events (a request may carry several callers'). */
function withIds(err: PublishError, ids: string[]): PublishError {
  return new PublishError(err.message, ids, err.attempts, err.refused, err.status, err.code, { cause: err.cause });
}

/** wire gives msg its id and serializes what must be JSON, before anything is sent. */
function wire(msg: PublishMessage): WireEvent {
  if (!msg.topic) throw new PublishError('publish: no topic', [], 0, false);
  if (msg.data === undefined) throw new PublishError('publish: data is undefined (use null)', [], 0, false);
  const id = msg.id ?? newEventId();
  if (id === '' || id.length > 256 || id.startsWith(' ') || id.endsWith(' ')) {
    throw new PublishError('publish: id must be 1 to 256 characters, without a space at either end', [], 0, false);
  }
  return { topic: msg.topic, data: msg.data, id };
}

/** sleep resolves true after ms, or false at once when signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
