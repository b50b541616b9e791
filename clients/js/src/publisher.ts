// Publisher: the way to publish from TypeScript (PROTOCOL.md "Publishing").
// Every event it sends carries an id, so retrying a failed request is always
// safe: the daemon answers a known id with its first seq (200) instead of
// storing it again.
import { backoffDelay } from './backoff.js';

/** The most events one request may carry. */
export const MAX_BATCH = 1000;

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

/**
 * Publisher posts events to one org and retries transient failures (503,
 * other 5xx, 408, 429, network errors, timeouts) with the same body, ids
 * included, and full-jitter backoff; it never retries any other 4xx.
 */
export class Publisher {
  private readonly endpoint: string;
  private readonly fetch: typeof fetch;
  private readonly attemptTimeoutMs: number;
  private readonly retryForMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly random: () => number;

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
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/v2/realtime/orgs/${encodeURIComponent(opts.org)}/events`;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 15_000;
    this.backoff = opts.backoff ?? { initialMs: 100, maxMs: 5_000 };
    this.random = opts.random ?? Math.random;
  }

  /** Publishes one event; resolves once the daemon has stored it. */
  async publish(msg: PublishMessage, opts: { signal?: AbortSignal } = {}): Promise<PublishAck> {
    const ev = wire(msg);
    const { status, answer, attempts } = await this.send(JSON.stringify(ev), [ev.id], opts.signal);
    if (typeof answer.seq !== 'number') throw new PublishError(`publish: ${status} without a seq`, [ev.id], attempts, false, status);
    return { id: ev.id, seq: answer.seq, duplicate: status === 200, attempts };
  }

  /** Publishes 1 to MAX_BATCH events in one request; resolves once all are stored. */
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
    const ids = evs.map((e) => e.id);
    const { status, answer, attempts } = await this.send(JSON.stringify({ events: evs }), ids, opts.signal);
    if (!Array.isArray(answer.seqs) || answer.seqs.length !== msgs.length) {
      throw new PublishError(`publish: ${status} without ${msgs.length} seqs`, ids, attempts, false, status);
    }
    return { ids, seqs: answer.seqs, duplicate: status === 200, attempts };
  }

  private async send(
    body: string,
    ids: string[],
    signal?: AbortSignal,
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

/** wire gives msg its id and serializes what must be JSON, before anything is sent. */
function wire(msg: PublishMessage): { topic: string; data: unknown; id: string } {
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
