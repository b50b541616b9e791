// The Server-Sent Events parser (the WHATWG "event stream interpretation"),
// incremental: the fetch-based SSE transport (sse-socket.ts) feeds it chunks
// as they arrive. Written here rather than using EventSource because
// EventSource cannot send headers, exposes no status of a refusal, and does
// not exist in Node.

/** One dispatched message: `event` is 'message' when the stream named none. */
export interface SseMessage {
  event: string;
  data: string;
  /** The last event ID as of this message ('' if none was ever set). */
  id: string;
}

/**
 * SseParser turns chunks of an event stream into messages. Lines end with
 * CRLF, LF or CR (a CR at the end of a chunk may be the first half of a CRLF:
 * the LF that starts the next chunk is then skipped). Comment lines (`:`)
 * count in `comments` (the server's `: ping`) and dispatch nothing.
 */
export class SseParser {
  /** The last `retry:` value in ms, or null if none came. */
  retry: number | null = null;
  /** The last event ID (`id:` without NUL). */
  lastEventId = '';
  /** Comment lines seen. */
  comments = 0;

  private buf = '';
  private started = false;
  private skipLF = false;
  private event = '';
  private data: string[] = [];

  /** Feeds a chunk of decoded text; returns the messages it completed, in order. */
  push(chunk: string): SseMessage[] {
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (chunk.length === 0) return [];
    if (this.skipLF && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLF = false;
    this.buf += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buf.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < this.buf.length) {
          if (this.buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLF = true;
        }
      }
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      // Other fields are ignored.
    }
  }

  private dispatch(out: SseMessage[]): void {
    const event = this.event;
    this.event = '';
    if (this.data.length === 0) return;
    const data = this.data.join('\n');
    this.data = [];
    out.push({ event: event === '' ? 'message' : event, data, id: this.lastEventId });
  }
}
