// The two GET routes beside the stream (PROTOCOL.md v2 "Presence" and
// "History over HTTP"), with the token in the Authorization header (never in
// a URL, so it stays out of logs).
import type { RealtimeEvent } from './types.js';
import { httpBase, streamBase } from './url.js';

/** GET /v2/realtime/orgs/{org}/presence. */
export interface PresenceInfo {
  org: string;
  /** Open streams (WebSocket and SSE) of the org on every node. */
  connections: number;
  users: { user: string; connections: number }[];
}

/** GET /v2/realtime/orgs/{org}/events: the events after `after`, in order. */
export interface HistoryPage {
  epoch: string;
  head: number;
  /** The oldest retained seq. */
  first: number;
  /**
   * The seq the daemon's scan went through, when it says (a scope that allows
   * few events may end a page before `limit`): the next page is after=last;
   * last == head means caught up.
   */
  last?: number;
  events: RealtimeEvent[];
}

/**
 * An error answer of the daemon: `status`, its JSON body's `code`
 * (e.g. 'window_exceeded' with `first`), or 'network' when no answer came.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly body: Record<string, unknown> | null,
  ) {
    super(message);
  }
}

/** Where and how: `url` as ClientOptions.url, a token of the org. */
export interface HttpOptions {
  url: string;
  org: string;
  token: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** fetchPresence asks who is online in the org, cluster-wide (fresh within 3 s). */
export async function fetchPresence(o: HttpOptions): Promise<PresenceInfo> {
  const body = await get(o, 'presence', {});
  if (typeof body.connections !== 'number' || !Array.isArray(body.users)) throw malformed('presence');
  return body as unknown as PresenceInfo;
}

/**
 * fetchHistory reads up to `limit` (1–1000, the daemon's default 100) events
 * after seq `after`, filtered by the token's scope as a stream would be. An
 * `after` older than the retention is an HttpError 410 'window_exceeded'
 * whose body carries `first`. `topics` narrows it as the stream's option does.
 */
export async function fetchHistory(o: HttpOptions & { after: number; limit?: number; topics?: readonly string[] }): Promise<HistoryPage> {
  const q: Record<string, string> = { after: String(o.after) };
  if (o.limit !== undefined) q.limit = String(o.limit);
  if (o.topics && o.topics.length > 0) q.topics = o.topics.join(',');
  const body = await get(o, 'events', q);
  if (typeof body.epoch !== 'string' || typeof body.head !== 'number' || !Array.isArray(body.events)) throw malformed('history');
  return body as unknown as HistoryPage;
}

/** orgURL is the URL of an org's route under the daemon's root (url as ClientOptions.url). */
export function orgURL(url: string, org: string, route: string, query: Record<string, string> = {}): string {
  const u = httpBase(streamBase(url));
  u.pathname = u.pathname.replace(/\/+$/, '') + `/v2/realtime/orgs/${encodeURIComponent(org)}/${route}`;
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.href;
}

async function get(o: HttpOptions, route: string, query: Record<string, string>): Promise<Record<string, unknown>> {
  const f = o.fetch ?? globalThis.fetch;
  let resp: Response;
  try {
    resp = await f(orgURL(o.url, o.org, route, query), {
      headers: { Authorization: 'Bearer ' + o.token, Accept: 'application/json' },
      cache: 'no-store',
      signal: o.signal,
    });
  } catch (err) {
    throw new HttpError(`orgstream: GET ${route} failed: ${(err as Error)?.message ?? err}`, 0, 'network', null);
  }
  return answer(resp, `GET ${route}`, route);
}

/** The route that trades a token for a connect ticket (PROTOCOL.md "Connect tickets"). */
export const TICKETS_PATH = '/v2/realtime/tickets';

/** ticketsURL is the tickets route under the daemon's root (url as ClientOptions.url). */
export function ticketsURL(url: string): string {
  const u = httpBase(streamBase(url));
  u.pathname = u.pathname.replace(/\/+$/, '') + TICKETS_PATH;
  return u.href;
}

/**
 * fetchTicket POSTs the token (in the Authorization header: never in a URL)
 * for a single-use connect ticket, good for one stream within ~30 s on any
 * node. A refusal is an HttpError (401 for the token, 403 for a token of
 * every org, 503).
 */
export async function fetchTicket(o: { url: string; token: string; fetch?: typeof fetch; signal?: AbortSignal }): Promise<string> {
  const f = o.fetch ?? globalThis.fetch;
  let resp: Response;
  try {
    resp = await f(ticketsURL(o.url), {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + o.token, Accept: 'application/json' },
      cache: 'no-store',
      signal: o.signal,
    });
  } catch (err) {
    throw new HttpError(`orgstream: POST tickets failed: ${(err as Error)?.message ?? err}`, 0, 'network', null);
  }
  const body = await answer(resp, 'POST tickets', 'ticket');
  if (typeof body.ticket !== 'string' || body.ticket === '') throw malformed('ticket');
  return body.ticket;
}

/** answer reads a JSON object answer of `what` (a request), throwing an HttpError for a refusal or a `kind` answer that is not an object. */
async function answer(resp: Response, what: string, kind: string): Promise<Record<string, unknown>> {
  const text = await resp.text();
  let body: Record<string, unknown> | null = null;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) body = v as Record<string, unknown>;
  } catch {
    // Not JSON: reported below.
  }
  if (!resp.ok) {
    const code = typeof body?.code === 'string' ? body.code : 'http_' + resp.status;
    const msg = typeof body?.error === 'string' ? body.error : text.slice(0, 200);
    throw new HttpError(`orgstream: ${what}: ${resp.status} ${code}: ${msg}`, resp.status, code, body);
  }
  if (body === null) throw malformed(kind);
  return body;
}

function malformed(what: string): HttpError {
  return new HttpError(`orgstream: malformed ${what} answer`, 200, 'malformed', null);
}
