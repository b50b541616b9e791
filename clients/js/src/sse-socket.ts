// SseSocket: GET /v2/realtime/sse read with fetch streaming, dressed as the
// part of a WebSocket the client uses, so that the client's tracker, resume
// and backoff serve both transports unchanged.
import { CloseCode } from './backoff.js';
import { SseParser } from './sse.js';
import type { WebSocketLike } from './types.js';

/**
 * With no byte at all (not even a `: ping` comment) for this long, the SSE
 * stream is taken as dead and closed (1006): the server's ping interval is
 * 25 s by default, so two missed pings and some slack.
 */
export const SSE_IDLE_MS = 60_000;

/** The close event of an SseSocket: `retryMs` is the stream's last `retry:`. */
export interface SseCloseEvent {
  code: number;
  reason: string;
  retryMs?: number;
}

/** Options of an SseSocket. */
export interface SseSocketOptions {
  fetch: typeof fetch;
  idleMs?: number;
}

/**
 * SseSocket opens the stream at once. A 200 text/event-stream answer is the
 * open; each SSE message's data (the same JSON object as a WebSocket frame)
 * is a message. The end of the body is a close with 1001: the server ends an
 * SSE stream where it would close a WebSocket with 1001, 4001 or 4008, and
 * each of those means "reconnect and resume". A refusal closes with 1006
 * before any open (4029 for a 429), with the status and the body's code in
 * the reason (never the URL: it carries the token).
 */
export class SseSocket implements WebSocketLike {
  readyState = 0;
  binaryType = 'text';
  onopen: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: string }) => unknown) | null = null;
  onclose: ((ev: SseCloseEvent) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;

  private readonly abort = new AbortController();
  private readonly parser = new SseParser();
  private readonly idleMs: number;
  private idle: ReturnType<typeof setTimeout> | null = null;
  private ended = false;

  constructor(
    readonly url: string,
    opts: SseSocketOptions,
  ) {
    this.idleMs = opts.idleMs ?? SSE_IDLE_MS;
    void this.run(opts.fetch);
  }

  /** Stops reading; no close event follows (the client detached already). */
  close(): void {
    this.readyState = 3;
    this.ended = true;
    this.stopIdle();
    this.abort.abort();
  }

  private async run(fetchFn: typeof fetch): Promise<void> {
    let resp: Response;
    this.armIdle();
    try {
      resp = await fetchFn(this.url, {
        headers: { Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: this.abort.signal,
      });
    } catch {
      this.finish(CloseCode.Abnormal, 'sse: unreachable');
      return;
    }
    const type = resp.headers.get('content-type') ?? '';
    if (resp.status !== 200 || !type.startsWith('text/event-stream') || !resp.body) {
      let code = '';
      try {
        const b = (await resp.json()) as { code?: unknown };
        if (typeof b?.code === 'string') code = ' ' + b.code;
      } catch {
        // Not the daemon's JSON error body.
      }
      const reason = resp.status === 200 ? `sse: not an event stream (${type || 'no content type'})` : `sse: ${resp.status}${code}`;
      this.finish(resp.status === 429 ? CloseCode.TooMany : CloseCode.Abnormal, reason);
      return;
    }
    if (this.ended) return;
    this.readyState = 1;
    this.onopen?.({});
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.ended) return;
        if (done) break;
        this.armIdle();
        for (const m of this.parser.push(dec.decode(value, { stream: true }))) {
          if (this.ended) return;
          this.onmessage?.({ data: m.data });
        }
      }
    } catch {
      this.finish(CloseCode.Abnormal, 'sse: the stream broke');
      return;
    }
    this.finish(CloseCode.GoingAway, 'sse: the server ended the stream');
  }

  private finish(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.readyState = 3;
    this.stopIdle();
    this.abort.abort();
    const ev: SseCloseEvent = { code, reason };
    if (this.parser.retry !== null) ev.retryMs = this.parser.retry;
    this.onclose?.(ev);
  }

  private armIdle(): void {
    this.stopIdle();
    this.idle = setTimeout(() => this.finish(CloseCode.Abnormal, 'sse: nothing received for too long'), this.idleMs);
  }

  private stopIdle(): void {
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
  }
}
